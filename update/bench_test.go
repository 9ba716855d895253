package update_test

import (
	"crypto/ecdh"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/hal/filestore"
	"github.com/implantfhe/implantfhe/update"
)

// BenchmarkStageAndVerify1MiB: Begin (signature checks, key unwrap),
// 256 × 4 KiB chunks authenticated, decrypted and staged, and Finish (the
// image read back and hashed) on the mock storage.
func BenchmarkStageAndVerify1MiB(b *testing.B) {
	f := newFixture(b, 40)
	r := f.release(b, f.bytes(1<<20), 2, 2, f.mfr[:2], func(p *update.Params) { p.ChunkSize = update.DefaultChunkSize })
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		g := f.reflash(b)
		s := g.open(b)
		b.StartTimer()
		stage(b, s, r)
	}
}

// BenchmarkPackage1MiB is the manufacturer side: encrypt and wrap.
func BenchmarkPackage1MiB(b *testing.B) {
	f := newFixture(b, 41)
	img := f.bytes(1 << 20)
	p := update.Params{VendorID: vendor, ClassID: class, Version: 2, SecurityCounter: 2, Recipients: []*ecdh.PublicKey{f.dev.PublicKey()}}
	b.SetBytes(1 << 20)
	for b.Loop() {
		if _, _, err := update.Package(img, p, f.rng); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStageAndVerify1MiBFilestore is the same on file storage (each
// chunk written to a temporary file, fsynced and renamed, as on the board).
func BenchmarkStageAndVerify1MiBFilestore(b *testing.B) {
	f := newFixture(b, 42)
	r := f.release(b, f.bytes(1<<20), 2, 2, f.mfr[:2], func(p *update.Params) { p.ChunkSize = update.DefaultChunkSize })
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		st, err := filestore.Open(b.TempDir())
		require.NoError(b, err)
		cfg := f.cfg
		cfg.Storage = st
		require.NoError(b, update.Provision(cfg, f.root, f.factory, factoryVersion, factoryCounter, chunkSize))
		s, err := update.Open(cfg)
		require.NoError(b, err)
		b.StartTimer()
		stage(b, s, r)
	}
}

// stage is what both benchmarks time: begin, every chunk, finish.
func stage(b *testing.B, s *update.Slots, r *release) {
	require.NoError(b, s.Begin(r.manifest))
	for i, c := range r.chunks {
		if err := s.WriteChunk(i, c); err != nil {
			b.Fatal(err)
		}
	}
	require.NoError(b, s.Finish())
}
