// Package controller is the clinician side of the command path: it turns a
// therapy command into a signed command envelope whose numeric parameters
// are encrypted under the implant's CKKS key and committed to with the
// clinician–implant binding key, and it encrypts the patient's limits for
// the relay. It checks that every acknowledgement it is handed answers the
// command it sent, and opens the acknowledgement's sealed part. It never
// sees the implant's secret key and links no implant code.
package controller

import (
	"fmt"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/wire"
)

// Controller holds the clinician's keys for one implant.
type Controller struct {
	DeviceID string
	Kind     protocol.DeviceKind
	Signer   *wire.SigningKey // clinician key
	Implant  *fhe.PublicKey   // pk_I
	BindKey  []byte
	// ValidityMs is how long a command stays valid (≤ the implant's maximum).
	ValidityMs int64
}

// DefaultValidityMs is how long a command stays valid by default.
const DefaultValidityMs = 60_000

// New is the controller of a loaded clinic directory.
func New(k *protocol.ClinicKeys) *Controller {
	return &Controller{DeviceID: k.Device.ID, Kind: k.Device.Kind, Signer: k.Signer, Implant: k.Implant,
		BindKey: k.BindKey, ValidityMs: DefaultValidityMs}
}

// Command builds a signed command envelope of a subkind of the device's
// kind. now is the implant's time as the controller knows it (from its
// last signed status).
func (c *Controller) Command(sub protocol.Subkind, counter uint64, now units.Millis, values ...int64) (*wire.Envelope, error) {
	spec, ok := c.Kind.Command(sub)
	if !ok {
		return nil, fmt.Errorf("controller: %s has no command %d", c.Kind, sub)
	}
	if now > units.Millis(int64(^uint64(0)>>1)-c.ValidityMs) || c.ValidityMs <= 0 {
		return nil, fmt.Errorf("controller: validity window [%d, +%d ms) does not fit", now, c.ValidityMs)
	}
	h := wire.Header{Kind: wire.KindCommand, DeviceID: c.DeviceID, Counter: counter, IssuedAtMs: int64(now),
		ExpiresAtMs: int64(now) + c.ValidityMs, Subkind: sub}
	var body []byte
	if spec.Schema != nil {
		if len(values) != len(spec.Schema) {
			return nil, fmt.Errorf("controller: %s takes %d values, got %d", spec.Name, len(spec.Schema), len(values))
		}
		ct, err := c.Implant.EncryptCommand(spec.Schema, values)
		if err != nil {
			return nil, fmt.Errorf("controller: encrypt %s: %w", spec.Name, err)
		}
		if body, err = ct.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("controller: %w", err)
		}
	} else if len(values) != 0 {
		return nil, fmt.Errorf("controller: %s takes no values", spec.Name)
	}
	h.Bind = wire.CommitValues(c.BindKey, c.DeviceID, counter, sub, values)
	return wire.Seal(h, body, c.Signer)
}

// EncryptLimits encrypts the limits a command subkind is compared against.
func (c *Controller) EncryptLimits(sub protocol.Subkind, limits ...int64) ([]byte, error) {
	schema, ok := c.Kind.Schema(sub)
	if !ok {
		return nil, fmt.Errorf("controller: %s %s has no compared limits", c.Kind, c.Kind.SubkindName(sub))
	}
	ct, err := c.Implant.EncryptLimits(schema, limits)
	if err != nil {
		return nil, fmt.Errorf("controller: encrypt limits: %w", err)
	}
	return ct.MarshalBinary()
}

// LimitsEnvelope is a clinician-signed envelope carrying the encrypted
// limits of one subkind for the relay.
func (c *Controller) LimitsEnvelope(sub protocol.Subkind, counter uint64, now units.Millis, ct []byte) (*wire.Envelope, error) {
	return wire.Seal(wire.Header{Kind: wire.KindCommand, DeviceID: c.DeviceID, Counter: counter, IssuedAtMs: int64(now),
		ExpiresAtMs: int64(now) + c.ValidityMs, Subkind: protocol.LimitsFlag | sub}, ct, c.Signer)
}
