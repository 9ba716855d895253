package fhe

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryObjectRoundTripsThroughItsEncoding(t *testing.T) {
	f := getFixture(t)
	relay := NewRelay(f.relayI)
	cmd, err := f.relayI.PublicKey().EncryptCommand(f.schemaPB, []int64{500, 100, 120, 60, 180, 50})
	require.NoError(t, err)
	lim, err := f.relayI.PublicKey().EncryptLimits(f.schemaPB, []int64{600, 100, 120, 60, 180, 50})
	require.NoError(t, err)
	v, err := relay.Compare(f.schemaPB, cmd, lim)
	require.NoError(t, err)
	pkt, err := relay.ForImplant(f.schemaPB, cmd, v)
	require.NoError(t, err)

	sk, err := f.implant.MarshalBinary()
	require.NoError(t, err)
	sk2, err := UnmarshalSecretKeys(sk)
	require.NoError(t, err)
	pb, err := pkt.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, pkt.Size(), len(pb))
	pkt2, err := UnmarshalRadioCiphertext(pb)
	require.NoError(t, err)
	d, err := sk2.OpenCommand(f.schemaPB, pkt2)
	require.NoError(t, err, "decoded secret key opens decoded packet")
	assert.Equal(t, []int64{500, 100, 120, 60, 180, 50}, d.Values)

	rkb, err := f.relayI.MarshalBinary()
	require.NoError(t, err)
	rk2, err := UnmarshalRelayKeys(rkb)
	require.NoError(t, err)
	cb, err := cmd.MarshalBinary()
	require.NoError(t, err)
	cmd2, err := UnmarshalCiphertext(cb)
	require.NoError(t, err)
	lb, err := lim.MarshalBinary()
	require.NoError(t, err)
	lim2, err := UnmarshalCiphertext(lb)
	require.NoError(t, err)
	v2, err := NewRelay(rk2).Compare(f.schemaPB, cmd2, lim2)
	require.NoError(t, err, "decoded relay keys evaluate decoded ciphertexts")
	got, err := f.implant.OpenVerdict(f.schemaPB, v2)
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true, true, true, true, true}, got)

	pkb, err := f.implant.PublicKey().MarshalBinary()
	require.NoError(t, err)
	pk2, err := UnmarshalPublicKey(pkb)
	require.NoError(t, err)
	assert.Equal(t, DomainImplant, pk2.Domain())
}

func TestDecodersRefuseBadInputWithTypedErrors(t *testing.T) {
	f := getFixture(t)
	good, err := f.relayI.PublicKey().MarshalBinary()
	require.NoError(t, err)
	mut := func(fn func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return fn(b)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"bad magic", mut(func(b []byte) []byte { b[0] = 'X'; return b }), ErrBadMagic},
		{"future version", mut(func(b []byte) []byte { b[4] = 9; return b }), ErrBadVersion},
		{"wrong kind", mut(func(b []byte) []byte { b[5] = byte(KindCiphertext); return b }), ErrBadKind},
		{"bad domain", mut(func(b []byte) []byte { b[6] = 7; return b }), ErrMalformed},
		{"unknown set", mut(func(b []byte) []byte { binary.BigEndian.PutUint16(b[8:], 999); return b }), ErrUnknownParamSet},
		{"truncated", mut(func(b []byte) []byte { return b[:len(b)-1] }), ErrTruncated},
		{"coefficient above modulus", mut(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[headerLen:], ^uint64(0))
			return b
		}), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnmarshalPublicKey(tc.in)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

// fuzzSeeds gives each fuzz target one valid encoding of its kind.
func fuzzSeed(f *testing.F, kind Kind) {
	fx := getFixture(f)
	var b []byte
	var err error
	switch kind {
	case KindPublicKey:
		b, err = fx.implant.PublicKey().MarshalBinary()
	case KindCiphertext:
		var c *Ciphertext
		c, err = fx.relayC.PublicKey().EncryptReadings(GlucoseMgPerDL, 0, []int64{100})
		if err == nil {
			b, err = c.MarshalBinary()
		}
	case KindRadioCiphertext:
		relay := NewRelay(fx.relayI)
		s := Schema{{BolusCentiUnits, AtMost}}
		cmd, _ := fx.relayI.PublicKey().EncryptCommand(s, []int64{10})
		lim, _ := fx.relayI.PublicKey().EncryptLimits(s, []int64{20})
		v, _ := relay.Compare(s, cmd, lim)
		var pkt *RadioCiphertext
		if pkt, err = relay.ForImplant(s, cmd, v); err == nil {
			b, err = pkt.MarshalBinary()
		}
	}
	require.NoError(f, err)
	f.Add(b)
	f.Add(b[:headerLen])
}

func FuzzUnmarshalPublicKey(f *testing.F) {
	fuzzSeed(f, KindPublicKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		if pk, err := UnmarshalPublicKey(b); err == nil {
			out, err := pk.MarshalBinary()
			require.NoError(t, err)
			require.Equal(t, b, out, "decode then encode is the identity")
		}
	})
}

func FuzzUnmarshalCiphertext(f *testing.F) {
	fuzzSeed(f, KindCiphertext)
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := UnmarshalCiphertext(b); err == nil {
			_, err := c.MarshalBinary()
			require.NoError(t, err)
		}
	})
}

func FuzzUnmarshalRadioCiphertext(f *testing.F) {
	fuzzSeed(f, KindRadioCiphertext)
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := UnmarshalRadioCiphertext(b); err == nil {
			out, err := c.MarshalBinary()
			require.NoError(t, err)
			require.Equal(t, b, out, "decode then encode is the identity")
		}
	})
}

func FuzzUnmarshalSecretKeys(f *testing.F) {
	fx := getFixture(f)
	b, err := fx.clinic.MarshalBinary()
	require.NoError(f, err)
	f.Add(b[:headerLen+64])
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = UnmarshalSecretKeys(b)
	})
}

func FuzzUnmarshalRelayKeys(f *testing.F) {
	f.Add([]byte("IFHE\x01\x03\x01\x00\x80\x02\x00\x00\x00\x00\x00\x08"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = UnmarshalRelayKeys(b)
	})
}
