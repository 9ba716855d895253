package firmware

import (
	"fmt"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/wire"
)

// TelemetryBatch is how many readings one telemetry envelope carries.
const TelemetryBatch = fhe.TelemetryWindow

// record remembers a glucose reading for the next telemetry batch.
func (im *Implant) remember(v int64) {
	v = min(max(v, fhe.GlucoseMgPerDL.Min), fhe.GlucoseMgPerDL.Max)
	im.readings = append(im.readings, v)
	if len(im.readings) > TelemetryBatch {
		im.readings = im.readings[len(im.readings)-TelemetryBatch:]
	}
}

// Telemetry encrypts the recent glucose readings under the clinic's key
// (pk_C) for the relay's homomorphic low-glucose alert, and signs the
// envelope with the implant key. The implant cannot read the result; the
// relay cannot read the readings.
func (im *Implant) Telemetry() ([]byte, error) {
	if im.keys.Clinic == nil {
		return nil, fmt.Errorf("firmware: no clinic key for telemetry")
	}
	if len(im.readings) == 0 {
		return nil, fmt.Errorf("firmware: no readings to send")
	}
	ct, err := im.keys.Clinic.EncryptAlertInput(fhe.GlucoseMgPerDL, fhe.Below, 0, im.readings)
	if err != nil {
		return nil, fmt.Errorf("firmware: telemetry: %w", err)
	}
	body, err := ct.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return im.seal(wire.KindTelemetry, uint8(len(im.readings)), body)
}
