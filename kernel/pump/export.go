package pump

// LimitsInRange reports whether l may be programmed under cfg
// (PUMP-LIMITS-RANGE). Exposed for the controller's pre-flight checks.
func LimitsInRange(cfg *Config, l Limits) bool { return limitsInRange(cfg, l) }

// HaltedMode reports whether m delivers nothing (PUMP-HALT).
func HaltedMode(m Mode) bool { return m != ModeIdle && m != ModeDelivering }

// NumModes is the number of modes, for exhaustive checks.
const NumModes = int(numModes)
