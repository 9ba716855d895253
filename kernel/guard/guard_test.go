package guard

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// TestAdmit: CMD-AUTH, CMD-REPLAY, CMD-EXPIRY.
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
