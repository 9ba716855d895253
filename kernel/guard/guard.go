// Package guard is the command admission every kernel shares: who signed a
// command (CMD-AUTH), whether its counter is fresh (CMD-REPLAY) and not too
// far ahead (CMD-COUNTER-STEP), whether it is within its validity window
// (CMD-EXPIRY), and how the relay's homomorphic verdict combines with the
// kernel's exact check (CMD-VERDICT).
//
// The rules hold in machine arithmetic: every comparison of times and
// counters is exact for all int64 and uint64 values (no wrap-around), which
// the TLA+ spec, with its unbounded integers, cannot check; the property
// and fuzz tests of this package draw the extreme values.
//
// Signatures are verified by the wire layer before anything is decrypted; the
// kernel receives the verified signer's role and refuses anything that is not
// from an authorised role. Guard is pure and allocation-free.
package guard

import (
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// Role is the role of the key whose signature the wire layer verified.
type Role uint8

// Roles. RoleNone means no valid signature from a trusted key.
const (
	RoleNone Role = iota
	RoleClinician
	RoleManufacturer
	RoleRelay
	RoleImplant
)

// Verdict is the relay's homomorphic pre-check of a command's parameters
// against the encrypted limits, as decrypted by the implant.
type Verdict uint8

// Verdicts.
const (
	VerdictAbsent Verdict = iota
	VerdictWithin
	VerdictOutside
)

// Header is the authenticated envelope information of a command, expressed on
// the implant's monotonic timeline.
type Header struct {
	Counter     uint64
	IssuedAtMs  units.Millis
	ExpiresAtMs units.Millis
	Signer      Role
}

// State is the admission state a kernel persists: the highest counter it has
// consumed.
type State struct {
	LastCounter uint64
}

// MaxCounterStep is the most a command may move the counter: a command is
// admitted only if LastCounter < Counter ≤ LastCounter + MaxCounterStep.
// CMD-COUNTER-STEP.
//
// Without a bound, one signed command carrying 2^64−1 (or a controller bug
// that sends 10^15 and then 2^64−1) would consume the whole counter space,
// and every later command would be refused as a replay: the implant locked
// for good. With 2^20, exhausting 2^64 counters takes at least 2^44 (about
// 1.8 × 10^13) accepted signed commands, each in the implant's log; at one
// command a second that is over 500,000 years. 2^20 (about a million) still
// leaves a controller room to skip counters: commands it signed but never
// delivered, or a block of counters reserved per session or per device.
//
// Recovery: since no accepted command moves the counter by more than the
// step, a refused jump changes nothing, and a controller that lost its
// counter resumes from the implant's last accepted counter + 1 (the implant
// names the counter of every command in its signed acknowledgement).
const MaxCounterStep uint64 = 1 << 20

// Admit decides whether an authenticated command may be considered at all.
// On success it consumes the counter, so that a command refused later (for a
// limit, a mode or its validity window) can never be replayed once the
// state would allow it. An unauthenticated or replayed command, or one whose
// counter jumps ahead by more than MaxCounterStep, leaves the state
// unchanged.
//
// CMD-AUTH, CMD-REPLAY, CMD-COUNTER-STEP, CMD-EXPIRY.
func Admit(st *State, h Header, want Role, now, maxValidity units.Millis) reason.Code {
	// CMD-AUTH: only a verified signature from the authorised role.
	if h.Signer == RoleNone {
		return reason.Unauthenticated
	}
	if h.Signer != want {
		return reason.WrongRole
	}
	// CMD-REPLAY: counters strictly increase.
	if h.Counter <= st.LastCounter {
		return reason.Replay
	}
	// CMD-COUNTER-STEP: LastCounter < Counter, so Counter − LastCounter is
	// exact in uint64. A jump is refused before the counter is consumed.
	if h.Counter-st.LastCounter > MaxCounterStep {
		return reason.CounterJump
	}
	st.LastCounter = h.Counter
	// CMD-EXPIRY: within [issued, expires) and not valid for longer than allowed.
	return CheckExpiry(h, now, maxValidity)
}

// CheckExpiry is the CMD-EXPIRY rule alone, exact for every int64 value:
// the window [IssuedAtMs, ExpiresAtMs) must be non-empty and at most
// maxValidity long, and now inside it. A negative maxValidity admits no
// window at all.
func CheckExpiry(h Header, now, maxValidity units.Millis) reason.Code {
	if !windowWithin(h.IssuedAtMs, h.ExpiresAtMs, maxValidity) {
		return reason.ValidityTooLong
	}
	if now < h.IssuedAtMs {
		return reason.NotYetValid
	}
	if now >= h.ExpiresAtMs {
		return reason.Expired
	}
	return reason.OK
}

// windowWithin: issued < expires and expires − issued ≤ maxValidity, in
// exact arithmetic. ExpiresAtMs − IssuedAtMs can exceed math.MaxInt64 (from
// math.MinInt64 to math.MaxInt64 it is 2^64 − 1) and would wrap to a
// negative int64; once expires > issued, the difference taken in uint64 is
// exact (it lies in [1, 2^64 − 1]), and so is the bound once it is known
// not to be negative.
func windowWithin(issued, expires, maxValidity units.Millis) bool {
	if expires <= issued || maxValidity < 0 {
		return false
	}
	return uint64(expires)-uint64(issued) <= uint64(maxValidity)
}

// ApplyVerdict is the CMD-VERDICT rule: a command that needs a verdict runs
// only when the verdict says "within" AND the kernel's exact check agrees.
// A verdict that disagrees with the exact check in either direction is refused
// and flagged as a tamper/fault alert; an absent verdict is refused. The exact
// check alone decides safety: a lying verdict can only delay therapy.
func ApplyVerdict(v Verdict, exactWithin bool) (code reason.Code, alert bool) {
	switch v {
	case VerdictWithin:
		if exactWithin {
			return reason.OK, false
		}
		return reason.VerdictMismatch, true
	case VerdictOutside:
		if exactWithin {
			return reason.VerdictMismatch, true
		}
		return reason.OverLimit, false
	default:
		return reason.NoVerdict, false
	}
}
