package reason

import "testing"

// TestCodesAreStable: codes are part of the log format. Appending a code
// must leave every earlier value and name as it was; this pins the first,
// the last before CMD-COUNTER-STEP, and the ones the command guard returns.
func TestCodesAreStable(t *testing.T) {
	cases := []struct {
		c     Code
		value uint8
		name  string
	}{
		{OK, 0, "ok"},
		{Unauthenticated, 1, "unauthenticated"},
		{WrongRole, 2, "wrong-role"},
		{Replay, 3, "replay"},
		{Expired, 4, "expired"},
		{NotYetValid, 5, "not-yet-valid"},
		{ValidityTooLong, 6, "validity-too-long"},
		{SwitchPacingOff, 42, "switch-pacing-off"},
		{CounterJump, 43, "counter-jump"},
	}
	for _, tc := range cases {
		if uint8(tc.c) != tc.value || tc.c.String() != tc.name {
			t.Errorf("code %q = %d, want %q = %d", tc.c.String(), uint8(tc.c), tc.name, tc.value)
		}
	}
}

// TestEveryCodeHasAUniqueName: a name identifies its code in logs.
func TestEveryCodeHasAUniqueName(t *testing.T) {
	seen := map[string]Code{}
	for c := Code(0); c < numCodes; c++ {
		n := c.String()
		if n == "unknown-reason" {
			t.Errorf("code %d has no name", c)
		}
		if d, dup := seen[n]; dup {
			t.Errorf("codes %d and %d share the name %q", d, c, n)
		}
		seen[n] = c
	}
	if got := numCodes.String(); got != "unknown-reason" {
		t.Errorf("the code past the last is named %q", got)
	}
}
