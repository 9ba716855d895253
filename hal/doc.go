// Package hal is the hardware abstraction layer of the implant: one small
// interface per device (insulin pump motor, pacing output, glucose sensor,
// cardiac sensing, radio, monotonic clock, persistent storage, watchdog), the
// typed errors those devices report, and Board, which bundles them.
//
// hal is for moving bytes and pulses, and for reporting faithfully what the
// hardware did. It must never make a safety decision: it does not clamp a dose,
// refuse a pace it considers too fast, retry a failed delivery, or hide a fault.
// Limits live in the safety kernel (kernel/…), which sees every hal error as an
// input; the firmware loop is the only caller of hal. A backend may refuse a
// request the hardware physically cannot express (ErrInvalidArgument), and
// nothing else.
//
// Errors are sentinels wrapped with context; callers branch with errors.Is.
// When a call that moves insulin or writes storage fails, the amount of work
// actually done is unknown and the interface documents the worst case the
// caller must assume.
//
// Backends: hal/mock (deterministic, seeded, with fault injection) for tests
// and simulation; board backends (GPIO, serial radio, flash) live elsewhere.
package hal
