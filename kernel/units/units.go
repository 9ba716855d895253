// Package units defines the integer units the kernels compute in. Floats never
// appear in limit arithmetic: every quantity is an integer count of its quantum,
// and the quantum is in the type's name.
package units

// Millis is a monotonic time or a duration in milliseconds.
type Millis int64

// CentiUnits is an amount of insulin in 0.01 U.
type CentiUnits int32

// CentiUnitsPerHour is an insulin rate in 0.01 U/h.
type CentiUnitsPerHour int32

// MgDL is a blood-glucose concentration in mg/dL.
type MgDL int32

// Common durations.
const (
	Second Millis = 1000
	Minute Millis = 60 * Second
	Hour   Millis = 60 * Minute
	Day    Millis = 24 * Hour
)
