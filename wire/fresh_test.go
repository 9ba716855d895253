package wire

import (
	"errors"
	"math"
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"github.com/implantfhe/implantfhe/internal/proptest"
	"github.com/implantfhe/implantfhe/kernel/guard"
)

// VerifyEnvelope's freshness checks in machine arithmetic (CMD-REPLAY,
// CMD-COUNTER-STEP, CMD-EXPIRY): every counter and time field is drawn from
// the edges of its type as well as near the receiver's state, and the
// verifier is compared with a reference computed in math/big.

// refFresh is the freshness rule in exact integers: nil, ErrReplay,
// ErrCounterJump or ErrExpired.
func refFresh(h Header, fr Freshness) error {
	step := new(big.Int).Sub(new(big.Int).SetUint64(h.Counter), new(big.Int).SetUint64(fr.LastCounter))
	length := new(big.Int).Sub(big.NewInt(h.ExpiresAtMs), big.NewInt(h.IssuedAtMs))
	switch {
	case step.Sign() <= 0:
		return ErrReplay
	case fr.MaxCounterStep > 0 && step.Cmp(new(big.Int).SetUint64(fr.MaxCounterStep)) > 0:
		return ErrCounterJump
	case length.Sign() <= 0 || length.Cmp(big.NewInt(fr.MaxValidityMs)) > 0:
		return ErrExpired
	case fr.NowMs < h.IssuedAtMs || fr.NowMs >= h.ExpiresAtMs:
		return ErrExpired
	}
	return nil
}

// verifyFresh seals h with the clinician key and verifies it against fr.
func verifyFresh(t interface{ Fatalf(string, ...any) }, f *fixture, h Header, fr Freshness) error {
	e, err := Seal(h, []byte("ciphertext"), f.clin)
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	role, err := f.v.VerifyEnvelope(e, KindCommand, fr, false)
	if err == nil && role != guard.RoleClinician {
		t.Fatalf("verified with role %d", role)
	}
	return err
}

func sameOutcome(got, want error) bool {
	if want == nil {
		return got == nil
	}
	return errors.Is(got, want)
}

// TestProp_CMD_EXPIRY_WireMachineArithmetic: VerifyEnvelope's freshness
// checks agree with the exact rule for counters, times, bounds and steps
// drawn across their whole machine range; in particular no window that wraps
// in int64 is accepted, and no counter more than MaxCounterStep ahead.
func TestProp_CMD_EXPIRY_WireMachineArithmetic(t *testing.T) {
	f := newFixture(t)
	seen := map[string]int{}
	rapid.Check(t, func(t *rapid.T) {
		var fr Freshness
		h := cmdHeader(0)
		fr.LastCounter = proptest.Uint64(t, "last", 0, guard.MaxCounterStep)
		fr.NowMs = proptest.Int64(t, "now", 0)
		fr.MaxValidityMs = 300_000
		if rapid.Bool().Draw(t, "plausible") {
			// A plausible command with at most two fields from the edges.
			h.Counter = fr.LastCounter + uint64(rapid.IntRange(1, 3).Draw(t, "inc"))
			h.IssuedAtMs = fr.NowMs - rapid.Int64Range(0, 400_000).Draw(t, "age")
			h.ExpiresAtMs = h.IssuedAtMs + rapid.Int64Range(1, 300_000).Draw(t, "validFor")
			for _, i := range rapid.SliceOfNDistinct(rapid.IntRange(0, 4), 0, 2, rapid.ID[int]).Draw(t, "edgeFields") {
				switch i {
				case 0:
					fr.LastCounter = proptest.Uint64(t, "lastEdge", h.Counter, guard.MaxCounterStep)
				case 1:
					h.Counter = proptest.Uint64(t, "counterEdge", fr.LastCounter, guard.MaxCounterStep)
				case 2:
					h.IssuedAtMs = proptest.Int64(t, "issuedEdge", h.IssuedAtMs)
				case 3:
					h.ExpiresAtMs = proptest.Int64(t, "expiresEdge", h.ExpiresAtMs)
				case 4:
					fr.MaxValidityMs = proptest.Int64(t, "maxValidityEdge", fr.MaxValidityMs)
				}
			}
		} else {
			h.Counter = proptest.Uint64(t, "counter", fr.LastCounter, guard.MaxCounterStep)
			h.IssuedAtMs = proptest.Int64(t, "issued", fr.NowMs)
			h.ExpiresAtMs = proptest.Int64(t, "expires", h.IssuedAtMs)
			if rapid.IntRange(0, 3).Draw(t, "wildBound") == 0 {
				fr.MaxValidityMs = proptest.Int64(t, "maxValidity", 300_000)
			}
		}
		fr.MaxCounterStep = rapid.SampledFrom([]uint64{0, 1, guard.MaxCounterStep, math.MaxUint64}).Draw(t, "step")
		got, want := verifyFresh(t, f, h, fr), refFresh(h, fr)
		if !sameOutcome(got, want) {
			t.Fatalf("counter %d after %d (step %d), window [%d, %d) at %d, bound %d: got %v, want %v",
				h.Counter, fr.LastCounter, fr.MaxCounterStep, h.IssuedAtMs, h.ExpiresAtMs, fr.NowMs, fr.MaxValidityMs, got, want)
		}
		switch {
		case want == nil:
			seen["ok"]++
		default:
			seen[want.Error()]++
		}
		if h.ExpiresAtMs > h.IssuedAtMs && h.ExpiresAtMs-h.IssuedAtMs < 0 && h.Counter > fr.LastCounter {
			seen["window wraps"]++
		}
	})
	for _, k := range []string{"ok", ErrReplay.Error(), ErrCounterJump.Error(), ErrExpired.Error(), "window wraps"} {
		if seen[k] == 0 {
			t.Errorf("generator never produced %q (seen %v)", k, seen)
		}
	}
}

// FuzzVerifyFreshness: VerifyEnvelope's freshness checks agree with the exact
// rule on every input; the seed corpus (testdata/fuzz/FuzzVerifyFreshness)
// holds the extreme values.
func FuzzVerifyFreshness(f *testing.F) {
	fx := newFixture(f)
	f.Add(uint64(4), uint64(5), uint64(guard.MaxCounterStep), int64(1000), int64(61000), int64(2000), int64(300_000))
	f.Add(uint64(4), uint64(5), uint64(guard.MaxCounterStep), int64(math.MinInt64), int64(math.MaxInt64), int64(2000), int64(300_000))
	f.Add(uint64(4), uint64(math.MaxUint64), uint64(guard.MaxCounterStep), int64(1000), int64(61000), int64(2000), int64(300_000))
	f.Fuzz(func(t *testing.T, last, counter, step uint64, issued, expires, now, maxValidity int64) {
		h := cmdHeader(counter)
		h.IssuedAtMs, h.ExpiresAtMs = issued, expires
		fr := Freshness{LastCounter: last, NowMs: now, MaxValidityMs: maxValidity, MaxCounterStep: step}
		if got, want := verifyFresh(t, fx, h, fr), refFresh(h, fr); !sameOutcome(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
}
