package pump

import "github.com/looplab/fsm"

// LimitsInRange reports whether l may be programmed under cfg
// (PUMP-LIMITS-RANGE). Exposed for the controller's pre-flight checks.
func LimitsInRange(cfg *Config, l Limits) bool { return limitsInRange(cfg, l) }

// HaltedMode reports whether m delivers nothing (PUMP-HALT).
func HaltedMode(m Mode) bool { return m != ModeIdle && m != ModeDelivering }

// NumModes is the number of modes, for exhaustive checks.
const NumModes = int(numModes)

// ModeMachine returns a fresh looplab/fsm machine in mode m: the declared mode
// machine that Step's compiled table follows. For tests and documentation.
func ModeMachine(m Mode) *fsm.FSM { return modeMachine(m) }

// ModeEvents lists the mode machine's event names.
func ModeEvents() []string { return append([]string(nil), eventNames[:]...) }
