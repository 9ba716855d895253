package pump

import (
	"errors"
	"fmt"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// MaxBuckets bounds the accounting ring: a 24 h window in 5 min buckets, plus
// the current bucket.
const MaxBuckets = 24*12 + 1

// Config is fixed when the pump is built or provisioned; no command changes it.
type Config struct {
	Profile Profile
	// WindowMs is the rolling window of PUMP-DAILY-MAX (24 h).
	WindowMs units.Millis
	// BucketMs is the accounting granularity; totals are kept per bucket and
	// always rounded towards more insulin, never less.
	BucketMs units.Millis
	// InsulinActionMs is the duration of insulin action of the PUMP-MAX-IOB
	// curve (linear decay to zero), a multiple of BucketMs and ≤ WindowMs.
	InsulinActionMs units.Millis
	// GlucoseStaleMs: older glucose data stops delivery (oref0/Loop: 12–15 min).
	GlucoseStaleMs units.Millis
	// MaxCommandValidityMs: the longest expiry window a command may carry.
	MaxCommandValidityMs units.Millis
	// MinTempBasalMs, MaxTempBasalMs bound a temporary basal's duration.
	MinTempBasalMs units.Millis
	MaxTempBasalMs units.Millis
	// MaxSwitchMs is the longest switch-over blackout a firmware slot switch
	// may declare (PUMP-UPDATE-SWITCH). Within (0, GlucoseStaleMs]: a longer
	// blackout would always leave the pump with stale glucose data when it
	// resumes, an interruption of therapy rather than a short blackout.
	MaxSwitchMs units.Millis
}

// DefaultConfig is the production configuration for a profile.
func DefaultConfig(p Profile) Config {
	return Config{
		Profile:              p,
		WindowMs:             units.Day,
		BucketMs:             5 * units.Minute,
		InsulinActionMs:      5 * units.Hour,
		GlucoseStaleMs:       12 * units.Minute,
		MaxCommandValidityMs: 5 * units.Minute,
		MinTempBasalMs:       30 * units.Minute,
		MaxTempBasalMs:       units.Day,
		// A reboot into the other slot and the restore of the kernel state
		// take a few seconds on the target board; 30 s bounds it with room.
		MaxSwitchMs: 30 * units.Second,
	}
}

// ErrConfig reports a configuration the kernel cannot run with.
var ErrConfig = errors.New("pump: invalid config")

// Validate reports whether the configuration is usable.
func (c *Config) Validate() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrConfig, what) }
	switch {
	case c.Profile >= numProfiles:
		return bad("unknown profile")
	case c.BucketMs <= 0 || c.WindowMs <= 0 || c.WindowMs%c.BucketMs != 0:
		return bad("window must be a positive multiple of the bucket")
	case c.WindowMs/c.BucketMs+1 > MaxBuckets:
		return bad("window has too many buckets")
	case c.InsulinActionMs <= 0 || c.InsulinActionMs%c.BucketMs != 0 || c.InsulinActionMs > c.WindowMs:
		return bad("insulin action must be a positive multiple of the bucket within the window")
	case c.GlucoseStaleMs <= 0 || c.MaxCommandValidityMs <= 0:
		return bad("stale and validity windows must be positive")
	case c.MinTempBasalMs <= 0 || c.MaxTempBasalMs < c.MinTempBasalMs:
		return bad("temp basal duration range is empty")
	case c.MaxSwitchMs <= 0 || c.MaxSwitchMs > c.GlucoseStaleMs:
		return bad("switch-over blackout must be positive and within the glucose staleness window")
	}
	return nil
}

func (c *Config) ringLen() int64 { return int64(c.WindowMs/c.BucketMs) + 1 }

// CommandKind is what a command asks for.
type CommandKind uint8

// Command kinds.
const (
	CmdNone CommandKind = iota
	CmdBolus
	CmdSetBasal
	CmdTempBasal
	CmdCancelTempBasal
	CmdSuspend
	CmdResume
	CmdAckAlarm
	CmdProgramLimits
	numCommandKinds
)

var commandNames = [numCommandKinds]string{"none", "bolus", "set-basal", "temp-basal", "cancel-temp-basal", "suspend", "resume", "ack-alarm", "program-limits"}

func (k CommandKind) String() string {
	if k < numCommandKinds {
		return commandNames[k]
	}
	return "invalid"
}

// Command is an authenticated, decrypted, decoded command.
type Command struct {
	Header  guard.Header
	Kind    CommandKind
	Verdict guard.Verdict
	// Amount is the bolus size.
	Amount units.CentiUnits
	// Rate is the new scheduled or temporary basal rate.
	Rate units.CentiUnitsPerHour
	// DurationMs is a temporary basal's duration.
	DurationMs units.Millis
	// Limits are the limits to program.
	Limits Limits
}

// HALKind is a hardware event reported by the HAL.
type HALKind uint8

// HAL events.
const (
	HALNone         HALKind = iota
	HALDeliveryDone         // the bolus in progress finished
	HALOcclusion
	HALMotorFault
	HALReservoir // a reservoir reading
	HALWatchdog  // the watchdog expired
	numHALKinds
)

var halNames = [numHALKinds]string{"none", "delivery-done", "occlusion", "motor-fault", "reservoir", "watchdog"}

func (k HALKind) String() string {
	if k < numHALKinds {
		return halNames[k]
	}
	return "invalid"
}

// InputKind tells which field of Input is meaningful.
type InputKind uint8

// Input kinds.
const (
	InTick InputKind = iota
	InCommand
	InGlucose
	InHAL
	// InSwitchRequest: the firmware asks whether it may switch to the staged
	// firmware slot now, with a switch-over blackout of at most SwitchMs
	// (PUMP-UPDATE-SWITCH). The answer is one OutSwitch output.
	InSwitchRequest
)

// Input is one thing that happened, at monotonic time NowMs.
type Input struct {
	Kind  InputKind
	NowMs units.Millis
	Cmd   Command
	// Glucose and GlucoseAtMs: a sensor reading and when it was measured.
	Glucose     units.MgDL
	GlucoseAtMs units.Millis
	HAL         HALKind
	// ReservoirCU is the reservoir level of a HALReservoir event.
	ReservoirCU units.CentiUnits
	// SwitchMs is the switch-over blackout an InSwitchRequest declares: the
	// longest time the kernel will not be stepped if the switch is granted.
	SwitchMs units.Millis
}

// OutputKind tells what an Output asks of the firmware.
type OutputKind uint8

// Output kinds.
const (
	OutNone     OutputKind = iota
	OutActuate             // deliver Amount (Actuation says bolus or basal)
	OutStop                // stop the motor now
	OutAlert               // raise an alert with Reason
	OutDecision            // log record of a command decision
	OutEvent               // log record of a sensor or HAL event
	// OutSwitch answers an InSwitchRequest, always the last output of its
	// Step: Accepted means switch now (after carrying out the Step's other
	// outputs); otherwise Reason says why not. PUMP-UPDATE-SWITCH.
	OutSwitch
)

// ActuationKind is what an OutActuate delivers.
type ActuationKind uint8

// Actuations.
const (
	ActNone ActuationKind = iota
	ActBolus
	ActBasal
)

// Output is one request from the kernel. The firmware persists the log
// records of a Step before it carries out its actuations.
type Output struct {
	Kind      OutputKind
	Actuation ActuationKind
	Amount    units.CentiUnits
	Cmd       CommandKind
	HAL       HALKind
	Counter   uint64
	Accepted  bool
	Reason    reason.Code
}

// MaxOutputs bounds the outputs of one Step.
const MaxOutputs = 8

// Outputs is a fixed-capacity list, so Step does not allocate.
type Outputs struct {
	N     int
	Items [MaxOutputs]Output
}

func (o *Outputs) add(x Output) {
	// Capacity is sized for the worst Step (see TestOutputsNeverOverflow); if
	// it were ever exceeded, dropping an actuation is the safe side and an
	// alert is kept by overwriting the last slot.
	if o.N < MaxOutputs {
		o.Items[o.N] = x
		o.N++
		return
	}
	if x.Kind == OutAlert || x.Kind == OutStop {
		o.Items[MaxOutputs-1] = x
	}
}

// All returns the outputs in order.
func (o *Outputs) All() []Output { return o.Items[:o.N] }

// Delivered is the total insulin the outputs ask to deliver.
func (o Outputs) Delivered() units.CentiUnits {
	var t units.CentiUnits
	for i := 0; i < o.N; i++ {
		if o.Items[i].Kind == OutActuate {
			t += o.Items[i].Amount
		}
	}
	return t
}
