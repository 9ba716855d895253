package pacer

import (
	"errors"
	"fmt"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// PPM is a rate in pulses (or beats) per minute.
type PPM int32

// DeciVolts is a pulse amplitude in 0.1 V; 0 means Off.
type DeciVolts int16

// HundredthMs is a pulse width in 0.01 ms.
type HundredthMs int16

// CentiMillivolts is a sensing threshold in 0.01 mV.
type CentiMillivolts int16

// Chamber is a heart chamber.
type Chamber uint8

// Chambers. ChamberNone is the rate chamber of Off.
const (
	ChamberNone Chamber = iota
	ChamberAtrium
	ChamberVentricle
)

func (c Chamber) String() string {
	switch c {
	case ChamberAtrium:
		return "A"
	case ChamberVentricle:
		return "V"
	}
	return "-"
}

// PacingMode is the bradycardia pacing mode (PACEMAKER spec §3.5, NBG code:
// chamber paced, chamber sensed, response to sensing).
type PacingMode uint8

// Pacing modes.
const (
	ModeOff PacingMode = iota
	ModeAOO
	ModeVOO
	ModeDOO
	ModeAAI
	ModeVVI
	ModeDDD
	numPacingModes
)

var pacingModeNames = [numPacingModes]string{"Off", "AOO", "VOO", "DOO", "AAI", "VVI", "DDD"}

func (m PacingMode) String() string {
	if m < numPacingModes {
		return pacingModeNames[m]
	}
	return "invalid"
}

// PacesAtrium reports whether m paces the atrium.
func (m PacingMode) PacesAtrium() bool {
	return m == ModeAOO || m == ModeDOO || m == ModeAAI || m == ModeDDD
}

// PacesVentricle reports whether m paces the ventricle.
func (m PacingMode) PacesVentricle() bool {
	return m == ModeVOO || m == ModeDOO || m == ModeVVI || m == ModeDDD
}

// SensesAtrium reports whether m senses the atrium.
func (m PacingMode) SensesAtrium() bool { return m == ModeAAI || m == ModeDDD }

// SensesVentricle reports whether m senses the ventricle.
func (m PacingMode) SensesVentricle() bool { return m == ModeVVI || m == ModeDDD }

// Dual reports whether m paces both chambers with an AV delay.
func (m PacingMode) Dual() bool { return m == ModeDOO || m == ModeDDD }

// RateChamber is the chamber whose event-to-event interval the lower and
// upper rates govern: the ventricle whenever it is paced, else the atrium.
func (m PacingMode) RateChamber() Chamber {
	switch {
	case m.PacesVentricle():
		return ChamberVentricle
	case m.PacesAtrium():
		return ChamberAtrium
	}
	return ChamberNone
}

// Params are the programmable bradycardia parameters (PACEMAKER spec
// Table 7). Hysteresis and rate smoothing are Off in this kernel.
type Params struct {
	Mode      PacingMode
	LRL       PPM // lower rate limit
	URL       PPM // upper rate limit
	AVDelayMs units.Millis
	AAmp      DeciVolts
	VAmp      DeciVolts
	APulse    HundredthMs
	VPulse    HundredthMs
	ASens     CentiMillivolts
	VSens     CentiMillivolts
	VRPMs     units.Millis // ventricular refractory period
	ARPMs     units.Millis // atrial refractory period
	PVARPMs   units.Millis // post-ventricular atrial refractory period
}

// Limits are the patient-specific bounds a clinician sets (CmdSetLimits):
// no program with a lower rate below MinLRL or an upper rate above MaxURL is
// accepted. The relay holds them encrypted and compares each program's LRL
// and URL against them homomorphically; the kernel's exact check is the same
// comparison. PACE-PATIENT-LIMITS.
type Limits struct {
	MinLRL PPM // a Table 7 LRL value
	MaxURL PPM // a Table 7 URL value, above MinLRL
}

// FullLimits is the whole Table 7 rate range: the limits at power-on.
var FullLimits = Limits{MinLRL: 30, MaxURL: 175}

// Config is fixed when the pacemaker is built; no command changes it.
type Config struct {
	// VBlankMs: ventricular senses this soon after an atrial pace are
	// cross-talk and ignored. Not a Table 7 parameter; this kernel's choice.
	VBlankMs units.Millis
	// MaxCommandValidityMs is the longest expiry window a command may carry.
	MaxCommandValidityMs units.Millis
	// MaxTemporaryMs bounds a temporary program's duration.
	MaxTemporaryMs units.Millis
	// MaxSwitchMs is the longest switch-over blackout a firmware slot switch
	// may declare (PACE-UPDATE-SWITCH). It must be shorter than the shortest
	// lower-rate interval of Table 7 (LRL 175 ppm: 342 ms), so that some
	// moment of every cycle (right after an event in the rate chamber)
	// admits a switch.
	MaxSwitchMs units.Millis
}

// DefaultMaxSwitchMs: a switch jumps to the other slot's image, which
// restores the kernel state from retained memory and steps the kernel
// again; 250 ms bounds that on the target board and stays below the
// shortest Table 7 lower-rate interval (342 ms). Not a PACEMAKER spec
// parameter; this kernel's choice.
const DefaultMaxSwitchMs units.Millis = 250

// DefaultConfig is the production configuration.
func DefaultConfig() Config {
	return Config{VBlankMs: 40, MaxCommandValidityMs: 5 * units.Minute, MaxTemporaryMs: units.Day, MaxSwitchMs: DefaultMaxSwitchMs}
}

// ErrConfig reports a configuration the kernel cannot run with.
var ErrConfig = errors.New("pacer: invalid config")

// Validate reports whether the configuration is usable.
func (c *Config) Validate() error {
	switch {
	case c.VBlankMs < 0 || c.VBlankMs >= 150:
		return fmt.Errorf("%w: ventricular blanking must be in [0, 150) ms, shorter than the shortest VRP", ErrConfig)
	case c.MaxCommandValidityMs <= 0 || c.MaxTemporaryMs <= 0:
		return fmt.Errorf("%w: validity and temporary windows must be positive", ErrConfig)
	case c.MaxSwitchMs <= 0 || c.MaxSwitchMs >= LowerRateIntervalMs(175):
		return fmt.Errorf("%w: switch-over blackout must be in (0, 342) ms, shorter than the shortest lower-rate interval", ErrConfig)
	}
	return nil
}

// CommandKind is what a command asks for.
type CommandKind uint8

// Command kinds.
const (
	CmdNone             CommandKind = iota
	CmdProgram                      // new permanent parameters (needs a verdict)
	CmdProgramTemporary             // temporary parameters for DurationMs (needs a verdict)
	CmdEndTemporary                 // back to the permanent parameters
	CmdPaceNow                      // emergency: safe VVI at once
	CmdSetLimits                    // new patient limits (Command.Limits), in force at once
	numCommandKinds
)

var commandNames = [numCommandKinds]string{"none", "program", "program-temporary", "end-temporary", "pace-now", "set-limits"}

func (k CommandKind) String() string {
	if k < numCommandKinds {
		return commandNames[k]
	}
	return "invalid"
}

// Command is an authenticated, decrypted, decoded command.
type Command struct {
	Header     guard.Header
	Kind       CommandKind
	Verdict    guard.Verdict
	Params     Params
	DurationMs units.Millis // of a temporary program
	Limits     Limits       // of CmdSetLimits
}

// HALKind is a hardware event reported by the HAL.
type HALKind uint8

// HAL events.
const (
	HALNone HALKind = iota
	HALLeadFault
	HALWatchdog
	HALBatteryDepleted
	HALMagnetOn
	HALMagnetOff
	numHALKinds
)

var halNames = [numHALKinds]string{"none", "lead-fault", "watchdog", "battery-depleted", "magnet-on", "magnet-off"}

func (k HALKind) String() string {
	if k < numHALKinds {
		return halNames[k]
	}
	return "invalid"
}

// IsFault reports whether k drives the kernel to its safe state.
func (k HALKind) IsFault() bool {
	return k == HALLeadFault || k == HALWatchdog || k == HALBatteryDepleted
}

// InputKind tells which field of Input is meaningful.
type InputKind uint8

// Input kinds.
const (
	InTick InputKind = iota
	InSense
	InCommand
	InHAL
	// InSwitchRequest: the firmware asks whether it may switch to the staged
	// firmware slot now, with a switch-over blackout of at most SwitchMs
	// (PACE-UPDATE-SWITCH). The answer is one OutSwitch output.
	InSwitchRequest
)

// Input is one thing that happened, at monotonic time NowMs.
type Input struct {
	Kind    InputKind
	NowMs   units.Millis
	Chamber Chamber // of a sensed event
	Cmd     Command
	HAL     HALKind
	// SwitchMs is the switch-over blackout an InSwitchRequest declares: if
	// granted, the firmware steps the kernel again no later than
	// NowMs + SwitchMs, and paces nothing in between.
	SwitchMs units.Millis
}

// OutputKind tells what an Output asks of the firmware.
type OutputKind uint8

// Output kinds.
const (
	OutNone     OutputKind = iota
	OutPace                // deliver a pulse: Chamber, Amplitude, Width
	OutAlert               // raise an alert with Reason
	OutDecision            // log record of a command decision
	OutEvent               // log record of a sensed or HAL event (Reason says what was done)
	OutApplied             // log record: new parameters took effect
	// OutSwitch answers an InSwitchRequest: Accepted means switch now (after
	// delivering the Step's pulses); otherwise Reason says why not.
	// PACE-UPDATE-SWITCH.
	OutSwitch
)

// Output is one request from the kernel. The firmware persists the log
// records of a Step before it delivers its pulses.
type Output struct {
	Kind      OutputKind
	Chamber   Chamber
	Amplitude DeciVolts
	Width     HundredthMs
	Cmd       CommandKind
	HAL       HALKind
	Counter   uint64
	Accepted  bool
	Reason    reason.Code
}

// MaxOutputs bounds the outputs of one Step.
const MaxOutputs = 12

// Outputs is a fixed-capacity list, so Step does not allocate. WakeAtMs is
// when the kernel must next be stepped (a tick) if nothing else happens
// first; HaveWake is false when nothing is scheduled (pacing Off).
type Outputs struct {
	N        int
	Items    [MaxOutputs]Output
	WakeAtMs units.Millis
	HaveWake bool
}

func (o *Outputs) add(x Output) {
	// Capacity covers the worst Step (two timing passes of at most one pulse
	// per chamber, plus records). Should it ever overflow, an alert or a
	// pulse overwrites the last slot: a pace is never dropped for a log line.
	if o.N < MaxOutputs {
		o.Items[o.N] = x
		o.N++
		return
	}
	if x.Kind == OutAlert || x.Kind == OutPace {
		o.Items[MaxOutputs-1] = x
	}
}

// All returns the outputs in order.
func (o *Outputs) All() []Output { return o.Items[:o.N] }

// Paces counts the pulses the outputs ask for in chamber c.
func (o *Outputs) Paces(c Chamber) int {
	n := 0
	for i := 0; i < o.N; i++ {
		if o.Items[i].Kind == OutPace && o.Items[i].Chamber == c {
			n++
		}
	}
	return n
}
