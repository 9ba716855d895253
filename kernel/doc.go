// Package kernel holds the implant's safety kernels: pure, deterministic state
// machines that take authenticated decoded inputs (commands with the relay's
// homomorphic verdicts, sensor events, HAL events, monotonic time) and return
// decisions (actuator requests, log records, alerts).
//
// The kernels must never perform I/O, read a clock, start a goroutine, or
// allocate on the Step path. They are the final authority on safety: a wrong
// verdict, a lying relay or a faulty HAL may delay therapy but never makes a
// kernel exceed a limit.
//
// Subpackages: units (integer units), reason (typed decision reasons), guard
// (command admission shared by every kernel: authentication role, replay,
// expiry, and the verdict rule), pump (the insulin-pump kernel).
package kernel
