package update_test

import (
	"crypto/ecdh"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

func TestValidUpdateIsStagedTestBootedAndConfirmed(t *testing.T) {
	f := newFixture(t, 1)
	s := f.open(t)
	info, err := s.Boot(true)
	require.NoError(t, err)
	assert.Equal(t, update.BootInfo{Slot: update.SlotA, Version: factoryVersion, SecurityCounter: factoryCounter}, info)

	r := f.release(t, f.bytes(1300), 2, 5, f.mfr[:2])
	require.NoError(t, s.Begin(r.manifest))
	assert.Equal(t, []int{0, 1, 2}, s.Missing())
	// Out of order and repeated.
	for _, i := range []int{2, 0, 2, 1} {
		require.NoError(t, s.WriteChunk(i, r.chunks[i]))
	}
	assert.Empty(t, s.Missing())
	assert.Equal(t, update.PhaseDownloading, s.State().Phase)
	require.NoError(t, s.Finish())
	assert.Equal(t, update.PhasePending, s.State().Phase)
	assert.Equal(t, uint64(factoryCounter), s.State().ConfirmedCounter, "the counter waits for Confirm")

	info, err = s.Boot(true)
	require.NoError(t, err)
	assert.Equal(t, update.BootInfo{Slot: update.SlotB, Version: 2, SecurityCounter: 5, Trial: true}, info)
	got, err := s.ReadImage(update.SlotB)
	require.NoError(t, err)
	assert.Equal(t, r.image, got)
	assert.Equal(t, uint64(factoryCounter), s.State().ConfirmedCounter, "a trial boot does not raise the counter")

	require.NoError(t, s.Confirm())
	st := s.State()
	assert.Equal(t, update.SlotB, st.Active)
	assert.Equal(t, update.PhaseIdle, st.Phase)
	assert.Equal(t, uint64(5), st.ConfirmedCounter)

	// It survives a restart and keeps booting.
	s = f.open(t)
	info, err = s.Boot(true)
	require.NoError(t, err)
	assert.Equal(t, update.BootInfo{Slot: update.SlotB, Version: 2, SecurityCounter: 5}, info)

	// A second update goes to slot A.
	r3 := f.release(t, f.bytes(700), 3, 5, f.mfr[1:])
	install(t, s, r3)
	assert.Equal(t, update.SlotA, s.State().Active)
	got, err = s.ReadImage(update.SlotA)
	require.NoError(t, err)
	assert.Equal(t, r3.image, got)
}

func TestManifestIsRefusedBeforeAnythingIsWritten(t *testing.T) {
	f := newFixture(t, 2)
	s := f.open(t)
	// Raise the confirmed counter to 5 first.
	install(t, s, f.release(t, f.bytes(600), 2, 5, f.mfr[:2]))
	stranger, err := ecdh.X25519().GenerateKey(f.rng)
	require.NoError(t, err)
	outsider, err := wire.GenerateSigningKey(f.mfr[0].Role, f.rng)
	require.NoError(t, err)
	img := f.bytes(900)

	flipDigest := func(frame []byte) []byte {
		m, err := update.DecodeManifest(frame)
		require.NoError(t, err)
		m.Body.ImageDigest[0] ^= 1
		out, err := m.Marshal()
		require.NoError(t, err)
		return out
	}
	for _, tc := range []struct {
		name  string
		frame func() []byte
		want  error
	}{
		{"security counter below the confirmed one", func() []byte {
			return f.release(t, img, 3, 4, f.mfr[:2]).manifest
		}, update.ErrRollback},
		{"version not above the running one", func() []byte {
			return f.release(t, img, 2, 5, f.mfr[:2]).manifest
		}, update.ErrRollback},
		{"image for another device class", func() []byte {
			return f.release(t, img, 3, 5, f.mfr[:2], func(p *update.Params) { p.ClassID = otherClass }).manifest
		}, update.ErrClass},
		{"image from another vendor", func() []byte {
			return f.release(t, img, 3, 5, f.mfr[:2], func(p *update.Params) { p.VendorID = vendor + 1 }).manifest
		}, update.ErrVendor},
		{"one of two required signatures", func() []byte {
			return f.release(t, img, 3, 5, f.mfr[2:]).manifest
		}, update.ErrThreshold},
		{"the same key signing twice", func() []byte {
			return f.release(t, img, 3, 5, []*wire.SigningKey{f.mfr[0], f.mfr[0]}).manifest
		}, update.ErrThreshold},
		{"a key outside the trust root", func() []byte {
			return f.release(t, img, 3, 5, []*wire.SigningKey{f.mfr[0], outsider}).manifest
		}, update.ErrThreshold},
		{"flipped byte in the plaintext digest field", func() []byte {
			return flipDigest(f.release(t, img, 3, 5, f.mfr[:2]).manifest)
		}, update.ErrSignature},
		{"no content key for this device", func() []byte {
			return f.release(t, img, 3, 5, f.mfr[:2], func(p *update.Params) {
				p.Recipients = []*ecdh.PublicKey{stranger.PublicKey()}
			}).manifest
		}, update.ErrDecrypt},
		{"image larger than the slot", func() []byte {
			return f.release(t, make([]byte, 4096), 3, 5, f.mfr[:2]).manifest
		}, update.ErrSize},
		{"not CBOR", func() []byte { return []byte("firmware.bin") }, update.ErrMalformed},
		{"oversized frame", func() []byte { return make([]byte, update.MaxManifestSize+1) }, update.ErrSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.cfg
			cfg.SlotSize = 2048
			s, err := update.Open(cfg)
			require.NoError(t, err)
			frame := tc.frame()
			ops := f.board.Storage.MutatingOps()
			err = s.Begin(frame)
			require.ErrorIs(t, err, tc.want, "got %v", err)
			assert.Equal(t, ops, f.board.Storage.MutatingOps(), "a refused manifest writes nothing")
			assert.Equal(t, update.PhaseIdle, s.State().Phase)
		})
	}
}

func TestTamperedChunksAreRefused(t *testing.T) {
	f := newFixture(t, 3)
	s := f.open(t)
	r := f.release(t, f.bytes(1300), 2, 2, f.mfr[:2])
	other := f.release(t, f.bytes(1300), 2, 2, f.mfr[:2])
	require.NoError(t, s.Begin(r.manifest))

	flipped := append([]byte(nil), r.chunks[1]...)
	flipped[100] ^= 0x01
	for _, tc := range []struct {
		name string
		i    int
		ct   []byte
		want error
	}{
		{"one flipped byte", 1, flipped, update.ErrDecrypt},
		{"chunk moved to another index", 0, r.chunks[1], update.ErrDecrypt},
		{"chunk of another image", 0, other.chunks[0], update.ErrDecrypt},
		{"a full chunk sent as the final one", 2, r.chunks[1], update.ErrSize},
		{"truncated chunk", 1, r.chunks[1][:100], update.ErrSize},
		{"index beyond the image", 3, r.chunks[2], update.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := f.board.Storage.MutatingOps()
			require.ErrorIs(t, s.WriteChunk(tc.i, tc.ct), tc.want)
			assert.Equal(t, ops, f.board.Storage.MutatingOps(), "nothing staged")
		})
	}
	assert.Equal(t, []int{0, 1, 2}, s.Missing())
	require.ErrorIs(t, s.Finish(), update.ErrState, "cannot finish with chunks missing")
	for i, c := range r.chunks {
		require.NoError(t, s.WriteChunk(i, c))
	}
	require.NoError(t, s.Finish())
}

func TestSelfTestFailureRevertsToPreviousSlot(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(t *testing.T, s *update.Slots)
	}{
		{"trial image never confirms before the next boot", func(t *testing.T, s *update.Slots) {}},
		{"self-test reports failure", func(t *testing.T, s *update.Slots) {
			slot, err := s.Revert()
			require.NoError(t, err)
			assert.Equal(t, update.SlotA, slot)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 4)
			s := f.open(t)
			r := f.release(t, f.bytes(800), 2, 3, f.mfr[:2])
			require.NoError(t, s.Begin(r.manifest))
			for i, c := range r.chunks {
				require.NoError(t, s.WriteChunk(i, c))
			}
			require.NoError(t, s.Finish())
			info, err := s.Boot(true)
			require.NoError(t, err)
			require.True(t, info.Trial)
			tc.fail(t, s)

			s = f.open(t) // reboot
			info, err = s.Boot(true)
			require.NoError(t, err)
			assert.Equal(t, update.SlotA, info.Slot)
			assert.Equal(t, uint64(factoryVersion), info.Version)
			st := s.State()
			assert.Equal(t, update.PhaseIdle, st.Phase)
			assert.False(t, st.Images[update.SlotB].Valid, "the failed image is never booted again")
			assert.Equal(t, uint64(factoryCounter), st.ConfirmedCounter)
			require.ErrorIs(t, s.Confirm(), update.ErrState, "too late to confirm")
			got, err := s.ReadImage(update.SlotA)
			require.NoError(t, err)
			assert.Equal(t, f.factory, got)
		})
	}
}

// TestTheSwitchIsTheCallersStep: Slots asks nobody; the caller verifies,
// asks its kernel, then marks pending, and tells Boot whether a trial boot
// is allowed.
func TestTheSwitchIsTheCallersStep(t *testing.T) {
	f := newFixture(t, 5)
	s := f.open(t)
	r := f.release(t, f.bytes(800), 2, 3, f.mfr[:2])
	require.NoError(t, s.Begin(r.manifest))
	for i, c := range r.chunks {
		require.NoError(t, s.WriteChunk(i, c))
	}
	require.ErrorIs(t, s.MarkPending(), update.ErrState, "not before Verify")
	require.NoError(t, s.Verify())
	assert.Equal(t, update.PhaseDownloading, s.State().Phase, "verified, not yet pending (the kernel said not now)")
	assert.False(t, s.PendingSwitch())
	require.NoError(t, s.MarkPending())
	assert.True(t, s.PendingSwitch())
	info, err := s.Boot(false)
	require.NoError(t, err)
	assert.Equal(t, update.BootInfo{Slot: update.SlotA, Version: factoryVersion, SecurityCounter: factoryCounter}, info)
	assert.Equal(t, update.PhasePending, s.State().Phase, "still pending while the kernel says no")
	info, err = s.Boot(true)
	require.NoError(t, err)
	assert.True(t, info.Trial)
}

func TestDownloadResumesAfterPowerCut(t *testing.T) {
	f := newFixture(t, 6)
	s := f.open(t)
	r := f.release(t, f.bytes(4*chunkSize), 2, 2, f.mfr[:2])
	require.NoError(t, s.Begin(r.manifest))
	require.NoError(t, s.WriteChunk(3, r.chunks[3]))
	require.NoError(t, s.WriteChunk(0, r.chunks[0]))
	f.board.Storage.CutPowerAfterBytes(100) // tears chunk 1
	require.ErrorIs(t, s.WriteChunk(1, r.chunks[1]), errPowerLoss)
	f.board.Restart()

	s = f.open(t)
	info, err := s.Boot(true)
	require.NoError(t, err)
	assert.Equal(t, update.SlotA, info.Slot)
	assert.Equal(t, []int{1, 2}, s.Missing(), "staged chunks survive; the torn one does not count")
	require.NoError(t, s.Begin(r.manifest), "Begin again is a no-op")
	ops := f.board.Storage.MutatingOps()
	require.NoError(t, s.WriteChunk(1, r.chunks[1]))
	require.NoError(t, s.WriteChunk(2, r.chunks[2]))
	assert.Equal(t, ops+2, f.board.Storage.MutatingOps(), "only the missing chunks are written")
	require.NoError(t, s.Finish())
}

func TestDamagedStateIsCorruptNotReset(t *testing.T) {
	f := newFixture(t, 7)
	s := f.open(t)
	install(t, s, f.release(t, f.bytes(600), 2, 9, f.mfr[:2]))
	for _, name := range []string{"update.state.a", "update.state.b"} {
		b, ok := f.board.Storage.Peek(name)
		require.True(t, ok)
		b[20] ^= 0x40
		f.board.Storage.Poke(name, b)
	}
	_, err := update.Open(f.cfg)
	require.ErrorIs(t, err, update.ErrCorrupt)
	require.ErrorIs(t, update.Provision(f.cfg, f.root, f.factory, 1, 1, chunkSize), update.ErrState,
		"re-provisioning would reset the security counter")
}

func TestDamagedSlotImageIsNeverBooted(t *testing.T) {
	f := newFixture(t, 8)
	s := f.open(t)
	r := f.release(t, f.bytes(1300), 2, 2, f.mfr[:2])
	require.NoError(t, s.Begin(r.manifest))
	for i, c := range r.chunks {
		require.NoError(t, s.WriteChunk(i, c))
	}
	require.NoError(t, s.Finish())
	// Bit rot in the staged image after Finish.
	b, ok := f.board.Storage.Peek("update.slot.b.000001")
	require.True(t, ok)
	b[60] ^= 1
	f.board.Storage.Poke("update.slot.b.000001", b)
	info, err := s.Boot(true)
	require.NoError(t, err)
	assert.Equal(t, update.SlotA, info.Slot)
	assert.True(t, info.Reverted)
}
