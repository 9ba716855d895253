package update_test

import (
	"crypto/ecdh"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

const (
	vendor     = 0x1F2E
	class      = 7 // insulin pump, hardware rev 7
	otherClass = 8
	chunkSize  = 512

	factoryVersion = 1
	factoryCounter = 1
)

// fixture is one manufacturer (three keys, two needed) and one implant.
type fixture struct {
	rng     *rand.ChaCha8
	mfr     []*wire.SigningKey
	root    *update.TrustRoot
	dev     *ecdh.PrivateKey
	board   *mock.Board
	cfg     update.Config
	factory []byte
}

func seedFor(seed uint64) [32]byte {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return s
}

func newFixture(t testing.TB, seed uint64) *fixture {
	t.Helper()
	f := &fixture{rng: rand.NewChaCha8(seedFor(seed))}
	var pubs []wire.TrustedKey
	for range 3 {
		k, err := wire.GenerateSigningKey(guard.RoleManufacturer, f.rng)
		require.NoError(t, err)
		f.mfr = append(f.mfr, k)
		pubs = append(pubs, k.Public())
	}
	var err error
	f.root, err = update.NewTrustRoot(1, 2, pubs...)
	require.NoError(t, err)
	f.dev, err = ecdh.X25519().GenerateKey(f.rng)
	require.NoError(t, err)
	f.board = mock.New(mock.Config{Seed: seed})
	f.cfg = update.Config{Storage: f.board.Storage, VendorID: vendor, ClassID: class, DeviceKey: f.dev}
	f.factory = f.bytes(1000)
	require.NoError(t, update.Provision(f.cfg, f.root, f.factory, factoryVersion, factoryCounter, chunkSize))
	return f
}

// reflash is the same manufacturer and device keys on a fresh board with the
// factory image. (crypto/ecdh ignores the rand argument, so device keys
// cannot be regenerated from a seed.)
func (f *fixture) reflash(t testing.TB) *fixture {
	t.Helper()
	g := *f
	g.board = mock.New(mock.Config{Seed: 1})
	g.cfg.Storage = g.board.Storage
	require.NoError(t, update.Provision(g.cfg, g.root, g.factory, factoryVersion, factoryCounter, chunkSize))
	return &g
}

func (f *fixture) bytes(n int) []byte {
	b := make([]byte, n)
	_, _ = f.rng.Read(b)
	return b
}

func (f *fixture) open(t testing.TB) *update.Slots {
	t.Helper()
	s, err := update.Open(f.cfg)
	require.NoError(t, err)
	return s
}

// release is one packaged image: the manifest frame and ciphertext chunks.
type release struct {
	image    []byte
	body     *update.ManifestBody
	manifest []byte
	chunks   [][]byte
}

type relOpt func(*update.Params)

func (f *fixture) release(t testing.TB, image []byte, version, counter uint64, signers []*wire.SigningKey, opts ...relOpt) *release {
	t.Helper()
	p := update.Params{
		VendorID: vendor, ClassID: class, Version: version, SecurityCounter: counter,
		ChunkSize: chunkSize, Recipients: []*ecdh.PublicKey{f.dev.PublicKey()},
	}
	for _, o := range opts {
		o(&p)
	}
	body, chunks, err := update.Package(image, p, f.rng)
	require.NoError(t, err)
	m, err := update.Sign(*body, signers...)
	require.NoError(t, err)
	frame, err := m.Marshal()
	require.NoError(t, err)
	return &release{image: image, body: body, manifest: frame, chunks: chunks}
}

// install runs a whole update on s: begin, chunks, finish, trial boot,
// confirm.
func install(t testing.TB, s *update.Slots, r *release) {
	t.Helper()
	require.NoError(t, s.Begin(r.manifest))
	for i, c := range r.chunks {
		require.NoError(t, s.WriteChunk(i, c))
	}
	require.NoError(t, s.Finish())
	info, err := s.Boot(true)
	require.NoError(t, err)
	require.True(t, info.Trial, "the staged image is test-booted")
	require.NoError(t, s.Confirm())
}
