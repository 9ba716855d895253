// Package guardinv is the reference form of the command-admission rules of
// kernel/guard, shared by the kernels' observers (model/pumpinv,
// model/pacerinv): the same rules in exact integers (math/big), as the TLA+
// spec states them with unbounded integers, so that an int64 or uint64
// wrap-around in the kernel shows up as a violation.
//
// It is test and verification code: it allocates freely, and it must never
// be linked into firmware.
package guardinv

import (
	"math/big"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// CounterStep is the requirement ID of the counter-step rule.
const CounterStep = "CMD-COUNTER-STEP"

// InStep is CMD-REPLAY and CMD-COUNTER-STEP together: last < c ≤ last +
// guard.MaxCounterStep.
func InStep(last, c uint64) bool {
	d := new(big.Int).Sub(new(big.Int).SetUint64(c), new(big.Int).SetUint64(last))
	return d.Sign() > 0 && d.Cmp(new(big.Int).SetUint64(guard.MaxCounterStep)) <= 0
}

// InWindow is CMD-EXPIRY: issued ≤ now < expires and expires − issued ≤
// maxValidity.
func InWindow(h guard.Header, now, maxValidity units.Millis) bool {
	length := new(big.Int).Sub(big.NewInt(int64(h.ExpiresAtMs)), big.NewInt(int64(h.IssuedAtMs)))
	return h.IssuedAtMs <= now && now < h.ExpiresAtMs && length.Cmp(big.NewInt(int64(maxValidity))) <= 0
}

// Decision is what CheckCounterStep needs of one decision output.
type Decision struct {
	Accepted bool
	Reason   reason.Code
}

// CheckCounterStep checks CMD-COUNTER-STEP on one Step of a kernel built on
// kernel/guard: the consumed counter never moves by more than
// guard.MaxCounterStep; an accepted command's counter lies within the step
// above last, the observer's own last consumed counter; and a counter-jump
// refusal consumes nothing and is given only to a counter beyond the step.
// prev and next are the kernel's admission states before and after the
// Step; cmd is the command's header when the input was a command, else nil.
func CheckCounterStep(prev, next guard.State, cmd *guard.Header, last uint64, ds []Decision, fail func(id, format string, args ...any)) {
	if next.LastCounter != prev.LastCounter && !InStep(prev.LastCounter, next.LastCounter) {
		fail(CounterStep, "counter moved from %d to %d, more than the step %d", prev.LastCounter, next.LastCounter, guard.MaxCounterStep)
	}
	if cmd == nil {
		return
	}
	for _, d := range ds {
		if d.Accepted && !InStep(last, cmd.Counter) {
			fail(CounterStep, "accepted counter %d after %d, outside (last, last + %d]", cmd.Counter, last, guard.MaxCounterStep)
		}
		if d.Reason != reason.CounterJump {
			continue
		}
		if next.LastCounter != prev.LastCounter {
			fail(CounterStep, "a refused jump to %d consumed a counter (%d -> %d)", cmd.Counter, prev.LastCounter, next.LastCounter)
		}
		if cmd.Counter <= last || InStep(last, cmd.Counter) {
			fail(CounterStep, "counter %d after %d refused as a jump", cmd.Counter, last)
		}
	}
}

// Admission is the reference admission decision of a command with header h
// after last, the observer's own last consumed counter, at now: the first
// rule that refuses it, in the order kernel/guard.Admit applies them
// (CMD-AUTH, CMD-REPLAY, CMD-COUNTER-STEP, CMD-EXPIRY), or reason.OK. Exact
// integers throughout. want is the role the kernel accepts commands from.
func Admission(h guard.Header, want guard.Role, last uint64, now, maxValidity units.Millis) reason.Code {
	length := new(big.Int).Sub(big.NewInt(int64(h.ExpiresAtMs)), big.NewInt(int64(h.IssuedAtMs)))
	switch {
	case h.Signer == guard.RoleNone:
		return reason.Unauthenticated
	case h.Signer != want:
		return reason.WrongRole
	case h.Counter <= last:
		return reason.Replay
	case !InStep(last, h.Counter):
		return reason.CounterJump
	case length.Sign() <= 0 || maxValidity < 0 || length.Cmp(big.NewInt(int64(maxValidity))) > 0:
		return reason.ValidityTooLong
	case now < h.IssuedAtMs:
		return reason.NotYetValid
	case now >= h.ExpiresAtMs:
		return reason.Expired
	}
	return reason.OK
}

// admissionReasons are the refusals only admission gives, with the
// requirement each belongs to.
var admissionReasons = map[reason.Code]string{
	reason.Unauthenticated: "CMD-AUTH", reason.WrongRole: "CMD-AUTH",
	reason.Replay:          "CMD-REPLAY",
	reason.CounterJump:     CounterStep,
	reason.ValidityTooLong: "CMD-EXPIRY", reason.NotYetValid: "CMD-EXPIRY", reason.Expired: "CMD-EXPIRY",
}

// CheckAdmission holds a kernel's decision on a command to the reference
// admission: a command the reference refuses is refused for that reason,
// and one it admits is not refused for an admission reason. It also holds
// the kernel's consumed counter to the observer's (CMD-REPLAY: the counter
// never decreases, and it is exactly the last counter admission consumed).
// d is the decision of the command (nil for other inputs); nextLast the
// observer's own last consumed counter after the Step.
func CheckAdmission(h *guard.Header, want guard.Role, last uint64, now, maxValidity units.Millis, d *Decision,
	prev, next guard.State, nextLast uint64, fail func(id, format string, args ...any)) {
	if next.LastCounter < prev.LastCounter {
		fail("CMD-REPLAY", "the consumed counter went back from %d to %d", prev.LastCounter, next.LastCounter)
	}
	if next.LastCounter != nextLast {
		fail("CMD-REPLAY", "the kernel's consumed counter is %d, the observer's %d", next.LastCounter, nextLast)
	}
	if h == nil || d == nil {
		return
	}
	want2 := Admission(*h, want, last, now, maxValidity)
	if want2 != reason.OK {
		if d.Accepted || d.Reason != want2 {
			fail(admissionReasons[want2], "command with counter %d after %d, issued %d, expires %d, signer %d at %d: decision %v/%s, admission refuses it as %s",
				h.Counter, last, h.IssuedAtMs, h.ExpiresAtMs, h.Signer, now, d.Accepted, d.Reason, want2)
		}
		return
	}
	if id, ok := admissionReasons[d.Reason]; ok && !d.Accepted {
		fail(id, "command with counter %d after %d, issued %d, expires %d at %d refused as %s, but admission admits it",
			h.Counter, last, h.IssuedAtMs, h.ExpiresAtMs, now, d.Reason)
	}
}
