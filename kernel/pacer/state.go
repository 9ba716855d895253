package pacer

import (
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// State is everything the kernel remembers. It is a plain value: copying it
// copies the pacemaker.
type State struct {
	Op     Op
	Perm   Params // the permanent program
	Temp   Params // the temporary program, meaningful in OpTemporary
	Active Params // the parameters in force; always activeFor(Op)

	// Limits are the patient's limits: every stored program (Perm, Temp
	// while temporary, Pending) lies within them. PACE-PATIENT-LIMITS.
	Limits Limits

	TempUntilMs units.Millis

	// A programming command is accepted at once but takes effect only at the
	// next safe point (PACE-SAFE-POINT); until then it waits here.
	HavePending       bool
	Pending           Params
	PendingEv         Event // evProgram, evTemporary or evEndTemporary
	PendingDurationMs units.Millis

	Guard guard.State
	NowMs units.Millis

	// Timing anchors: the last ventricular and atrial events (paced, or
	// sensed outside every refractory period), and the last atrial pace
	// (ventricular blanking).
	LastVMs     units.Millis
	LastAMs     units.Millis
	LastAPaceMs units.Millis
	HaveAPace   bool
	// AVPending: dual chamber, an atrial event started the AV delay and the
	// ventricular event that ends it has not happened yet.
	AVPending bool
}

// NewState is a pacemaker that has just powered on: Power-On Reset, safe
// VVI 65 (PACEMAKER spec §3.6), nominal permanent program, the first cycle
// starting now, the full Table 7 rate range as patient limits.
func NewState() State {
	return State{Op: OpPowerOnReset, Perm: Nominal, Active: SafePowerOnReset, Limits: FullLimits}
}

// activeFor is the parameter set each operating state runs.
func (s *State) activeFor(o Op) Params {
	switch o {
	case OpPermanent:
		return s.Perm
	case OpTemporary:
		return s.Temp
	case OpPaceNow:
		return SafePaceNow
	case OpMagnet:
		return magnetParams(s.Perm)
	}
	// Power-On Reset and Fault run the safe VVI 65 setting. PACE-FAULT-SAFE.
	return SafePowerOnReset
}

// valid is the corruption check run at the top of every Step: a state the
// kernel itself could never produce drives it to Fault. PACE-FAULT-SAFE.
func (s *State) valid(cfg *Config) bool {
	if cfg.VBlankMs < 0 || cfg.VBlankMs >= 150 || cfg.MaxCommandValidityMs <= 0 || cfg.MaxTemporaryMs <= 0 {
		return false
	}
	if s.Op >= numOps || s.Active != s.activeFor(s.Op) {
		return false
	}
	// PACE-PARAM-PROGRAMMABLE, PACE-CROSS-PARAM hold of every stored program.
	if paramsCheck(s.Perm) != 0 || paramsCheck(s.Active) != 0 {
		return false
	}
	if s.HavePending {
		if paramsCheck(s.Pending) != 0 || (s.PendingEv != evProgram && s.PendingEv != evTemporary && s.PendingEv != evEndTemporary) {
			return false
		}
		if s.PendingEv == evTemporary && (s.PendingDurationMs <= 0 || s.PendingDurationMs > cfg.MaxTemporaryMs) {
			return false
		}
	}
	// PACE-PATIENT-LIMITS: valid limits that every stored program lies within.
	if limitsCheck(s.Limits) != reason.OK || !s.storedWithin(s.Limits) {
		return false
	}
	if s.NowMs < 0 || s.LastVMs < 0 || s.LastAMs < 0 || s.LastAPaceMs < 0 ||
		s.LastVMs > s.NowMs || s.LastAMs > s.NowMs || s.LastAPaceMs > s.NowMs {
		return false
	}
	return !s.AVPending || s.Active.Mode.Dual()
}

// withinLimits is the relay's homomorphic comparison, computed exactly: the
// program's LRL is not below the patient's minimum and its URL not above the
// patient's maximum. PACE-PATIENT-LIMITS.
func withinLimits(p *Params, l Limits) bool {
	return p.LRL >= l.MinLRL && p.URL <= l.MaxURL
}

// storedWithin reports whether every stored program lies within l: the
// permanent program, the temporary one while it runs, and a pending one.
// PACE-PATIENT-LIMITS.
func (s *State) storedWithin(l Limits) bool {
	return withinLimits(&s.Perm, l) &&
		(s.Op != OpTemporary || withinLimits(&s.Temp, l)) &&
		(!s.HavePending || withinLimits(&s.Pending, l))
}

// escapeDeadline is the lower-rate deadline of the rate chamber: its last
// event plus the lower-rate interval in force, the latest time its next
// event may come (PACE-LRL). None with pacing Off. The due times below
// never pass it; a granted slot switch must end by it (PACE-UPDATE-SWITCH).
func (s *State) escapeDeadline() (units.Millis, bool) {
	switch s.Active.Mode.RateChamber() {
	case ChamberVentricle:
		return s.LastVMs + LowerRateIntervalMs(s.Active.LRL), true
	case ChamberAtrium:
		return s.LastAMs + LowerRateIntervalMs(s.Active.LRL), true
	}
	return 0, false
}

// atrialDue is when the next atrial pace is due, if one is scheduled.
func (s *State) atrialDue() (units.Millis, bool) {
	p := &s.Active
	switch p.Mode {
	case ModeAOO, ModeAAI:
		return s.escapeDeadline() // PACE-LRL: the atrium is the rate chamber
	case ModeDOO, ModeDDD:
		if !s.AVPending {
			// Ventricular-based timing: the atrial escape leaves exactly the
			// AV delay before the lower-rate deadline. PACE-AV-DELAY.
			return s.LastVMs + LowerRateIntervalMs(p.LRL) - p.AVDelayMs, true
		}
	}
	return 0, false
}

// ventricularDue is when the next ventricular pace is due, if one is.
func (s *State) ventricularDue() (units.Millis, bool) {
	p := &s.Active
	lrlDeadline, _ := s.escapeDeadline() // PACE-LRL
	switch p.Mode {
	case ModeVOO, ModeVVI:
		return lrlDeadline, true
	case ModeDOO, ModeDDD:
		if !s.AVPending {
			return 0, false
		}
		// The AV delay ends the cycle (PACE-AV-DELAY), but never after the
		// lower-rate deadline (PACE-LRL) nor before the upper-rate interval
		// since the last ventricular event (PACE-URL: upper-rate tracking).
		due := min(s.LastAMs+p.AVDelayMs, lrlDeadline)
		return max(due, s.LastVMs+UpperRateIntervalMs(p.URL)-plantedURLSlackMs), true // PACE-URL
	}
	return 0, false
}
