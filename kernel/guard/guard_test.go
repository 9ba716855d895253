package guard

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// TestAdmit: CMD-AUTH, CMD-REPLAY, CMD-COUNTER-STEP, CMD-EXPIRY.
func TestAdmit(t *testing.T) {
	h := func(ctr uint64, signer Role, issued, expires units.Millis) Header {
		return Header{Counter: ctr, Signer: signer, IssuedAtMs: 1000 + issued, ExpiresAtMs: expires}
	}
	cases := []struct {
		name     string
		last     uint64
		h        Header
		want     reason.Code
		consumed bool
	}{
		{"valid", 4, h(5, RoleClinician, 0, 2000), reason.OK, true},
		{"unsigned", 4, h(5, RoleNone, 0, 2000), reason.Unauthenticated, false},
		{"relay key", 4, h(5, RoleRelay, 0, 2000), reason.WrongRole, false},
		{"replay equal", 5, h(5, RoleClinician, 0, 2000), reason.Replay, false},
		{"replay lower", 9, h(5, RoleClinician, 0, 2000), reason.Replay, false},
		{"expired consumes the counter", 4, h(5, RoleClinician, 0, 1500), reason.Expired, true},
		{"validity too long", 4, h(5, RoleClinician, 0, 1000+400_000), reason.ValidityTooLong, true},
		{"expiry before issue", 4, h(5, RoleClinician, 0, 900), reason.ValidityTooLong, true},
		{"counter at the step", 4, h(4+MaxCounterStep, RoleClinician, 0, 2000), reason.OK, true},
		{"counter one above the step", 4, h(5+MaxCounterStep, RoleClinician, 0, 2000), reason.CounterJump, false},
		{"counter 2^64-1", 4, h(math.MaxUint64, RoleClinician, 0, 2000), reason.CounterJump, false},
		{"counter 2^64-1 at the step", math.MaxUint64 - MaxCounterStep, h(math.MaxUint64, RoleClinician, 0, 2000), reason.OK, true},
		{"expired jump is refused as a jump", 4, h(5+MaxCounterStep, RoleClinician, 0, 1500), reason.CounterJump, false},
		{"unsigned jump is unauthenticated", 4, h(math.MaxUint64, RoleNone, 0, 2000), reason.Unauthenticated, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := State{LastCounter: tc.last}
			got := Admit(&st, tc.h, RoleClinician, 1500, 300_000)
			assert.Equal(t, tc.want, got)
			if tc.consumed {
				assert.Equal(t, tc.h.Counter, st.LastCounter)
			} else {
				assert.Equal(t, tc.last, st.LastCounter, "refused before admission: state unchanged")
			}
		})
	}
}

// TestApplyVerdict: CMD-VERDICT truth table.
func TestApplyVerdict(t *testing.T) {
	cases := []struct {
		v     Verdict
		exact bool
		want  reason.Code
		alert bool
	}{
		{VerdictWithin, true, reason.OK, false},
		{VerdictWithin, false, reason.VerdictMismatch, true},
		{VerdictOutside, true, reason.VerdictMismatch, true},
		{VerdictOutside, false, reason.OverLimit, false},
		{VerdictAbsent, true, reason.NoVerdict, false},
		{VerdictAbsent, false, reason.NoVerdict, false},
		{Verdict(9), true, reason.NoVerdict, false},
	}
	for _, tc := range cases {
		got, alert := ApplyVerdict(tc.v, tc.exact)
		assert.Equal(t, tc.want, got, "verdict %d exact %v", tc.v, tc.exact)
		assert.Equal(t, tc.alert, alert, "verdict %d exact %v", tc.v, tc.exact)
	}
}

// TestCheckExpiryHasNoWrapAround: CMD-EXPIRY in machine arithmetic. The
// window length ExpiresAtMs − IssuedAtMs is computed exactly for every int64
// pair: a window that wraps in int64 (math.MinInt64 to math.MaxInt64, or
// now − 2^62 to now + 2^62 + 2^61) is too long, not negative.
func TestCheckExpiryHasNoWrapAround(t *testing.T) {
	const maxV = 300_000
	cases := []struct {
		name             string
		issued, expires  units.Millis
		now, maxValidity units.Millis
		want             reason.Code
	}{
		{"never expires: MinInt64 to MaxInt64", math.MinInt64, math.MaxInt64, 0, maxV, reason.ValidityTooLong},
		{"never expires, at MinInt64", math.MinInt64, math.MaxInt64, math.MinInt64, maxV, reason.ValidityTooLong},
		{"now − 2^62 to now + 2^62 + 2^61", 1500 - 1<<62, 1500 + 1<<62 + 1<<61, 1500, maxV, reason.ValidityTooLong},
		{"MinInt64+1 to MaxInt64", math.MinInt64 + 1, math.MaxInt64, 0, maxV, reason.ValidityTooLong},
		{"whole range against the largest bound", math.MinInt64, math.MaxInt64, 0, math.MaxInt64, reason.ValidityTooLong},
		{"2^63 against the largest bound", -1, math.MaxInt64, 0, math.MaxInt64, reason.ValidityTooLong},
		{"MaxInt64 long against the largest bound", 0, math.MaxInt64, 0, math.MaxInt64, reason.OK},
		{"wrapping window against a negative bound", math.MinInt64, math.MaxInt64, 0, -1, reason.ValidityTooLong},
		{"negative bound refuses a 1 ms window", 0, 1, 0, -1, reason.ValidityTooLong},
		{"MinInt64 bound refuses a 1 ms window", 0, 1, 0, math.MinInt64, reason.ValidityTooLong},
		{"zero bound refuses a 1 ms window", 0, 1, 0, 0, reason.ValidityTooLong},
		{"1 ms window at the bottom of time", math.MinInt64, math.MinInt64 + 1, math.MinInt64, maxV, reason.OK},
		{"1 ms window at the top of time", math.MaxInt64 - 1, math.MaxInt64, math.MaxInt64 - 1, maxV, reason.OK},
		{"expired at the top of time", math.MaxInt64 - 1, math.MaxInt64, math.MaxInt64, maxV, reason.Expired},
		{"not yet valid at the bottom of time", math.MinInt64 + 1, math.MinInt64 + 2, math.MinInt64, maxV, reason.NotYetValid},
		{"exactly the bound", 1000, 1000 + maxV, 1000, maxV, reason.OK},
		{"one ms above the bound", 1000, 1001 + maxV, 1000, maxV, reason.ValidityTooLong},
		{"expiry equals issue", 1000, 1000, 1000, maxV, reason.ValidityTooLong},
		{"expiry before issue by MaxInt64", math.MaxInt64, 0, 0, maxV, reason.ValidityTooLong},
		{"expiry before issue across the whole range", math.MaxInt64, math.MinInt64, 0, math.MaxInt64, reason.ValidityTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := Header{Counter: 5, Signer: RoleClinician, IssuedAtMs: tc.issued, ExpiresAtMs: tc.expires}
			assert.Equal(t, tc.want, CheckExpiry(h, tc.now, tc.maxValidity),
				"window [%d, %d) at %d, bound %d", tc.issued, tc.expires, tc.now, tc.maxValidity)
			st := State{LastCounter: 4}
			assert.Equal(t, tc.want, Admit(&st, h, RoleClinician, tc.now, tc.maxValidity), "through Admit")
		})
	}
}

// TestOneCommandCannotLockTheCounter: CMD-COUNTER-STEP. A signed command
// whose counter jumps far ahead (10^15, 2^64−1) is refused without consuming
// it, so the next ordinary command is still admitted.
func TestOneCommandCannotLockTheCounter(t *testing.T) {
	cases := []struct {
		name string
		last uint64
		ctr  uint64
	}{
		{"10^15 after 4", 4, 1_000_000_000_000_000},
		{"2^64−1 after 4", 4, math.MaxUint64},
		{"2^64−1 after 0", 0, math.MaxUint64},
		{"2^63 after 2^63−1−2^20", 1<<63 - 1 - 1<<20, 1 << 63},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := State{LastCounter: tc.last}
			h := Header{Counter: tc.ctr, Signer: RoleClinician, IssuedAtMs: 1000, ExpiresAtMs: 2000}
			got := Admit(&st, h, RoleClinician, 1500, 300_000)
			assert.Equal(t, reason.CounterJump, got, "counter %d after %d", tc.ctr, tc.last)
			assert.Equal(t, tc.last, st.LastCounter, "a refused jump must not consume its counter")
			h.Counter = tc.last + 1
			assert.Equal(t, reason.OK, Admit(&st, h, RoleClinician, 1500, 300_000), "the next ordinary command after the jump")
			assert.Equal(t, tc.last+1, st.LastCounter)
		})
	}
}
