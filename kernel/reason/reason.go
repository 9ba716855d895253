// Package reason enumerates the typed reasons a kernel gives for each
// decision. A reason is a small integer so that decisions stay allocation-free;
// String gives its stable name for logs and reports.
package reason

// Code is why a kernel accepted or refused an input, or raised an alert.
type Code uint8

// Reasons shared by every kernel. Values are part of the log format: append
// new codes, never renumber.
const (
	OK Code = iota
	Unauthenticated
	WrongRole
	Replay
	Expired
	NotYetValid
	ValidityTooLong
	NoVerdict
	VerdictMismatch // CMD-VERDICT: the relay's verdict disagrees with the exact check
	OverLimit       // exact check and verdict agree: outside limits
	ModeForbids
	ParamOutOfRange
	UnknownCommand
	ClockWentBack
	StateCorrupt
	Watchdog
	MotorFault
	Occlusion
	ReservoirEmpty
	ReservoirLow
	BolusOverMax
	BolusTooSoon
	IOBOverMax
	DailyOverMax
	BasalOverMax
	GlucoseLow
	GlucoseStale
	BasalWithheld
	AlarmActive
	Suspended
	Faulted
	InvalidReading
	SlotSwitchUnsafe
	// Pacer reasons start here; see kernel/pacer.
	PacerParamNotProgrammable
	PacerCrossParam
	PacerFault
	PacerUnsafePoint
	PacerRefractory // PACE-REFRACTORY: a sense inside a refractory or blanking period, ignored
	// PACE-PATIENT-LIMITS: new patient limits refused because a stored
	// program (permanent, temporary or pending) lies outside them.
	PacerLimitsExcludeCurrent
	// Answers to a firmware slot-switch request (PUMP-UPDATE-SWITCH,
	// PACE-UPDATE-SWITCH); a refusal may also be Faulted, StateCorrupt or
	// ClockWentBack.
	SwitchBolusInProgress    // pump: a bolus is running; the switch would cut it short
	SwitchEscapeDeadline     // pacer: the blackout would end after the lower-rate deadline
	SwitchDurationOutOfRange // the declared blackout is not in (0, MaxSwitchMs]
	SwitchPacingOff          // pacer: pacing is Off, so no escape interval bounds the blackout
	// CMD-COUNTER-STEP: the counter is above the last one by more than
	// guard.MaxCounterStep; refused without consuming it.
	CounterJump
	numCodes
)

var names = [numCodes]string{
	OK:                        "ok",
	Unauthenticated:           "unauthenticated",
	WrongRole:                 "wrong-role",
	Replay:                    "replay",
	Expired:                   "expired",
	NotYetValid:               "not-yet-valid",
	ValidityTooLong:           "validity-too-long",
	NoVerdict:                 "no-verdict",
	VerdictMismatch:           "verdict-mismatch",
	OverLimit:                 "over-limit",
	ModeForbids:               "mode-forbids",
	ParamOutOfRange:           "param-out-of-range",
	UnknownCommand:            "unknown-command",
	ClockWentBack:             "clock-went-back",
	StateCorrupt:              "state-corrupt",
	Watchdog:                  "watchdog",
	MotorFault:                "motor-fault",
	Occlusion:                 "occlusion",
	ReservoirEmpty:            "reservoir-empty",
	ReservoirLow:              "reservoir-low",
	BolusOverMax:              "bolus-over-max",
	BolusTooSoon:              "bolus-too-soon",
	IOBOverMax:                "iob-over-max",
	DailyOverMax:              "daily-over-max",
	BasalOverMax:              "basal-over-max",
	GlucoseLow:                "glucose-low",
	GlucoseStale:              "glucose-stale",
	BasalWithheld:             "basal-withheld",
	AlarmActive:               "alarm-active",
	Suspended:                 "suspended",
	Faulted:                   "faulted",
	InvalidReading:            "invalid-reading",
	SlotSwitchUnsafe:          "slot-switch-unsafe",
	PacerParamNotProgrammable: "pacer-param-not-programmable",
	PacerCrossParam:           "pacer-cross-param",
	PacerFault:                "pacer-fault",
	PacerUnsafePoint:          "pacer-unsafe-point",
	PacerRefractory:           "pacer-refractory",
	PacerLimitsExcludeCurrent: "pacer-limits-exclude-current",
	SwitchBolusInProgress:     "switch-bolus-in-progress",
	SwitchEscapeDeadline:      "switch-escape-deadline",
	SwitchDurationOutOfRange:  "switch-duration-out-of-range",
	SwitchPacingOff:           "switch-pacing-off",
	CounterJump:               "counter-jump",
}

// String returns the reason's stable name.
func (c Code) String() string {
	if c < numCodes && names[c] != "" {
		return names[c]
	}
	return "unknown-reason"
}
