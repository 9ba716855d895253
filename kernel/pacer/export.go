package pacer

import (
	"github.com/looplab/fsm"

	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// ParamsCheck is the kernel's exact check of a program: OK, or
// PacerParamNotProgrammable (PACE-PARAM-PROGRAMMABLE), or PacerCrossParam
// (PACE-CROSS-PARAM). Exposed for the controller's pre-flight checks.
func ParamsCheck(p Params) reason.Code { return paramsCheck(p) }

// MagnetParams is the setting a magnet puts in force over permanent p.
func MagnetParams(p Params) Params { return magnetParams(p) }

// NumOps is the number of operating states, for exhaustive checks.
const NumOps = int(numOps)

// OpMachine returns a fresh looplab/fsm machine in state o: the declared
// machine that Step's compiled table follows. For tests and documentation.
func OpMachine(o Op) *fsm.FSM { return opMachine(o) }

// OpEvents lists the operating-state machine's event names.
func OpEvents() []string { return append([]string(nil), eventNames[:]...) }

// Due reports the next atrial and ventricular pace times the state schedules.
func (s *State) Due() (atrial units.Millis, haveA bool, ventricular units.Millis, haveV bool) {
	atrial, haveA = s.atrialDue()
	ventricular, haveV = s.ventricularDue()
	if s.Active.Mode == ModeOff {
		haveA, haveV = false, false
	}
	return
}

// EscapeDeadline reports the lower-rate deadline of the rate chamber: its
// last event plus the lower-rate interval in force, the latest time at
// which a slot switch granted now may end (PACE-UPDATE-SWITCH). None with
// pacing Off.
func (s *State) EscapeDeadline() (units.Millis, bool) { return s.escapeDeadline() }

// EvTemporary is the pending event of a temporary program (State.PendingEv).
const EvTemporary = evTemporary

// LimitsCheck is the range check of patient limits that CmdSetLimits runs
// before the stored programs are compared with them: OK, or
// PacerParamNotProgrammable, or PacerCrossParam. PACE-PATIENT-LIMITS.
func LimitsCheck(l Limits) reason.Code { return limitsCheck(l) }
