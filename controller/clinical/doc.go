// Package clinical is the clinician-facing edge of the controller: it turns
// what a clinician types into the integer quantities the kernels compute in,
// and it keeps the controller's per-device command counter.
//
// Values (units.go). A clinician types insulin in U ("2.50"), basal rates in
// U/h, pacing rates in ppm, durations in ms and glucose in mg/dL. The parsers
// accept exactly one plain decimal grammar, (0|[1-9][0-9]*)(\.[0-9]{1,2})? for
// insulin and (0|[1-9][0-9]*) for whole-number quantities, bounded by a named
// constant per quantity, and compute in integers. Every refusal is a
// *ParseError naming the input and the unit, wrapping ErrSyntax, ErrPrecision
// or ErrRange. Dose, BasalRate, PulseRate, Interval and Glucose adapt the
// parsers to flag.Value; NoTrailing refuses arguments the flag package
// stopped at.
//
// Counter (counter.go). Every command carries a counter the implant accepts
// only if it is above the last one it accepted. Counter hands out strictly
// increasing values per device file: Next reserves a value durably, under an
// exclusive lock shared by every process, before returning it, so a crash
// between reserving and sending wastes a value but never reuses one. A file
// that does not check out (empty, torn, corrupted) is refused with a
// *CorruptError naming it. Where there is no flock(2) (Windows), every
// Counter call fails with errors.ErrUnsupported rather than run unlocked.
//
// What this package must never do: accept a base prefix (0x, 0b, 0o, or a
// leading zero read as octal), an exponent, a sign, digit separators,
// non-ASCII digits or surrounding spaces; round, or touch a float; return a
// value outside its quantity's bound; hand out a counter value twice, return
// a value before it is on disk, lower a counter, or reset a counter file it
// cannot read.
package clinical
