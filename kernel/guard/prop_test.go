package guard

import (
	"math"
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"github.com/implantfhe/implantfhe/internal/proptest"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// The TLA+ spec's integers are unbounded, so it cannot see wrap-around in
// the kernel's int64 and uint64 arithmetic. These properties draw every time
// and counter field (IssuedAtMs, ExpiresAtMs, now, maxValidity, Counter,
// LastCounter) from the edges of its machine type as well as near now and
// near the last counter (internal/proptest), and compare Admit with a
// reference computed in math/big, where nothing wraps.

func TestMain(m *testing.M) { proptest.Main(m) }

type drawn struct {
	st               State
	h                Header
	now, maxValidity units.Millis
}

// drawAdmission draws one admission. In about half the cases it starts from
// a plausible command (next counter, issued a little before now, valid for
// at most five minutes) and draws a few fields from the edges, so that
// acceptance and every refusal are reached; otherwise every field is drawn
// on its own.
func drawAdmission(t *rapid.T) drawn {
	var d drawn
	d.h.Signer = RoleClinician
	if rapid.IntRange(0, 9).Draw(t, "badSigner") == 0 {
		d.h.Signer = Role(rapid.IntRange(0, 5).Draw(t, "signer"))
	}
	if rapid.Bool().Draw(t, "plausible") {
		d.st.LastCounter = proptest.Uint64(t, "last", 0, MaxCounterStep)
		d.h.Counter = d.st.LastCounter + uint64(rapid.IntRange(1, 3).Draw(t, "inc"))
		d.now = units.Millis(proptest.Int64(t, "now", 0))
		d.h.IssuedAtMs = d.now - units.Millis(rapid.IntRange(0, 400_000).Draw(t, "age"))
		d.h.ExpiresAtMs = d.h.IssuedAtMs + units.Millis(rapid.IntRange(1, 300_000).Draw(t, "validFor"))
		d.maxValidity = 300_000
		for _, f := range rapid.SliceOfNDistinct(rapid.IntRange(0, 5), 0, 2, rapid.ID[int]).Draw(t, "edgeFields") {
			switch f {
			case 0:
				d.st.LastCounter = proptest.Uint64(t, "lastEdge", d.h.Counter, MaxCounterStep)
			case 1:
				d.h.Counter = proptest.Uint64(t, "counterEdge", d.st.LastCounter, MaxCounterStep)
			case 2:
				d.now = units.Millis(proptest.Int64(t, "nowEdge", int64(d.now)))
			case 3:
				d.h.IssuedAtMs = units.Millis(proptest.Int64(t, "issuedEdge", int64(d.h.IssuedAtMs)))
			case 4:
				d.h.ExpiresAtMs = units.Millis(proptest.Int64(t, "expiresEdge", int64(d.h.ExpiresAtMs)))
			case 5:
				d.maxValidity = units.Millis(proptest.Int64(t, "maxValidityEdge", int64(d.maxValidity)))
			}
		}
		return d
	}
	d.st.LastCounter = proptest.Uint64(t, "last", 0, MaxCounterStep)
	d.h.Counter = proptest.Uint64(t, "counter", d.st.LastCounter, MaxCounterStep)
	d.now = units.Millis(proptest.Int64(t, "now", 0))
	d.h.IssuedAtMs = units.Millis(proptest.Int64(t, "issued", int64(d.now)))
	d.h.ExpiresAtMs = units.Millis(proptest.Int64(t, "expires", int64(d.h.IssuedAtMs)))
	d.maxValidity = units.Millis(proptest.Int64(t, "maxValidity", 300_000))
	return d
}

// refExpiry is CMD-EXPIRY in exact integers.
func refExpiry(h Header, now, maxValidity units.Millis) reason.Code {
	iss, exp := big.NewInt(int64(h.IssuedAtMs)), big.NewInt(int64(h.ExpiresAtMs))
	length := new(big.Int).Sub(exp, iss)
	switch {
	case length.Sign() <= 0 || length.Cmp(big.NewInt(int64(maxValidity))) > 0:
		return reason.ValidityTooLong
	case now < h.IssuedAtMs:
		return reason.NotYetValid
	case now >= h.ExpiresAtMs:
		return reason.Expired
	}
	return reason.OK
}

// refAdmit is Admit in exact integers: the code and whether the counter is
// consumed.
func refAdmit(last uint64, h Header, want Role, now, maxValidity units.Millis) (reason.Code, bool) {
	switch {
	case h.Signer == RoleNone:
		return reason.Unauthenticated, false
	case h.Signer != want:
		return reason.WrongRole, false
	}
	step := new(big.Int).Sub(new(big.Int).SetUint64(h.Counter), new(big.Int).SetUint64(last))
	switch {
	case step.Sign() <= 0:
		return reason.Replay, false
	case step.Cmp(new(big.Int).SetUint64(MaxCounterStep)) > 0:
		return reason.CounterJump, false
	}
	return refExpiry(h, now, maxValidity), true
}

// checkAdmit runs Admit on d and fails on any difference from the reference.
func checkAdmit(t *rapid.T, d drawn) reason.Code {
	st := d.st
	got := Admit(&st, d.h, RoleClinician, d.now, d.maxValidity)
	want, consumed := refAdmit(d.st.LastCounter, d.h, RoleClinician, d.now, d.maxValidity)
	if got != want {
		t.Fatalf("Admit(last %d, counter %d, signer %d, window [%d, %d), now %d, max %d) = %s, want %s",
			d.st.LastCounter, d.h.Counter, d.h.Signer, d.h.IssuedAtMs, d.h.ExpiresAtMs, d.now, d.maxValidity, got, want)
	}
	wantLast := d.st.LastCounter
	if consumed {
		wantLast = d.h.Counter
	}
	if st.LastCounter != wantLast {
		t.Fatalf("counter %d after %d (%s): LastCounter %d, want %d", d.h.Counter, d.st.LastCounter, got, st.LastCounter, wantLast)
	}
	return got
}

// TestProp_CMD_EXPIRY_MachineArithmetic: CMD-EXPIRY with every time field
// drawn across the whole int64 range. CheckExpiry and Admit agree with the
// exact rule; an accepted command's window is non-empty, contains now and is
// at most maxValidity long, computed exactly.
func TestProp_CMD_EXPIRY_MachineArithmetic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := drawAdmission(t)
		if got, want := CheckExpiry(d.h, d.now, d.maxValidity), refExpiry(d.h, d.now, d.maxValidity); got != want {
			t.Fatalf("CheckExpiry(window [%d, %d), now %d, max %d) = %s, want %s",
				d.h.IssuedAtMs, d.h.ExpiresAtMs, d.now, d.maxValidity, got, want)
		}
		if checkAdmit(t, d) == reason.OK && d.maxValidity < 0 {
			t.Fatalf("accepted with a negative maximum validity %d", d.maxValidity)
		}
	})
}

// TestProp_CMD_COUNTER_STEP: CMD-COUNTER-STEP with counters drawn across
// the whole uint64 range. Over any sequence of commands, every consumed
// counter is above the previous one by at most MaxCounterStep, a refused
// jump consumes nothing, and so n commands move the counter by at most
// n × MaxCounterStep: after them, the next ordinary command is still
// admitted unless the counter started within that distance of 2^64 − 1.
func TestProp_CMD_COUNTER_STEP(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		first := drawAdmission(t)
		st := first.st
		n := rapid.IntRange(1, 20).Draw(t, "n")
		for i := 0; i < n; i++ {
			d := drawAdmission(t)
			d.st = st
			d.h.Counter = proptest.Uint64(t, "next", st.LastCounter, MaxCounterStep)
			before := st.LastCounter
			got := checkAdmit(t, d)
			Admit(&st, d.h, RoleClinician, d.now, d.maxValidity)
			if st.LastCounter != before && (st.LastCounter <= before || st.LastCounter-before > MaxCounterStep) {
				t.Fatalf("counter moved from %d to %d (%s), more than the step %d", before, st.LastCounter, got, MaxCounterStep)
			}
			if got == reason.CounterJump && st.LastCounter != before {
				t.Fatalf("a refused jump consumed counter %d", st.LastCounter)
			}
		}
		moved := new(big.Int).Sub(new(big.Int).SetUint64(st.LastCounter), new(big.Int).SetUint64(first.st.LastCounter))
		bound := new(big.Int).Mul(big.NewInt(int64(n)), new(big.Int).SetUint64(MaxCounterStep))
		if moved.Cmp(bound) > 0 {
			t.Fatalf("%d commands moved the counter by %s, more than %s", n, moved, bound)
		}
		room := new(big.Int).Sub(new(big.Int).SetUint64(math.MaxUint64), new(big.Int).SetUint64(first.st.LastCounter))
		if room.Cmp(bound) > 0 {
			next := Header{Counter: st.LastCounter + 1, Signer: RoleClinician, IssuedAtMs: 0, ExpiresAtMs: 1}
			if got := Admit(&st, next, RoleClinician, 0, 1); got != reason.OK {
				t.Fatalf("locked out: the next command (counter %d) after %d commands is refused: %s", next.Counter, n, got)
			}
		}
	})
}

// TestPropGeneratorDrawsTheEdges guards against vacuous properties: the
// generator reaches every outcome of Admit, and draws the extreme values.
func TestPropGeneratorDrawsTheEdges(t *testing.T) {
	seen := map[string]int{}
	rapid.Check(t, func(t *rapid.T) {
		d := drawAdmission(t)
		st := d.st
		seen[Admit(&st, d.h, RoleClinician, d.now, d.maxValidity).String()]++
		for _, v := range []int64{int64(d.h.IssuedAtMs), int64(d.h.ExpiresAtMs), int64(d.now), int64(d.maxValidity)} {
			switch v {
			case math.MinInt64:
				seen["MinInt64"]++
			case math.MaxInt64:
				seen["MaxInt64"]++
			}
		}
		if d.h.Counter == math.MaxUint64 || d.st.LastCounter == math.MaxUint64 {
			seen["MaxUint64"]++
		}
		if d.h.ExpiresAtMs > d.h.IssuedAtMs && d.h.ExpiresAtMs-d.h.IssuedAtMs < 0 {
			seen["window wraps"]++
		}
	})
	for _, k := range []string{"ok", "unauthenticated", "wrong-role", "replay", "counter-jump", "expired", "not-yet-valid",
		"validity-too-long", "MinInt64", "MaxInt64", "MaxUint64", "window wraps"} {
		if seen[k] == 0 {
			t.Errorf("generator never produced %q (seen: %v)", k, seen)
		}
	}
	t.Logf("outcomes: %v", seen)
}

// FuzzAdmit: Admit agrees with the exact reference on every input; the seed
// corpus (testdata/fuzz/FuzzAdmit) holds the extreme values.
func FuzzAdmit(f *testing.F) {
	f.Add(uint64(4), uint64(5), uint8(RoleClinician), int64(1000), int64(2000), int64(1500), int64(300_000))
	f.Add(uint64(4), uint64(math.MaxUint64), uint8(RoleClinician), int64(1000), int64(2000), int64(1500), int64(300_000))
	f.Add(uint64(4), uint64(5), uint8(RoleClinician), int64(math.MinInt64), int64(math.MaxInt64), int64(0), int64(300_000))
	f.Fuzz(func(t *testing.T, last, ctr uint64, signer uint8, issued, expires, now, maxValidity int64) {
		h := Header{Counter: ctr, Signer: Role(signer), IssuedAtMs: units.Millis(issued), ExpiresAtMs: units.Millis(expires)}
		st := State{LastCounter: last}
		got := Admit(&st, h, RoleClinician, units.Millis(now), units.Millis(maxValidity))
		want, consumed := refAdmit(last, h, RoleClinician, units.Millis(now), units.Millis(maxValidity))
		if got != want {
			t.Fatalf("Admit = %s, want %s", got, want)
		}
		if consumed != (st.LastCounter != last) || consumed && st.LastCounter != ctr {
			t.Fatalf("LastCounter %d after %d with counter %d (%s)", st.LastCounter, last, ctr, got)
		}
		if got, want := CheckExpiry(h, units.Millis(now), units.Millis(maxValidity)), refExpiry(h, units.Millis(now), units.Millis(maxValidity)); got != want {
			t.Fatalf("CheckExpiry = %s, want %s", got, want)
		}
	})
}
