package e2e

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/hal/filestore"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/provision"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

// pushUpdate runs one update over the radio link (relay.Pusher: offer,
// chunks, finish, status) and returns the last signed record; it stops at
// the first failed exchange (the process was killed).
func pushUpdate(addr string, rel *update.Release) (*protocol.UpdateInfo, error) {
	last, _, err := pushUpdateCount(addr, rel)
	return last, err
}

// pusher dials the implant's radio port; each acknowledgement is decoded
// into *last (the implant's signature is the relay's business, not this
// test's).
func pusher(addr string, last **protocol.UpdateInfo) (*relay.Pusher, net.Conn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	return &relay.Pusher{RW: conn, Ack: func(ack []byte) (relay.UpdateEvent, error) {
		e, err := wire.Decode(ack, wire.MaxFrame)
		if err != nil {
			return relay.UpdateEvent{}, err
		}
		a, err := protocol.DecodeAck(e.Body)
		if err != nil {
			return relay.UpdateEvent{}, err
		}
		if a.Kind != protocol.AckUpdate {
			return relay.UpdateEvent{}, fmt.Errorf("a %s acknowledgement to an update request", a.Kind)
		}
		*last = a.Update
		return relay.EventOf(*last), nil
	}}, conn, nil
}

// updateStatus asks a running implant for its signed update status.
func updateStatus(addr string) (*protocol.UpdateInfo, error) {
	var rec *protocol.UpdateInfo
	p, conn, err := pusher(addr, &rec)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, _, err := p.Call(&protocol.UpdateRequest{Op: protocol.UpdStatus}); err != nil {
		return nil, err
	}
	return rec, nil
}

// pushUpdateCount is pushUpdate that also returns how many chunks it sent.
func pushUpdateCount(addr string, rel *update.Release) (*protocol.UpdateInfo, int, error) {
	var last *protocol.UpdateInfo
	p, conn, err := pusher(addr, &last)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	err = p.Push(rel)
	return last, p.Chunks, err
}

// TestKillDuringUpdate kills the implant process (SIGKILL) at 12 random
// instants of a firmware update over the radio link (half of them in its
// last quarter) — download, staging, the kernel's switch decision, the
// reboot, trial boot and confirmation — on real file storage, and restarts
// it each time. After every restart a
// verified image boots (byte for byte the factory build or the new one),
// the confirmed security counter never goes back and is the new one
// exactly when the new image is active, the log verifies up to its last
// complete record (and the kernel's counters and deliveries are consistent,
// checkState), and the update resumes until it is confirmed. Each round is a
// fresh device; the 146-point power-cut test in package firmware covers
// every storage operation.
func TestKillDuringUpdate(t *testing.T) {
	tmp := t.TempDir()
	keys := filepath.Join(tmp, "keys")
	require.NoError(t, provision.Generate(keys, provision.Options{DeviceID: device, Kind: protocol.KindPump, Set: fhe.TestOnlyN11, Limits: testLimits()}))
	bin := buildImplant(t, tmp)
	bin2 := filepath.Join(tmp, "implant-v2")
	cmd := exec.Command("go", "build", "-tags", "fhe_testonly", "-ldflags", "-X main.buildVersion=e2e-v2", "-o", bin2, "./cmd/implant")
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build implant v2: %s", out)
	factory, err := os.ReadFile(bin)
	require.NoError(t, err)
	image, err := os.ReadFile(bin2)
	require.NoError(t, err)
	require.NotEqual(t, factory, image)

	mdir, pub := filepath.Join(keys, "manufacturer"), filepath.Join(keys, "public")
	mfr, err := protocol.LoadUpdateKeys(mdir, 1, 2)
	require.NoError(t, err)
	pk, err := protocol.LoadPublic(pub)
	require.NoError(t, err)
	dk, dev := pk.UpdatePub, pk.Device
	rel, err := update.NewRelease(image, update.Params{VendorID: dev.VendorID, ClassID: dev.ClassID, Version: 2, SecurityCounter: 2,
		ChunkSize: update.MaxChunkSize, Recipients: []*ecdh.PublicKey{dk}}, rand.Reader, mfr...)
	require.NoError(t, err)
	ik, err := protocol.LoadImplant(filepath.Join(keys, "implant"))
	require.NoError(t, err)
	devKey := ik.UpdateDeviceKey

	// Round 0 measures an uninterrupted update on a separate device state.
	ip := startImplant(t, bin, keys, filepath.Join(tmp, "dry"))
	began := time.Now()
	last, err := pushUpdate(ip.Addr, rel)
	span := time.Since(began)
	_ = ip.Cmd.Process.Kill()
	_ = ip.Cmd.Wait()
	require.NoError(t, err)
	require.Equal(t, protocol.EvConfirmed, last.Last, "status after an uninterrupted update: %+v", last)

	const kills = 12

	rng := mrand.New(mrand.NewPCG(3, 5))
	outcomes := map[string]int{}
	resumedDownloads, resumedChunks := 0, 0
	for round := range kills {
		// A fresh device each round (first boot installs the factory
		// build), one kill at a uniform instant within 1.2 × the update.
		state := filepath.Join(tmp, fmt.Sprintf("state-%02d", round))
		ip := startImplant(t, bin, keys, state)
		// Even rounds: uniform over the uninterrupted update's span; odd
		// rounds: over its last quarter (finish, switch, reboot, confirm),
		// which is short but where the switch happens.
		delay := time.Duration(rng.Int64N(int64(span)))
		if round%2 == 1 {
			delay = span*3/4 + time.Duration(rng.Int64N(int64(span)/4))
		}
		killed := make(chan struct{})
		go func() {
			time.Sleep(delay)
			_ = ip.Cmd.Process.Kill()
			close(killed)
		}()
		_, _ = pushUpdate(ip.Addr, rel)
		<-killed
		_ = ip.Cmd.Wait()

		isNew, phase := checkUpdateState(t, state, dev, devKey, factory, image, fmt.Sprintf("round %d, kill at %s", round, delay))
		outcomes[fmt.Sprintf("killed in phase %s with the %s image active", phase, map[bool]string{true: "new", false: "factory"}[isNew])]++

		// Restart: a verified image boots; the update resumes to the end.
		ip = startImplant(t, bin, keys, state)
		// A pending image is test-booted and confirmed by the restart
		// itself; anything else needs the update pushed again.
		st, err := updateStatus(ip.Addr)
		require.NoError(t, err, "round %d: status after restart", round)
		if st.Version != 2 {
			last, n, err := pushUpdateCount(ip.Addr, rel)
			require.NoError(t, err, "round %d: resumed update", round)
			if phase == update.PhaseDownloading {
				resumedDownloads++
				resumedChunks += n
			}
			require.Equal(t, protocol.EvConfirmed, last.Last, "round %d: resumed update: %+v", round, last)
		}
		_ = ip.Cmd.Process.Kill()
		_ = ip.Cmd.Wait()
		isNew, _ = checkUpdateState(t, state, dev, devKey, factory, image, fmt.Sprintf("round %d, after resuming", round))
		require.True(t, isNew, "round %d: the update completed", round)
	}
	t.Logf("uninterrupted update: %s (%d chunks of %d B); %d kills: %v; %d downloads resumed, sending %d chunks in all",
		span.Round(time.Millisecond), len(rel.Chunks), update.MaxChunkSize, kills, outcomes, resumedDownloads, resumedChunks)
	if resumedDownloads > 0 {
		require.Less(t, resumedChunks, resumedDownloads*len(rel.Chunks), "a resumed download sends only the missing chunks")
	}
}

// checkUpdateState opens a stopped device's storage as the bootloader would
// and checks the active image, the security counter and the log; it
// returns whether the new image is the confirmed active one, and the phase.
func checkUpdateState(t *testing.T, state string, dev protocol.Device, devKey *ecdh.PrivateKey, factory, image []byte, label string) (bool, update.Phase) {
	t.Helper()
	st, err := filestore.Open(state)
	require.NoError(t, err)
	slots, err := update.Open(update.Config{Storage: st, VendorID: dev.VendorID, ClassID: dev.ClassID, DeviceKey: devKey})
	require.NoError(t, err, label)
	s := slots.State()
	active, err := slots.ReadImage(s.Active)
	require.NoError(t, err, "%s: the active image verifies", label)
	isOld, isNew := bytes.Equal(active, factory), bytes.Equal(active, image)
	require.True(t, isOld || isNew, "%s: active slot holds neither build", label)
	require.Equal(t, isNew, s.ConfirmedCounter == 2, "%s: counter %d, new image active %v", label, s.ConfirmedCounter, isNew)
	require.GreaterOrEqual(t, s.ConfirmedCounter, uint64(1), label)
	// The log verifies up to its last complete record; counters and
	// deliveries are consistent.
	checkState(t, state, nil)
	return isNew, s.Phase
}
