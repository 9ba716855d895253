package firmware_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

const (
	vendorID   = 0x1F2E
	classPump  = 0x0101
	classPacer = 0x0201
	updChunk   = 512
)

// updWorld is a world whose implant takes updates: a 2-of-3 manufacturer
// root, the device's X25519 key, and a factory image in slot A.
type updWorld struct {
	*world
	mfr     []*wire.SigningKey
	dev     *ecdh.PrivateKey
	factory []byte
	// selfTestOK decides the trial self-test.
	selfTestOK func(image []byte) error
}

func newUpdWorld(t *testing.T) *updWorld {
	u := &updWorld{}
	var pubs []wire.TrustedKey
	for range 3 {
		k, err := wire.GenerateSigningKey(guard.RoleManufacturer, rand.Reader)
		require.NoError(t, err)
		u.mfr, pubs = append(u.mfr, k), append(pubs, k.Public())
	}
	root, err := update.NewTrustRoot(1, 2, pubs...)
	require.NoError(t, err)
	u.dev, err = ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	u.factory = randBytes(t, 3*updChunk+100)
	u.selfTestOK = func([]byte) error { return nil }
	u.world = newWorldWith(t, func(w *world) {
		slots := update.Config{Storage: w.board.Storage, VendorID: vendorID, ClassID: classPump, DeviceKey: u.dev}
		require.NoError(t, update.Provision(slots, root, u.factory, 1, 1, updChunk))
		w.cfg.Update = &firmware.UpdateConfig{Slots: slots, SwitchMs: units.Second,
			SelfTest: func(img []byte) error { return u.selfTestOK(img) }}
	})
	return u
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func (u *updWorld) release(t testing.TB, img []byte, version, counter uint64, class uint32, signers ...*wire.SigningKey) *update.Release {
	r, err := update.NewRelease(img, update.Params{VendorID: vendorID, ClassID: class, Version: version, SecurityCounter: counter,
		ChunkSize: updChunk, Recipients: []*ecdh.PublicKey{u.dev.PublicKey()}}, rand.Reader, signers...)
	require.NoError(t, err)
	return r
}

func req(t testing.TB, r *protocol.UpdateRequest) []byte {
	b, err := protocol.EncodeUpdateRequest(r)
	require.NoError(t, err)
	return b
}

// ackRecord verifies an update acknowledgement and decodes its update
// information.
func (u *updWorld) ackRecord(t testing.TB, ack []byte) *protocol.UpdateInfo {
	trust, err := wire.NewTrustList(u.keys.Signer.Public())
	require.NoError(t, err)
	v := wire.Verifier{DeviceID: device, Trust: trust, MaxFrame: wire.MaxFrame}
	env, _, err := v.Verify(ack, wire.KindAck, wire.Freshness{NowMs: 0, MaxValidityMs: 1 << 40}, false)
	require.NoError(t, err)
	a, err := protocol.DecodeAck(env.Body)
	require.NoError(t, err)
	require.Equal(t, protocol.AckUpdate, a.Kind)
	return a.Update
}

// push runs offer, chunks and finish, and the reboot a staged image asks
// for; it returns the last update outcome and the first error.
func (u *updWorld) push(t testing.TB, r *update.Release) (firmware.UpdateOutcome, error) {
	out, _, err := u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdOffer, Manifest: r.Manifest}))
	if err != nil || out.Event != protocol.EvDownloading {
		return out, err
	}
	for i, c := range r.Chunks {
		out, _, err = u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdChunk, Index: uint32(i), Chunk: c}))
		if err != nil || out.Event != protocol.EvChunkStaged {
			return out, err
		}
	}
	out, _, err = u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdFinish}))
	if err != nil || !out.Reboot {
		return out, err
	}
	return out, u.im.Reboot()
}

// updateEvents lists the update events and switch decisions in the log.
func updateEvents(t testing.TB, st hal.Storage) []string {
	data, err := st.ReadAll("implant.log")
	require.NoError(t, err)
	var evs []string
	for r, err := range implog.Decode(data) {
		require.NoError(t, err)
		rec, err := protocol.DecodeRecord(r.Payload)
		require.NoError(t, err)
		switch {
		case rec.Type == protocol.RecUpdate:
			evs = append(evs, rec.Update.Event.String())
		case rec.Switch:
			evs = append(evs, fmt.Sprintf("switch:%v", rec.Accepted))
		}
	}
	return evs
}

// TestUpdateStagedConfirmedAndLogged: a valid release is staged, the kernel
// grants the switch, the image is test-booted, passes its self-test and is
// confirmed; the kernel state and its counters survive the reboot; every
// event is in the log.
func TestUpdateStagedConfirmedAndLogged(t *testing.T) {
	u := newUpdWorld(t)
	img := randBytes(t, 5*updChunk+7)
	var tested []byte
	u.selfTestOK = func(b []byte) error { tested = b; return nil }
	before := u.im.State()
	out, err := u.push(t, u.release(t, img, 2, 2, classPump, u.mfr[0], u.mfr[2]))
	require.NoError(t, err)
	require.Equal(t, protocol.EvStaged, out.Event)
	assert.Equal(t, img, tested, "the self-test saw the new image")
	assert.Equal(t, uint64(2), u.im.Image.Version)
	assert.Equal(t, update.SlotB, u.im.Image.Slot)
	after := u.im.State()
	assert.Equal(t, before.Guard, after.Guard, "command counters survive the switch")
	assert.Equal(t, before.Mode, after.Mode)
	assert.Equal(t, []string{protocol.EvOffered.String(), protocol.EvDownloading.String(), "switch:true", protocol.EvStaged.String(),
		"switch:true", protocol.EvTrial.String(), protocol.EvConfirmed.String()}, updateEvents(t, u.board.Storage))
	_, ack, err := u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdStatus}))
	require.NoError(t, err)
	st := u.ackRecord(t, ack)
	assert.Equal(t, protocol.EvStatus, st.Event)
	assert.Equal(t, protocol.EvConfirmed, st.Last, "status names the last event")
	assert.Equal(t, uint64(2), st.Version)
	assert.Equal(t, uint64(2), st.Confirmed)
	assert.Equal(t, "B", st.Slot)
	// Therapy goes on: a bolus after the update is delivered.
	o, _, err := u.im.HandleFrame(u.bundle(pump.CmdBolus, 100))
	require.NoError(t, err)
	assert.True(t, o.Accepted, "%s %v", o.Reason, o.Refused)
}

// TestUpdateRefusals: each bad release is refused with its typed reason,
// logged, acknowledged, and changes neither the slots nor the kernel.
func TestUpdateRefusals(t *testing.T) {
	u := newUpdWorld(t)
	_, err := u.push(t, u.release(t, randBytes(t, 2*updChunk), 2, 5, classPump, u.mfr[0], u.mfr[1]))
	require.NoError(t, err)
	require.Equal(t, uint64(5), u.im.Image.SecurityCounter)
	img := randBytes(t, 2*updChunk+1)
	flipped := bytes.Clone(img)
	flipped[10] ^= 0x80
	mismatched, err := update.NewMismatchedRelease(img, flipped, update.Params{VendorID: vendorID, ClassID: classPump, Version: 3,
		SecurityCounter: 5, ChunkSize: updChunk, Recipients: []*ecdh.PublicKey{u.dev.PublicKey()}}, rand.Reader, u.mfr[0], u.mfr[1])
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		rel  *update.Release
		want error
	}{
		{"security counter below the confirmed one", u.release(t, img, 3, 4, classPump, u.mfr[0], u.mfr[1]), update.ErrRollback},
		{"version not above the running one", u.release(t, img, 2, 5, classPump, u.mfr[0], u.mfr[1]), update.ErrRollback},
		{"another device class", u.release(t, img, 3, 5, classPacer, u.mfr[0], u.mfr[1]), update.ErrClass},
		{"one of two signatures", u.release(t, img, 3, 5, classPump, u.mfr[1]), update.ErrThreshold},
		{"one flipped image byte", mismatched, update.ErrDigest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, slotsBefore := u.im.State(), u.im.Image
			out, err := u.push(t, tc.rel)
			require.NoError(t, err)
			require.Equal(t, protocol.EvRefused, out.Event)
			require.ErrorIs(t, out.Err, tc.want)
			evs := updateEvents(t, u.board.Storage)
			assert.Equal(t, protocol.EvRefused.String(), evs[len(evs)-1], "the refusal is logged")
			assert.Equal(t, before.Guard, u.im.State().Guard)
			assert.Equal(t, slotsBefore, u.im.Image)
			require.NoError(t, u.im.Reboot())
			assert.Equal(t, uint64(2), u.im.Image.Version, "the confirmed image still boots")
			assert.False(t, u.im.Image.Trial)
		})
	}
}

// TestUpdateSwitchWaitsForTheKernel: PUMP-UPDATE-SWITCH through the
// firmware. With a bolus in progress the kernel refuses the switch, the
// image stays staged-but-not-pending and nothing reboots; once the bolus is
// done the same finish succeeds.
func TestUpdateSwitchWaitsForTheKernel(t *testing.T) {
	u := newUpdWorld(t)
	rel := u.release(t, randBytes(t, 2*updChunk), 2, 2, classPump, u.mfr[0], u.mfr[1])
	o, _, err := u.im.HandleFrame(u.bundle(pump.CmdBolus, 300))
	require.NoError(t, err)
	require.True(t, o.Accepted)
	require.Equal(t, pump.ModeDelivering, u.im.State().Mode, "the bolus is in progress")
	out, err := u.push(t, rel)
	require.NoError(t, err)
	require.Equal(t, protocol.EvSwitchRefused, out.Event)
	require.ErrorIs(t, out.Err, update.ErrSwitchRefused)
	assert.False(t, out.Reboot)
	evs := updateEvents(t, u.board.Storage)
	assert.Equal(t, []string{"switch:false", protocol.EvSwitchRefused.String()}, evs[len(evs)-2:])

	require.NoError(t, u.im.DeliveryDone())
	out, _, err = u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdFinish}))
	require.NoError(t, err)
	require.Equal(t, protocol.EvStaged, out.Event, "%v", out.Err)
	require.NoError(t, u.im.Reboot())
	assert.Equal(t, uint64(2), u.im.Image.Version)
}

// TestUpdateFailedSelfTestReverts: a trial image whose self-test fails is
// reverted; the old image boots and the counter stays.
func TestUpdateFailedSelfTestReverts(t *testing.T) {
	u := newUpdWorld(t)
	u.selfTestOK = func([]byte) error { return errors.New("not a program for this board") }
	out, err := u.push(t, u.release(t, randBytes(t, 2*updChunk), 2, 3, classPump, u.mfr[0], u.mfr[1]))
	require.NoError(t, err)
	require.Equal(t, protocol.EvStaged, out.Event)
	assert.True(t, u.im.Image.Reverted)
	assert.Equal(t, uint64(1), u.im.Image.Version)
	evs := updateEvents(t, u.board.Storage)
	assert.Equal(t, []string{protocol.EvTrial.String(), protocol.EvReverted.String()}, evs[len(evs)-2:])
	_, ack, err := u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdStatus}))
	require.NoError(t, err)
	st := u.ackRecord(t, ack)
	assert.Equal(t, uint64(1), st.Confirmed)
	assert.Contains(t, st.Error, "not a program")
}

// TestMalformedUpdateRequestsChangeNothing: garbage and ill-formed requests
// are refused with ErrUpdateRequest and logged; nothing else changes.
func TestMalformedUpdateRequestsChangeNothing(t *testing.T) {
	u := newUpdWorld(t)
	before := u.im.State()
	for _, b := range [][]byte{nil, {0xff}, {0xa1, 0x01, 0x09}, req(t, &protocol.UpdateRequest{Op: protocol.UpdOffer}),
		req(t, &protocol.UpdateRequest{Op: protocol.UpdChunk, Chunk: []byte{1}}), req(t, &protocol.UpdateRequest{Op: protocol.UpdFinish, Index: 3}),
		req(t, &protocol.UpdateRequest{Op: protocol.UpdRoot}), req(t, &protocol.UpdateRequest{Op: protocol.UpdRoot, Root: []byte{1}, Index: 1}),
		req(t, &protocol.UpdateRequest{Op: 9})} {
		out, ack, err := u.im.HandleUpdate(b)
		require.NoError(t, err)
		assert.ErrorIs(t, out.Err, protocol.ErrUpdateRequest)
		assert.NotEmpty(t, ack)
	}
	assert.Equal(t, before.Guard, u.im.State().Guard)
	// A chunk before any offer is refused by the slots.
	out, _, err := u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdChunk, Chunk: make([]byte, 40)}))
	require.NoError(t, err)
	assert.ErrorIs(t, out.Err, update.ErrState)
}

// TestUpdateChunkOverhead: a chunk request adds at most 16 bytes of CBOR to
// its ciphertext (GCM tag included in the ciphertext: 16 bytes more), so a
// 4 KiB chunk costs under 1 % on the radio.
func TestUpdateChunkOverhead(t *testing.T) {
	for _, tc := range []struct {
		index uint32
		size  int
	}{{0, 4096 + 16}, {255, 4096 + 16}, {70000, 4096 + 16}, {1023, 65536 + 16}} {
		b := req(t, &protocol.UpdateRequest{Op: protocol.UpdChunk, Index: tc.index, Chunk: make([]byte, tc.size)})
		overhead := len(b) - tc.size
		t.Logf("chunk %d of %d ciphertext bytes: request %d bytes (+%d CBOR, +5 link framing)", tc.index, tc.size, len(b), overhead)
		require.LessOrEqual(t, overhead, 16)
	}
}

// TestUpdateRootRotation: a new manufacturer root is taken only when a
// threshold of the current keys and of its own keys signed it, at a higher
// version; afterwards releases signed by retired keys are refused and
// releases signed by the new keys install. Every outcome is logged.
func TestUpdateRootRotation(t *testing.T) {
	u := newUpdWorld(t)
	var fresh []*wire.SigningKey
	var pubs []wire.TrustedKey
	for range 3 {
		k, err := wire.GenerateSigningKey(guard.RoleManufacturer, rand.Reader)
		require.NoError(t, err)
		fresh, pubs = append(fresh, k), append(pubs, k.Public())
	}
	root := func(version uint64, signers ...*wire.SigningKey) []byte {
		r, err := update.NewTrustRoot(version, 2, pubs...)
		require.NoError(t, err)
		sr, err := update.SignRoot(r, signers...)
		require.NoError(t, err)
		b, err := sr.Marshal()
		require.NoError(t, err)
		return b
	}
	rotate := func(b []byte) firmware.UpdateOutcome {
		out, ack, err := u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdRoot, Root: b}))
		require.NoError(t, err)
		require.NotEmpty(t, ack)
		return out
	}
	for _, tc := range []struct {
		name    string
		signers []*wire.SigningKey
		want    error
	}{
		{"only the new keys", fresh, update.ErrThreshold},
		{"one current key and the new keys", append([]*wire.SigningKey{u.mfr[0]}, fresh...), update.ErrThreshold},
		{"the current keys only", u.mfr[:2], update.ErrThreshold},
	} {
		out := rotate(root(2, tc.signers...))
		require.Equal(t, protocol.EvRefused, out.Event, tc.name)
		require.ErrorIs(t, out.Err, tc.want, tc.name)
	}
	out := rotate(root(2, append(u.mfr[:2:2], fresh[0], fresh[2])...))
	require.Equal(t, protocol.EvRootRotated, out.Event, "%v", out.Err)
	out = rotate(root(2, append(u.mfr[:2:2], fresh[0], fresh[2])...))
	require.ErrorIs(t, out.Err, update.ErrRollback, "the same version again")

	o, err := u.push(t, u.release(t, randBytes(t, 2*updChunk), 2, 2, classPump, u.mfr[0], u.mfr[1]))
	require.NoError(t, err)
	require.ErrorIs(t, o.Err, update.ErrThreshold, "retired keys")
	o, err = u.push(t, u.release(t, randBytes(t, 2*updChunk), 2, 2, classPump, fresh[1], fresh[2]))
	require.NoError(t, err)
	require.Equal(t, protocol.EvStaged, o.Event, "%v", o.Err)
	require.Equal(t, uint64(2), u.im.Image.Version)
	evs := updateEvents(t, u.board.Storage)
	require.Contains(t, evs, protocol.EvRootRotated.String())
}

// TestResumedDownloadAsksOnlyForMissingChunks: after a broken transfer, the
// same offer again is answered with exactly the chunks still missing, and
// sending only those completes the update.
func TestResumedDownloadAsksOnlyForMissingChunks(t *testing.T) {
	u := newUpdWorld(t)
	rel := u.release(t, randBytes(t, 7*updChunk+3), 2, 2, classPump, u.mfr[0], u.mfr[1])
	offer := func() *protocol.UpdateInfo {
		out, ack, err := u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdOffer, Manifest: rel.Manifest}))
		require.NoError(t, err)
		require.Equal(t, protocol.EvDownloading, out.Event, "%v", out.Err)
		return u.ackRecord(t, ack)
	}
	first := offer()
	require.Equal(t, uint64(len(rel.Chunks)), first.Missing)
	for i := range rel.Chunks {
		require.True(t, protocol.ChunkMissing(first.MissingMap, i), "chunk %d", i)
	}
	sent := map[int]bool{0: true, 3: true, 4: true, 7: true}
	for i := range sent {
		out, _, err := u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdChunk, Index: uint32(i), Chunk: rel.Chunks[i]}))
		require.NoError(t, err)
		require.Equal(t, protocol.EvChunkStaged, out.Event)
	}
	require.NoError(t, u.im.Reboot(), "a power cycle between the two offers")
	again := offer()
	require.Equal(t, uint64(len(rel.Chunks)-len(sent)), again.Missing)
	for i, c := range rel.Chunks {
		require.Equal(t, !sent[i], protocol.ChunkMissing(again.MissingMap, i), "chunk %d", i)
		if !sent[i] {
			out, _, err := u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdChunk, Index: uint32(i), Chunk: c}))
			require.NoError(t, err)
			require.Equal(t, protocol.EvChunkStaged, out.Event)
		}
	}
	out, _, err := u.im.HandleUpdate(req(t, &protocol.UpdateRequest{Op: protocol.UpdFinish}))
	require.NoError(t, err)
	require.Equal(t, protocol.EvStaged, out.Event, "%v", out.Err)
	require.Nil(t, protocol.MissingBitmap(nil))
}
