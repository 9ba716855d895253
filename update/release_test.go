package update_test

import (
	"bytes"
	"crypto/ecdh"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/update"
)

func (f *fixture) params(version, counter uint64) update.Params {
	return update.Params{VendorID: vendor, ClassID: class, Version: version, SecurityCounter: counter,
		ChunkSize: chunkSize, Recipients: []*ecdh.PublicKey{f.dev.PublicKey()}}
}

// TestReleaseRoundTrip: a release encodes and decodes to the same manifest
// and chunks, and installs.
func TestReleaseRoundTrip(t *testing.T) {
	f := newFixture(t, 50)
	img := f.bytes(3*chunkSize + 17)
	r, err := update.NewRelease(img, f.params(2, 2), f.rng, f.mfr[:2]...)
	require.NoError(t, err)
	b, err := r.Marshal()
	require.NoError(t, err)
	got, m, err := update.DecodeRelease(b)
	require.NoError(t, err)
	require.Equal(t, r.Manifest, got.Manifest)
	require.Equal(t, r.Chunks, got.Chunks)
	require.Equal(t, uint64(2), m.Body.Version)
	s := f.open(t)
	install(t, s, &release{image: img, manifest: got.Manifest, chunks: got.Chunks})
	out, err := s.ReadImage(s.State().Active)
	require.NoError(t, err)
	require.Equal(t, img, out)
}

// TestDecodeReleaseRefuses: every structural fault is a typed error.
func TestDecodeReleaseRefuses(t *testing.T) {
	f := newFixture(t, 51)
	r, err := update.NewRelease(f.bytes(2*chunkSize), f.params(2, 2), f.rng, f.mfr[:2]...)
	require.NoError(t, err)
	good, err := r.Marshal()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, update.ErrMalformed},
		{"bad magic", append([]byte("XXXXXXXX"), good[8:]...), update.ErrMalformed},
		{"manifest length beyond the data", append(append([]byte(nil), good[:8]...), 0x00, 0xff, 0xff, 0xff), update.ErrSize},
		{"one ciphertext byte short", good[:len(good)-1], update.ErrSize},
		{"one ciphertext byte extra", append(bytes.Clone(good), 0), update.ErrSize},
		{"manifest header altered", flipAt(good, 12), update.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := update.DecodeRelease(tc.b)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func flipAt(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

// TestMismatchedReleaseRefusedAtDigest: one flipped image byte after hashing
// (a faulty build) authenticates chunk by chunk and is refused only by the
// digest check of the staged image; nothing changes on the implant.
func TestMismatchedReleaseRefusedAtDigest(t *testing.T) {
	f := newFixture(t, 52)
	img := f.bytes(4 * chunkSize)
	bad := bytes.Clone(img)
	bad[len(bad)/2] ^= 0x01
	r, err := update.NewMismatchedRelease(img, bad, f.params(2, 2), f.rng, f.mfr[:2]...)
	require.NoError(t, err)
	s := f.open(t)
	before := s.State()
	require.NoError(t, s.Begin(r.Manifest))
	for i, c := range r.Chunks {
		require.NoError(t, s.WriteChunk(i, c), "chunk %d authenticates", i)
	}
	require.ErrorIs(t, s.Finish(), update.ErrDigest)
	after := s.State()
	require.Equal(t, update.PhaseIdle, after.Phase)
	require.Equal(t, before.Active, after.Active)
	require.Equal(t, before.ConfirmedCounter, after.ConfirmedCounter)
	info, err := s.Boot(true)
	require.NoError(t, err)
	require.False(t, info.Trial)
	require.Equal(t, uint64(factoryVersion), info.Version)

	// The correct release of the same image (same declared digest) then
	// installs: nothing of the abandoned download is reused.
	good, err := update.NewRelease(img, f.params(2, 2), f.rng, f.mfr[:2]...)
	require.NoError(t, err)
	install(t, s, &release{image: img, manifest: good.Manifest, chunks: good.Chunks})
	out, err := s.ReadImage(s.State().Active)
	require.NoError(t, err)
	require.Equal(t, img, out)

	_, err = update.NewMismatchedRelease(img, bad[:10], f.params(2, 2), f.rng, f.mfr[:2]...)
	require.ErrorIs(t, err, update.ErrSize)
}

// FuzzDecodeRelease: the release decoder never panics, and what it accepts
// re-encodes to exactly its input.
func FuzzDecodeRelease(f *testing.F) {
	fx := newFixture(f, 53)
	r, err := update.NewRelease(fx.bytes(2*chunkSize+5), fx.params(2, 2), fx.rng, fx.mfr[:2]...)
	require.NoError(f, err)
	good, err := r.Marshal()
	require.NoError(f, err)
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte("IFHEREL1\x00\x00\x00\x01\xa0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := update.DecodeRelease(b)
		if err != nil {
			return
		}
		again, err := got.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted a release that does not re-encode to itself: %v", err)
		}
	})
}
