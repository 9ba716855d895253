package wire

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/kernel/guard"
)

type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

func keyFor(t testing.TB, role guard.Role, seed byte) *SigningKey {
	var s [32]byte
	s[0] = seed
	k, err := GenerateSigningKey(role, seeded{rand.NewChaCha8(s)})
	require.NoError(t, err)
	return k
}

type fixture struct {
	clin, relay, implant, stranger *SigningKey
	v                              *Verifier
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{
		clin:     keyFor(t, guard.RoleClinician, 1),
		relay:    keyFor(t, guard.RoleRelay, 2),
		implant:  keyFor(t, guard.RoleImplant, 3),
		stranger: keyFor(t, guard.RoleClinician, 4),
	}
	trust, err := NewTrustList(f.clin.Public(), f.relay.Public(), f.implant.Public())
	require.NoError(t, err)
	f.v = &Verifier{DeviceID: "pump-0001", Trust: trust, MaxFrame: MaxRadioFrame}
	return f
}

func cmdHeader(counter uint64) Header {
	return Header{Kind: KindCommand, DeviceID: "pump-0001", Counter: counter, IssuedAtMs: 1000, ExpiresAtMs: 61000, Subkind: 1}
}

var fresh = Freshness{LastCounter: 4, NowMs: 2000, MaxValidityMs: 300_000}

func frame(t testing.TB, h Header, body []byte, k *SigningKey) []byte {
	e, err := Seal(h, body, k)
	require.NoError(t, err)
	b, err := e.Marshal()
	require.NoError(t, err)
	return b
}

func TestVerifyAcceptsAValidCommand(t *testing.T) {
	f := newFixture(t)
	e, role, err := f.v.Verify(frame(t, cmdHeader(5), []byte("ciphertext"), f.clin), KindCommand, fresh, false)
	require.NoError(t, err)
	assert.Equal(t, guard.RoleClinician, role)
	assert.Equal(t, []byte("ciphertext"), e.Body)
	assert.Equal(t, uint64(5), e.Header.Counter)
}

func TestVerifyRefusesEachBadFrame(t *testing.T) {
	f := newFixture(t)
	good := frame(t, cmdHeader(5), []byte("ciphertext"), f.clin)
	mutate := func(fn func(e *Envelope)) []byte {
		e, err := Decode(good, MaxFrame)
		require.NoError(t, err)
		fn(e)
		b, err := e.Marshal()
		require.NoError(t, err)
		return b
	}
	resign := func(fn func(h *Header)) []byte {
		h := cmdHeader(5)
		fn(&h)
		return frame(t, h, []byte("ciphertext"), f.clin)
	}
	sigFlip := append([]byte(nil), good...)
	sigFlip[len(sigFlip)-1] ^= 0x01
	bodyFlip := append([]byte(nil), good...)
	bodyFlip[bytes.Index(bodyFlip, []byte("ciphertext"))+3] ^= 0x01
	cases := []struct {
		name  string
		frame []byte
		kind  Kind
		fresh Freshness
		want  error
	}{
		{"oversized", bytes.Repeat([]byte{0}, MaxRadioFrame+1), KindCommand, fresh, ErrTooLarge},
		{"garbage", []byte{0xff, 0x00, 0x13}, KindCommand, fresh, ErrMalformed},
		{"empty", nil, KindCommand, fresh, ErrMalformed},
		{"trailing byte", append(append([]byte(nil), good...), 0), KindCommand, fresh, ErrMalformed},
		{"one flipped bit in the signature", sigFlip, KindCommand, fresh, ErrSignature},
		{"one flipped bit in the ciphertext", bodyFlip, KindCommand, fresh, ErrBodyDigest},
		{"body swapped", mutate(func(e *Envelope) { e.Body = []byte("other ciphertext") }), KindCommand, fresh, ErrBodyDigest},
		{"body dropped", mutate(func(e *Envelope) { e.Body = nil }), KindCommand, fresh, ErrBodyDigest},
		{"wrong version", mutate(func(e *Envelope) { e.Header.Version = 2 }), KindCommand, fresh, ErrVersion},
		{"wrong kind expected", good, KindVerdict, fresh, ErrKind},
		{"other device", resign(func(h *Header) { h.DeviceID = "pump-0002" }), KindCommand, fresh, ErrDevice},
		{"unknown key", frame(t, cmdHeader(5), []byte("c"), f.stranger), KindCommand, fresh, ErrUnknownKey},
		{"header field changed after signing", mutate(func(e *Envelope) { e.Header.Counter = 99 }), KindCommand, fresh, ErrSignature},
		{"replayed counter", good, KindCommand, Freshness{LastCounter: 5, NowMs: 2000, MaxValidityMs: 300_000}, ErrReplay},
		{"expired", good, KindCommand, Freshness{LastCounter: 4, NowMs: 61000, MaxValidityMs: 300_000}, ErrExpired},
		{"not yet valid", good, KindCommand, Freshness{LastCounter: 4, NowMs: 999, MaxValidityMs: 300_000}, ErrExpired},
		{"validity too long", good, KindCommand, Freshness{LastCounter: 4, NowMs: 2000, MaxValidityMs: 1000}, ErrExpired},
		{"counter jump", good, KindCommand, Freshness{LastCounter: 2, NowMs: 2000, MaxValidityMs: 300_000, MaxCounterStep: 2}, ErrCounterJump},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, role, err := f.v.Verify(tc.frame, tc.kind, tc.fresh, false)
			assert.ErrorIs(t, err, tc.want)
			assert.Nil(t, e)
			assert.Equal(t, guard.RoleNone, role)
		})
	}
}

// TestVerifyRefusesAWindowThatWraps: CMD-EXPIRY in machine arithmetic at
// the wire layer. A clinician-signed command valid from math.MinInt64 to
// math.MaxInt64 (or from now − 2^62 to now + 2^62 + 2^61) has a window far
// longer than the bound; ExpiresAtMs − IssuedAtMs must not wrap to a
// negative number that passes it.
func TestVerifyRefusesAWindowThatWraps(t *testing.T) {
	f := newFixture(t)
	const now = 2000
	cases := []struct {
		name            string
		issued, expires int64
		maxValidity     int64
		want            error
	}{
		{"MinInt64 to MaxInt64", math.MinInt64, math.MaxInt64, 300_000, ErrExpired},
		{"now − 2^62 to now + 2^62 + 2^61", now - 1<<62, now + 1<<62 + 1<<61, 300_000, ErrExpired},
		{"MinInt64+1 to MaxInt64", math.MinInt64 + 1, math.MaxInt64, 300_000, ErrExpired},
		{"whole range against the largest bound", math.MinInt64, math.MaxInt64, math.MaxInt64, ErrExpired},
		{"2^63 against the largest bound", -1, math.MaxInt64, math.MaxInt64, ErrExpired},
		{"wrapping window against a negative bound", math.MinInt64, math.MaxInt64, -1, ErrExpired},
		{"negative bound refuses a 1 ms window", now, now + 1, -1, ErrExpired},
		{"MaxInt64 long against the largest bound", 0, math.MaxInt64, math.MaxInt64, nil},
		{"exactly the bound", now, now + 300_000, 300_000, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := cmdHeader(5)
			h.IssuedAtMs, h.ExpiresAtMs = tc.issued, tc.expires
			fr := Freshness{LastCounter: 4, NowMs: now, MaxValidityMs: tc.maxValidity}
			_, _, err := f.v.Verify(frame(t, h, []byte("ciphertext"), f.clin), KindCommand, fr, false)
			if tc.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.want, "window [%d, %d) at %d, bound %d", tc.issued, tc.expires, now, tc.maxValidity)
			}
		})
	}
}

// TestVerifyBoundsTheCounterStep: CMD-COUNTER-STEP at the wire layer. With
// MaxCounterStep set, a counter more than the step above the last accepted
// is refused as a jump (before its validity window is looked at); with 0 the
// stream is not bounded.
func TestVerifyBoundsTheCounterStep(t *testing.T) {
	f := newFixture(t)
	const step = 1 << 20
	cases := []struct {
		name    string
		last    uint64
		counter uint64
		step    uint64
		want    error
	}{
		{"next counter", 4, 5, step, nil},
		{"exactly the step", 4, 4 + step, step, nil},
		{"one above the step", 4, 5 + step, step, ErrCounterJump},
		{"10^15", 4, 1_000_000_000_000_000, step, ErrCounterJump},
		{"2^64-1", 4, math.MaxUint64, step, ErrCounterJump},
		{"2^64-1 from 0", 0, math.MaxUint64, step, ErrCounterJump},
		{"2^64-1 at the step below it", math.MaxUint64 - step, math.MaxUint64, step, nil},
		{"2^64-1 with the largest step", 0, math.MaxUint64, math.MaxUint64, nil},
		{"replay is a replay, not a jump", math.MaxUint64, 5, step, ErrReplay},
		{"no bound: 2^64-1 accepted", 4, math.MaxUint64, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fr := Freshness{LastCounter: tc.last, NowMs: 2000, MaxValidityMs: 300_000, MaxCounterStep: tc.step}
			_, _, err := f.v.Verify(frame(t, cmdHeader(tc.counter), []byte("ciphertext"), f.clin), KindCommand, fr, false)
			if tc.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
	// A jump is refused before the window: an expired jump is a jump.
	h := cmdHeader(math.MaxUint64)
	h.IssuedAtMs, h.ExpiresAtMs = math.MinInt64, math.MaxInt64
	_, _, err := f.v.Verify(frame(t, h, []byte("c"), f.clin), KindCommand, Freshness{LastCounter: 4, NowMs: 2000, MaxValidityMs: 300_000, MaxCounterStep: step}, false)
	assert.ErrorIs(t, err, ErrCounterJump)
}

func TestRoleIsBoundToKind(t *testing.T) {
	f := newFixture(t)
	// A relay key cannot seal a command, and a verdict signed by a clinician
	// key (forged into the frame) is refused for its role.
	_, err := Seal(cmdHeader(5), nil, f.relay)
	assert.ErrorIs(t, err, ErrRole)
	h := Header{Kind: KindVerdict, DeviceID: "pump-0001", Counter: 5, IssuedAtMs: 1000, ExpiresAtMs: 2500}
	e, err := Seal(h, []byte("v"), f.relay)
	require.NoError(t, err)
	e.Header.KeyID = f.clin.ID[:]
	b, err := e.Marshal()
	require.NoError(t, err)
	_, _, err = f.v.Verify(b, KindVerdict, fresh, false)
	assert.ErrorIs(t, err, ErrRole)
}

func TestDetachedEnvelopeVerifiesWithoutItsBody(t *testing.T) {
	f := newFixture(t)
	body := bytes.Repeat([]byte{7}, 1<<20) // a large controller ciphertext
	e, err := Seal(cmdHeader(5), body, f.clin)
	require.NoError(t, err)
	b, err := e.Detached().Marshal()
	require.NoError(t, err)
	assert.Less(t, len(b), 300, "detached command header is small enough for the radio")
	got, _, err := f.v.Verify(b, KindCommand, fresh, true)
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(body), [32]byte(got.Header.BodyDigest))
	_, _, err = f.v.Verify(b, KindCommand, fresh, false)
	assert.ErrorIs(t, err, ErrBodyDigest, "detached form only where allowed")
}

func TestNonCanonicalEncodingIsRefused(t *testing.T) {
	f := newFixture(t)
	good := frame(t, cmdHeader(5), []byte("x"), f.clin)
	// Re-encode the counter (map key 4) with a longer integer form.
	i := bytes.Index(good, []byte{0x04, 0x05})
	require.Positive(t, i)
	long := append(append(append([]byte(nil), good[:i+1]...), 0x18, 0x05), good[i+2:]...)
	_, err := Decode(long, MaxFrame)
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestValueCommitment(t *testing.T) {
	key := bytes.Repeat([]byte{9}, BindKeySize)
	c := CommitValues(key, "pump-0001", 5, 1, []int64{300})
	assert.True(t, CheckValues(key, "pump-0001", 5, 1, []int64{300}, c))
	assert.False(t, CheckValues(key, "pump-0001", 5, 1, []int64{301}, c), "other value")
	assert.False(t, CheckValues(key, "pump-0001", 6, 1, []int64{300}, c), "other counter")
	assert.False(t, CheckValues(key, "pump-0002", 5, 1, []int64{300}, c), "other device")
	other := bytes.Repeat([]byte{8}, BindKeySize)
	assert.False(t, CheckValues(other, "pump-0001", 5, 1, []int64{300}, c), "other key")
}

func TestTrustListRefusesBadKeys(t *testing.T) {
	f := newFixture(t)
	_, err := NewTrustList(f.clin.Public(), f.clin.Public())
	assert.ErrorIs(t, err, ErrKeyMaterial)
	k := f.clin.Public()
	k.ID[0] ^= 1
	_, err = NewTrustList(k)
	assert.ErrorIs(t, err, ErrKeyMaterial)
	k = f.clin.Public()
	k.Role = guard.RoleNone
	_, err = NewTrustList(k)
	assert.True(t, errors.Is(err, ErrKeyMaterial))
}

// FuzzDecode: the decoder never panics, and whatever it accepts re-encodes
// to exactly the input.
func FuzzDecode(f *testing.F) {
	fx := newFixture(f)
	f.Add(frame(f, cmdHeader(5), []byte("ciphertext"), fx.clin))
	f.Add([]byte{0xa0})
	f.Add([]byte{0xa3, 0x01, 0xa0, 0x02, 0x40, 0x03, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b, MaxRadioFrame)
		if err != nil {
			return
		}
		again, err := e.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted a frame that does not re-encode to itself")
		}
	})
}

// FuzzVerify: no input panics the verifier or verifies without a signature
// by a trusted key.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	good := frame(f, cmdHeader(5), []byte("ciphertext"), fx.clin)
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, _, err := fx.v.Verify(b, KindCommand, fresh, true)
		if err == nil && !bytes.Equal(e.Header.KeyID, fx.clin.ID[:]) {
			t.Fatalf("verified a frame not signed by the clinician key")
		}
	})
}

func TestKeyFilesRoundTrip(t *testing.T) {
	f := newFixture(t)
	b, err := MarshalSigningKey(f.clin)
	require.NoError(t, err)
	k, err := UnmarshalSigningKey(b)
	require.NoError(t, err)
	assert.Equal(t, f.clin.ID, k.ID)
	assert.Equal(t, f.clin.Role, k.Role)
	assert.Equal(t, f.clin.Private, k.Private)

	tb, err := MarshalTrustedKeys(f.clin.Public(), f.relay.Public())
	require.NoError(t, err)
	tl, keys, err := UnmarshalTrustList(tb)
	require.NoError(t, err)
	assert.Len(t, keys, 2)
	got, ok := tl.Lookup(f.relay.ID)
	assert.True(t, ok)
	assert.Equal(t, guard.RoleRelay, got.Role)

	_, err = UnmarshalSigningKey([]byte(`{"format":"implantfhe-ed25519-key/v1","role":"root"}`))
	assert.ErrorIs(t, err, ErrKeyMaterial)
	tampered := bytes.Replace(tb, []byte(`"relay"`), []byte(`"clinician"`), 1)
	tl, _, err = UnmarshalTrustList(tampered)
	require.NoError(t, err, "a role change is a different (valid) trust list")
	got, _ = tl.Lookup(f.relay.ID)
	assert.Equal(t, guard.RoleClinician, got.Role)
}

// FuzzUnmarshalTrustList: key files never panic the loader, and whatever it
// accepts is a consistent trust list.
func FuzzUnmarshalTrustList(f *testing.F) {
	fx := newFixture(f)
	b, _ := MarshalTrustedKeys(fx.clin.Public(), fx.relay.Public())
	f.Add(b)
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		tl, keys, err := UnmarshalTrustList(in)
		if err != nil {
			return
		}
		for _, k := range keys {
			got, ok := tl.Lookup(k.ID)
			if !ok || got.Role != k.Role {
				t.Fatal("accepted key not in the trust list")
			}
		}
	})
}
