package firmware_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/update"
)

// cutPoint arms one power cut on a fresh world: at a mutating storage call
// or after a number of bytes, counted from the start of the update.
type cutPoint struct {
	label string
	arm   func(u *updWorld)
}

// TestUpdatePowerCutEverywhere cuts power at every storage operation and at
// 120 byte offsets spread over the whole update through the firmware —
// offer, chunk download, staging and digest check, the kernel's switch
// decision, the reboot, the trial boot, the self-test and confirmation —
// and after each restart checks that:
//   - the firmware boots, and the image the bootloader booted is byte for
//     byte the factory image or the new one (its digest was just verified);
//   - the confirmed security counter never goes back, and is the new one
//     exactly when the new image is the confirmed active one;
//   - the implant log verifies, and the kernel state (mode, limits, command
//     counters, delivery accounting) is what it was before the update;
//   - the update can be finished from wherever it stopped, and therapy
//     goes on afterwards.
func TestUpdatePowerCutEverywhere(t *testing.T) {
	img := func(u *updWorld) []byte { return bytes.Repeat([]byte{0xA5, 0x3C, 0x71}, (4*updChunk+33)/3) }
	// Dry run: how many storage operations and bytes an update takes.
	dry := newUpdWorld(t)
	ops0, bytes0 := dry.board.Storage.MutatingOps(), dry.board.Storage.Written()
	out, err := dry.push(t, dry.release(t, img(dry), 2, 2, classPump, dry.mfr[0], dry.mfr[1]))
	require.NoError(t, err)
	require.Equal(t, protocol.EvStaged, out.Event)
	require.Equal(t, uint64(2), dry.im.Image.Version)
	nOps := dry.board.Storage.MutatingOps() - ops0
	nBytes := dry.board.Storage.Written() - bytes0
	t.Logf("one update through the firmware: %d mutating storage operations, %d bytes written", nOps, nBytes)

	var points []cutPoint
	for k := int64(0); k < nOps; k++ {
		points = append(points, cutPoint{fmt.Sprintf("op %d/%d", k, nOps), func(u *updWorld) { u.board.Storage.CutPowerAtOp(k) }})
	}
	const byteCuts = 120
	for i := int64(0); i < byteCuts; i++ {
		n := i * nBytes / byteCuts
		points = append(points, cutPoint{fmt.Sprintf("byte %d/%d", n, nBytes), func(u *updWorld) { u.board.Storage.CutPowerAfterBytes(n) }})
	}
	require.GreaterOrEqual(t, len(points), 100)

	outcomes := map[string]int{}
	for _, p := range points {
		u := newUpdWorld(t)
		image := img(u)
		rel := u.release(t, image, 2, 2, classPump, u.mfr[0], u.mfr[1])
		before := u.im.State()
		p.arm(u)
		_, err := u.push(t, rel)
		if err != nil && !errors.Is(err, hal.ErrPowerLoss) {
			t.Fatalf("%s: update failed without a power cut: %v", p.label, err)
		}
		cut := u.board.PoweredOff()
		u.board.Restart()
		// Where the cut left the update, as the bootloader will find it.
		atCut, err := update.Open(u.cfg.Update.Slots)
		require.NoError(t, err, p.label)
		phase := atCut.State().Phase
		u.boot()

		slots, err := update.Open(u.cfg.Update.Slots)
		require.NoError(t, err, p.label)
		booted, err := slots.ReadImage(u.im.Image.Slot)
		require.NoError(t, err, p.label)
		isOld, isNew := bytes.Equal(booted, u.factory), bytes.Equal(booted, image)
		require.True(t, isOld || isNew, "%s: booted slot %s holds neither image", p.label, u.im.Image.Slot)
		st := slots.State()
		require.GreaterOrEqual(t, st.ConfirmedCounter, uint64(1), "%s: counter went back", p.label)
		require.Equal(t, isNew, st.ConfirmedCounter == 2, "%s: counter %d with the new image booted=%v", p.label, st.ConfirmedCounter, isNew)

		data, ok := u.board.Storage.Peek("implant.log")
		require.True(t, ok)
		_, _, err = implog.Verify(data)
		require.NoError(t, err, "%s: log", p.label)
		after := u.im.State()
		require.Equal(t, before.Mode, after.Mode, p.label)
		require.Equal(t, before.Limits, after.Limits, p.label)
		require.Equal(t, before.Guard, after.Guard, p.label)
		require.Equal(t, before.Ring, after.Ring, p.label)
		require.Equal(t, before.Epoch, after.Epoch, p.label)

		switch {
		case !cut:
			outcomes["no cut reached"]++
		case isNew:
			outcomes[fmt.Sprintf("cut in phase %s, booted new", phase)]++
		default:
			outcomes[fmt.Sprintf("cut in phase %s, booted old", phase)]++
		}
		// Finish the update from wherever it stands.
		if !isNew {
			out, err := u.push(t, rel)
			require.NoError(t, err, p.label)
			require.Equal(t, protocol.EvStaged, out.Event, "%s: resumed update: %v", p.label, out.Err)
		}
		require.Equal(t, uint64(2), u.im.Image.Version, p.label)
		require.False(t, u.im.Image.Trial, p.label)
		// The kernel still takes commands after the update (a suspend: no
		// homomorphic check needed, so the 146 runs stay fast).
		o, _, err := u.im.HandleFrame(u.bundle(pump.CmdSuspend))
		require.NoError(t, err, p.label)
		require.True(t, o.Accepted, "%s: command after the update: %s %v", p.label, o.Reason, o.Refused)
	}
	t.Logf("%d power cuts: %v", len(points), outcomes)
}
