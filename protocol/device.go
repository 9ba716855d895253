package protocol

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/implantfhe/implantfhe/fhe"
)

// DeviceKind is what kind of implant a device is. Its command schemas come
// with it: there is no default kind.
type DeviceKind uint8

// Device kinds (their values are part of device.json and of the log).
const (
	KindUnknown DeviceKind = iota
	KindPump
	KindPacer
)

// ErrDeviceKind: a device kind that is not one of the above.
var ErrDeviceKind = errors.New("protocol: unknown device kind")

var kindNames = map[DeviceKind]string{KindPump: "pump", KindPacer: "pacer"}

func (k DeviceKind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("device-kind(%d)", uint8(k))
}

// ParseDeviceKind reads "pump" or "pacer".
func ParseDeviceKind(s string) (DeviceKind, error) {
	for k, n := range kindNames {
		if n == s {
			return k, nil
		}
	}
	return KindUnknown, fmt.Errorf("%w: %q", ErrDeviceKind, s)
}

// MarshalJSON writes the kind's name.
func (k DeviceKind) MarshalJSON() ([]byte, error) {
	if _, ok := kindNames[k]; !ok {
		return nil, fmt.Errorf("%w: %d", ErrDeviceKind, uint8(k))
	}
	return json.Marshal(k.String())
}

// UnmarshalJSON reads the kind's name; anything else is an error.
func (k *DeviceKind) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: %s", ErrDeviceKind, b)
	}
	v, err := ParseDeviceKind(s)
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Subkind is a command kind byte (wire.Header.Subkind) of one device kind.
type Subkind = uint8

// Pump command subkinds: kernel/pump.CommandKind by value.
const (
	PumpBolus           Subkind = 1
	PumpSetBasal        Subkind = 2
	PumpTempBasal       Subkind = 3
	PumpCancelTempBasal Subkind = 4
	PumpSuspend         Subkind = 5
	PumpResume          Subkind = 6
	PumpAckAlarm        Subkind = 7
	PumpProgramLimits   Subkind = 8
)

// Pacemaker command subkinds: kernel/pacer.CommandKind by value.
const (
	PacerProgram          Subkind = 1
	PacerProgramTemporary Subkind = 2
	PacerEndTemporary     Subkind = 3
	PacerPaceNow          Subkind = 4
	PacerSetLimits        Subkind = 5
)

// LimitsFlag marks a clinician envelope that carries encrypted limits for
// the relay: Subkind = LimitsFlag | the command subkind they bound. The
// implant never receives one.
const LimitsFlag Subkind = 0x80

// Command describes one command subkind of a device kind.
type Command struct {
	Sub  Subkind
	Name string
	// Schema lists the values compared homomorphically with the patient's
	// encrypted limits, in order; nil for a command that carries no value.
	Schema fhe.Schema
	// Units names the unit of each value for people (same order).
	Units []string
	// Radio: the implant accepts it over the radio in this version.
	Radio bool
}

var pumpCommands = []Command{
	{Sub: PumpBolus, Name: "bolus", Radio: true, Units: []string{"0.01 U"},
		Schema: fhe.Schema{{Quantity: fhe.BolusCentiUnits, Relation: fhe.AtMost}}},
	{Sub: PumpSetBasal, Name: "set-basal", Radio: true, Units: []string{"0.01 U/h"},
		Schema: fhe.Schema{{Quantity: fhe.BasalCentiUnitsPerHour, Relation: fhe.AtMost}}},
	{Sub: PumpTempBasal, Name: "temp-basal"},
	{Sub: PumpCancelTempBasal, Name: "cancel-temp-basal", Radio: true},
	{Sub: PumpSuspend, Name: "suspend", Radio: true},
	{Sub: PumpResume, Name: "resume", Radio: true},
	{Sub: PumpAckAlarm, Name: "ack-alarm", Radio: true},
	{Sub: PumpProgramLimits, Name: "program-limits"},
}

var pacerCommands = []Command{
	{Sub: PacerProgram, Name: "program", Radio: true, Units: []string{"ppm", "ppm"},
		Schema: fhe.Schema{{Quantity: fhe.PacingRatePPM, Relation: fhe.AtLeast}, {Quantity: fhe.PacingRatePPM, Relation: fhe.AtMost}}},
	{Sub: PacerProgramTemporary, Name: "program-temporary"},
	{Sub: PacerEndTemporary, Name: "end-temporary", Radio: true},
	{Sub: PacerPaceNow, Name: "pace-now", Radio: true},
	{Sub: PacerSetLimits, Name: "set-limits"},
}

// Commands lists a device kind's command subkinds.
func (k DeviceKind) Commands() []Command {
	switch k {
	case KindPump:
		return pumpCommands
	case KindPacer:
		return pacerCommands
	}
	return nil
}

// Command looks up a subkind of this device kind.
func (k DeviceKind) Command(sub Subkind) (Command, bool) {
	for _, c := range k.Commands() {
		if c.Sub == sub {
			return c, true
		}
	}
	return Command{}, false
}

// CommandNamed looks up a command by name.
func (k DeviceKind) CommandNamed(name string) (Command, bool) {
	for _, c := range k.Commands() {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// Schema gives the homomorphically compared values of a subkind, or false
// if it carries none (or is not a command of this kind).
func (k DeviceKind) Schema(sub Subkind) (fhe.Schema, bool) {
	c, ok := k.Command(sub)
	if !ok || c.Schema == nil {
		return nil, false
	}
	return c.Schema, true
}

// SubkindName names a subkind of this device kind for messages.
func (k DeviceKind) SubkindName(sub Subkind) string {
	if c, ok := k.Command(sub); ok {
		return c.Name
	}
	return fmt.Sprintf("subkind(%d)", sub)
}
