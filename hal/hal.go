package hal

import (
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/objstore"
)

// Pump drives the insulin pump motor.
type Pump interface {
	// Deliver moves amount of insulin (amount > 0) and returns when the motor
	// has finished or failed. On error, anything from zero to amount may have
	// been delivered: the caller must account the full amount as delivered
	// (the safe side for PUMP-DAILY-MAX and PUMP-MAX-IOB) and treat the pump as
	// faulted.
	Deliver(amount units.CentiUnits) error
	// Stop halts the motor immediately. It is safe to call at any time.
	Stop() error
	// Reservoir reports the insulin left in the reservoir.
	Reservoir() (units.CentiUnits, error)
}

// Chamber is a heart chamber a pacer can pace or sense.
type Chamber uint8

// Chambers.
const (
	ChamberNone Chamber = iota
	ChamberAtrium
	ChamberVentricle
)

func (c Chamber) String() string {
	switch c {
	case ChamberAtrium:
		return "atrium"
	case ChamberVentricle:
		return "ventricle"
	}
	return "none"
}

// MilliVolts is a pacing pulse amplitude in mV (PACEMAKER spec: 0.5–7.0 V in
// 0.1 V or 0.5 V steps, so mV is exact).
type MilliVolts int32

// Microseconds is a pacing pulse width in µs (PACEMAKER spec: 0.05 ms, then
// 0.1–1.9 ms in 0.1 ms steps, so µs is exact).
type Microseconds int32

// Pacer delivers pacing pulses.
type Pacer interface {
	// Pace emits one pulse now. ErrLeadFault means the pulse may not have
	// captured; the kernel decides what follows.
	Pace(chamber Chamber, amplitude MilliVolts, width Microseconds) error
}

// GlucoseSensor reads the continuous glucose monitor.
type GlucoseSensor interface {
	// Read returns the newest reading and when the sensor measured it, on the
	// Clock's timeline. A stale sensor repeats an old measuredAt; judging
	// staleness is the kernel's job (PUMP-GLUCOSE-STALE), not the sensor's.
	Read() (reading units.MgDL, measuredAt units.Millis, err error)
}

// SenseEvent is an intrinsic beat detected in a chamber.
type SenseEvent struct {
	Chamber Chamber
	At      units.Millis
}

// CardiacSense reports sensed intrinsic cardiac events.
type CardiacSense interface {
	// Poll returns the events sensed since the previous Poll, oldest first.
	// ErrSensorDropout means events may have been missed.
	Poll() ([]SenseEvent, error)
}

// Radio is the implant's frame-oriented link (to the relay, via the patient's
// phone). Frames are unauthenticated bytes: integrity and authenticity are the
// wire layer's job, so a frame may arrive corrupted, twice, or out of order.
type Radio interface {
	// MaxFrame is the largest frame, in bytes, Send accepts and Recv returns.
	MaxFrame() int
	// Recv returns the next received frame without blocking, or a nil frame
	// and a nil error when none is waiting. Frames are never empty.
	Recv() ([]byte, error)
	// Send queues one frame of 1..MaxFrame bytes. A nil error does not mean
	// the peer received it.
	Send(frame []byte) error
}

// Clock is the implant's monotonic clock. A faulty oscillator can jump;
// detecting that is the caller's job.
type Clock interface {
	Now() units.Millis
}

// Storage is a minimal named-object store with an explicit crash contract
// (see objstore.Storage, where it is defined so that non-device code can use
// it without linking hal).
type Storage = objstore.Storage

// Watchdog resets the implant if the firmware loop stops kicking it.
type Watchdog interface {
	Kick() error
	// Expired reports that the watchdog fired since the last restart.
	Expired() bool
}

// Board bundles the devices of one implant. A device the implant does not have
// is nil (a pump-only implant has no Pacer or CardiacSense).
type Board struct {
	Pump     Pump
	Pacer    Pacer
	Glucose  GlucoseSensor
	Cardiac  CardiacSense
	Radio    Radio
	Clock    Clock
	Storage  Storage
	Watchdog Watchdog
}
