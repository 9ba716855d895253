package firmware_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

// TestPacerUpdateSwitchKeepsBackupPacing: PACE-UPDATE-SWITCH through the
// pacemaker firmware. A finish asked 800 ms after the last ventricular event
// (VVI 65 after power-on: escape after 923 ms) with a 200 ms switch-over is
// refused — the switch would run past the escape deadline; asked right
// after a pace, it is granted, and the image is test-booted and confirmed.
func TestPacerUpdateSwitchKeepsBackupPacing(t *testing.T) {
	board := mock.New(mock.Config{Seed: 3})
	signer, err := wire.GenerateSigningKey(guard.RoleImplant, rand.Reader)
	require.NoError(t, err)
	trust, err := wire.NewTrustList()
	require.NoError(t, err)
	var pubs []wire.TrustedKey
	var mfr []*wire.SigningKey
	for range 3 {
		k, err := wire.GenerateSigningKey(guard.RoleManufacturer, rand.Reader)
		require.NoError(t, err)
		mfr, pubs = append(mfr, k), append(pubs, k.Public())
	}
	root, err := update.NewTrustRoot(1, 2, pubs...)
	require.NoError(t, err)
	dev, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	slots := update.Config{Storage: board.Storage, VendorID: vendorID, ClassID: classPacer, DeviceKey: dev}
	require.NoError(t, update.Provision(slots, root, randBytes(t, 900), 1, 1, updChunk))
	const switchMs units.Millis = 200
	upd := &firmware.UpdateConfig{Slots: slots, SwitchMs: switchMs, SelfTest: func([]byte) error { return nil }}
	seal, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	im, err := firmware.BootPacer("pacer-0001", pacer.DefaultConfig(), firmware.Keys{Signer: signer, Trust: trust, AckSeal: seal.PublicKey()}, board.HAL(), upd)
	require.NoError(t, err)

	rel, err := update.NewRelease(randBytes(t, 3*updChunk), update.Params{VendorID: vendorID, ClassID: classPacer, Version: 2,
		SecurityCounter: 2, ChunkSize: updChunk, Recipients: []*ecdh.PublicKey{dev.PublicKey()}}, rand.Reader, mfr[0], mfr[1])
	require.NoError(t, err)
	out, _, err := im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdOffer, Manifest: rel.Manifest}))
	require.NoError(t, err)
	require.Equal(t, protocol.EvDownloading, out.Event, "%v", out.Err)
	for i, c := range rel.Chunks {
		out, _, err = im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdChunk, Index: uint32(i), Chunk: c}))
		require.NoError(t, err)
		require.Equal(t, protocol.EvChunkStaged, out.Event, "%v", out.Err)
	}

	// Run the pacer until a ventricular pace has just happened.
	steps := 0
	step := func() {
		steps++
		require.Less(t, steps, 10_000, "pacer state %+v", im.State())
		board.Clock.Advance(1)
		require.NoError(t, im.Tick())
	}
	for s := im.State(); s.NowMs == 0 || s.LastVMs != s.NowMs; s = im.State() {
		step()
	}
	lri := pacer.LowerRateIntervalMs(im.State().Active.LRL)
	require.Equal(t, pacer.ModeVVI, im.State().Active.Mode)
	// 800 ms later the escape deadline is 123 ms away: refused.
	paced := im.State().LastVMs
	for im.Now()-paced < lri-switchMs+77 {
		step()
	}
	require.Equal(t, paced, im.State().LastVMs, "no pace in between")
	out, ack, err := im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdFinish}))
	require.NoError(t, err)
	require.Equal(t, protocol.EvSwitchRefused, out.Event)
	require.ErrorIs(t, out.Err, update.ErrSwitchRefused)
	assert.False(t, out.Reboot)
	// The kernel's reason reaches the clinic sealed; the clear part says
	// only "switch refused" (the relay asks again).
	env, err := wire.Decode(ack, wire.MaxFrame)
	require.NoError(t, err)
	a, err := protocol.DecodeAck(env.Body)
	require.NoError(t, err)
	assert.Equal(t, protocol.EvSwitchRefused, a.Update.Event)
	assert.Empty(t, a.Update.Error, "no kernel reason in clear")
	priv, err := protocol.OpenPrivate(seal, "pacer-0001", a)
	require.NoError(t, err)
	assert.Equal(t, reason.SwitchEscapeDeadline, priv.Reason)

	// Right after the next pace: granted.
	last := im.State().LastVMs
	for im.State().LastVMs == last {
		step()
	}
	out, _, err = im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdFinish}))
	require.NoError(t, err)
	require.Equal(t, protocol.EvStaged, out.Event, "%v", out.Err)
	require.True(t, out.Reboot)
	before := im.State()
	require.NoError(t, im.Reboot())
	assert.Equal(t, uint64(2), im.Image.Version)
	assert.Equal(t, before.Active, im.State().Active, "the pacing program survives the switch")
	assert.Equal(t, before.LastVMs, im.State().LastVMs)
	evs := updateEvents(t, board.Storage)
	assert.Equal(t, []string{protocol.EvOffered.String(), protocol.EvDownloading.String(), "switch:false", protocol.EvSwitchRefused.String(),
		"switch:true", protocol.EvStaged.String(), "switch:true", protocol.EvTrial.String(), protocol.EvConfirmed.String()}, evs)
}
