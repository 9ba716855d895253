package pump

import (
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// msPerHour converts a rate×duration product (0.01 U/h × ms) to 0.01 U.
const msPerHour = int64(units.Hour)

// State is everything the kernel remembers. It is a plain value: copying it
// copies the pump.
type State struct {
	Mode   Mode
	Limits Limits
	Guard  guard.State
	NowMs  units.Millis

	HaveGlucose bool
	Glucose     units.MgDL
	GlucoseAtMs units.Millis

	TempActive    bool
	TempRate      units.CentiUnitsPerHour
	TempUntilMs   units.Millis
	BasalAccum    int64 // undelivered basal, 0.01 U × ms/h, in [0, msPerHour)
	LastWithheld  reason.Code
	HaveBolus     bool
	LastBolusAtMs units.Millis

	ReservoirCU units.CentiUnits

	// Ring holds the insulin delivered per bucket; Epoch is the absolute
	// index (NowMs / BucketMs) of the current bucket.
	Epoch int64
	Ring  [MaxBuckets]units.CentiUnits
}

// NewState is a pump that has just powered on: nothing programmed, nothing
// delivered, an empty reservoir until the HAL reports one.
func NewState() State { return State{Mode: ModeInit} }

// valid is the FAULT-SAFE corruption check run at the top of every Step: any
// state the kernel itself could never produce drives it to Fault.
func (s *State) valid(cfg *Config) bool {
	if cfg.Profile >= numProfiles || cfg.BucketMs <= 0 || cfg.ringLen() > MaxBuckets {
		return false
	}
	if s.Mode >= numModes || s.ReservoirCU < 0 || s.BasalAccum < 0 || s.BasalAccum >= msPerHour {
		return false
	}
	if s.Mode != ModeInit && s.Mode != ModeFault && !limitsInRange(cfg, s.Limits) {
		return false
	}
	if s.TempActive && (s.TempRate < 0 || s.TempRate > tempBasalCap(cfg, s.Limits)) {
		return false
	}
	if s.Epoch != int64(s.NowMs/cfg.BucketMs) {
		return false
	}
	for i := range s.Ring {
		if s.Ring[i] < 0 {
			return false
		}
	}
	return true
}

// advanceTo moves time forward, retiring buckets that left the window.
func (s *State) advanceTo(cfg *Config, now units.Millis) {
	b := int64(now / cfg.BucketMs)
	n := cfg.ringLen()
	steps := b - s.Epoch
	if steps > n {
		steps = n
	}
	for k := int64(1); k <= steps; k++ {
		s.Ring[(b-steps+k)%n] = 0
	}
	s.Epoch = b
	s.NowMs = now
}

// windowTotal is the insulin delivered in the rolling window. It sums every
// bucket that overlaps (now − window, now], so it never counts less than the
// exact total. PUMP-DAILY-MAX.
func (s *State) windowTotal(cfg *Config) units.CentiUnits {
	var t units.CentiUnits
	n := cfg.ringLen()
	for i := int64(0); i < n; i++ {
		if plantedWindowBug && i == (s.Epoch+1)%n {
			continue // the planted off-by-one: forgets the oldest bucket
		}
		t += s.Ring[i]
	}
	return t
}

// insulinOnBoard follows a linear insulin-action curve: a dose d delivered
// age ms ago still acts with d × (DIA − age) / DIA for age < DIA, 0 after.
// Bucketed, a dose in the bucket i buckets back is at least (i − 1) buckets
// old, so it is counted with weight (D − i + 1) / D (1 for the current
// bucket), rounded up: never less than the exact curve. PUMP-MAX-IOB.
func (s *State) insulinOnBoard(cfg *Config) units.CentiUnits {
	d := int64(cfg.InsulinActionMs / cfg.BucketMs)
	n := cfg.ringLen()
	var iob int64
	for i := int64(0); i <= d && i < n && i <= s.Epoch; i++ {
		amt := int64(s.Ring[(s.Epoch-i)%n])
		if amt == 0 {
			continue
		}
		w := d - i + 1
		if w > d {
			w = d
		}
		iob += (amt*w + d - 1) / d
	}
	return units.CentiUnits(iob)
}

// glucoseGate is the PUMP-GLUCOSE-GATE check: no insulin beyond zero basal
// without a fresh glucose reading at or above the suspend threshold.
func (s *State) glucoseGate(cfg *Config) reason.Code {
	if !s.HaveGlucose || s.NowMs-s.GlucoseAtMs > cfg.GlucoseStaleMs {
		return reason.GlucoseStale
	}
	if s.Glucose < s.Limits.SuspendBelow {
		return reason.GlucoseLow
	}
	return reason.OK
}

// deliveryAllowed gathers every rule a delivery of amount must pass, whatever
// asked for it (bolus or basal). It returns the first rule that refuses.
func (s *State) deliveryAllowed(cfg *Config, amount units.CentiUnits) reason.Code {
	// PUMP-HALT: nothing is delivered while not running.
	switch s.Mode {
	case ModeIdle, ModeDelivering:
	case ModeSuspended:
		return reason.Suspended
	case ModeAlarm:
		return reason.AlarmActive
	case ModeFault:
		return reason.Faulted
	default:
		return reason.ModeForbids
	}
	if c := s.glucoseGate(cfg); c != reason.OK {
		return c
	}
	// PUMP-RESERVOIR: delivered never exceeds what the reservoir holds.
	if amount > s.ReservoirCU {
		return reason.ReservoirEmpty
	}
	// PUMP-MAX-IOB.
	if s.insulinOnBoard(cfg)+amount > s.Limits.MaxIOB {
		return reason.IOBOverMax
	}
	// PUMP-DAILY-MAX.
	if s.windowTotal(cfg)+amount > s.Limits.MaxDaily {
		return reason.DailyOverMax
	}
	return reason.OK
}

// record books a delivery against the reservoir and the accounting ring.
func (s *State) record(cfg *Config, amount units.CentiUnits) {
	s.ReservoirCU -= amount
	s.Ring[s.Epoch%cfg.ringLen()] += amount
}

// bolusSpacing is the PUMP-BOLUS-INTERVAL check.
func (s *State) bolusSpacing() reason.Code {
	if s.HaveBolus && s.NowMs-s.LastBolusAtMs < s.Limits.MinBolusInterval {
		return reason.BolusTooSoon
	}
	return reason.OK
}

// BasalRate is the basal rate in force at the current time (PUMP-MAX-BASAL).
func (s *State) BasalRate() units.CentiUnitsPerHour {
	if s.TempActive && s.NowMs < s.TempUntilMs {
		return s.TempRate
	}
	return s.Limits.ScheduledBasal
}

// WindowTotal and InsulinOnBoard expose the kernel's own (conservative)
// accounting to tests and the model checker.
func (s *State) WindowTotal(cfg *Config) units.CentiUnits { return s.windowTotal(cfg) }

// InsulinOnBoard is the kernel's conservative insulin on board.
func (s *State) InsulinOnBoard(cfg *Config) units.CentiUnits { return s.insulinOnBoard(cfg) }
