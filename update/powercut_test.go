package update_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/update"
)

var errPowerLoss = hal.ErrPowerLoss

const (
	newVersion = 2
	newCounter = 4
)

// script is the whole update as the firmware runs it: manifest, chunks out
// of order with a repeat, finish, trial boot, confirm, and the next boot.
func script(s *update.Slots, r *release) error {
	if err := s.Begin(r.manifest); err != nil {
		return err
	}
	n := len(r.chunks)
	order := []int{n - 1}
	for i := range n - 1 {
		order = append(order, i)
	}
	order = append(order, 0)
	for _, i := range order {
		if err := s.WriteChunk(i, r.chunks[i]); err != nil {
			return err
		}
	}
	if err := s.Finish(); err != nil {
		return err
	}
	if info, err := s.Boot(true); err != nil || !info.Trial {
		return fmt.Errorf("trial boot: %+v, %w", info, err)
	}
	if err := s.Confirm(); err != nil {
		return err
	}
	_, err := s.Boot(true)
	return err
}

// cutRun arms a cut, runs the script, restores power and checks what
// survives, then finishes the update from wherever it stands.
func cutRun(t *testing.T, base *fixture, r *release, arm func(f *fixture), label string) {
	f := base.reflash(t)
	s := f.open(t)
	arm(f)
	err := script(s, r)
	if err != nil && !errors.Is(err, hal.ErrPowerLoss) {
		t.Fatalf("%s: script failed without a power cut: %v", label, err)
	}
	f.board.Restart()

	// Power-on: the state loads and the bootloader boots a verified image.
	s, err = update.Open(f.cfg)
	require.NoError(t, err, label)
	info, err := s.Boot(true)
	require.NoError(t, err, label)
	img, err := s.ReadImage(info.Slot)
	require.NoError(t, err, label)
	isOld, isNew := bytes.Equal(img, f.factory), bytes.Equal(img, r.image)
	require.True(t, isOld || isNew, "%s: booted slot %s holds neither image", label, info.Slot)
	st := s.State()
	require.GreaterOrEqual(t, st.ConfirmedCounter, uint64(factoryCounter), "%s: counter went back", label)
	if st.ConfirmedCounter == newCounter {
		require.True(t, isNew && !info.Trial, "%s: counter raised but the new image is not the confirmed one", label)
	}
	if isNew && !info.Trial {
		require.Equal(t, uint64(newCounter), st.ConfirmedCounter, "%s: new image active without its counter", label)
	}

	// Finish the update from here.
	switch {
	case info.Trial:
		require.NoError(t, s.Confirm(), label)
	case isNew:
	default:
		require.NoError(t, s.Begin(r.manifest), label)
		for _, i := range s.Missing() {
			require.NoError(t, s.WriteChunk(i, r.chunks[i]), label)
		}
		require.NoError(t, s.Finish(), label)
		info, err = s.Boot(true)
		require.NoError(t, err, label)
		require.True(t, info.Trial, label)
		require.NoError(t, s.Confirm(), label)
	}
	s, err = update.Open(f.cfg)
	require.NoError(t, err, label)
	info, err = s.Boot(true)
	require.NoError(t, err, label)
	img, err = s.ReadImage(info.Slot)
	require.NoError(t, err, label)
	require.Equal(t, r.image, img, label)
	require.Equal(t, uint64(newCounter), s.State().ConfirmedCounter, label)
}

// TestPowerCutAnywhereBootsAVerifiedImage cuts power at every mutating
// storage call and at a spread of byte offsets across download, staging,
// finish, trial boot and confirmation.
func TestPowerCutAnywhereBootsAVerifiedImage(t *testing.T) {
	// Measure the uncut script.
	base := newFixture(t, 20)
	r := base.release(t, base.bytes(3*chunkSize-236), newVersion, newCounter, base.mfr[:2])
	f := base.reflash(t)
	s := f.open(t)
	ops0, bytes0 := f.board.Storage.MutatingOps(), f.board.Storage.Written()
	require.NoError(t, script(s, r))
	ops, written := f.board.Storage.MutatingOps()-ops0, f.board.Storage.Written()-bytes0

	points := 0
	for k := range ops + 1 {
		cutRun(t, base, r, func(f *fixture) { f.board.Storage.CutPowerAtOp(k) }, fmt.Sprintf("cut at op %d of %d", k, ops))
		points++
	}
	const spread = 120
	for j := range int64(spread + 1) {
		n := j * written / spread
		cutRun(t, base, r, func(f *fixture) { f.board.Storage.CutPowerAfterBytes(n) }, fmt.Sprintf("cut after byte %d of %d", n, written))
		points++
	}
	t.Logf("%d cut points: %d ops, %d bytes written by the script", points, ops, written)
	require.GreaterOrEqual(t, points, 100)
}
