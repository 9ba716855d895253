package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal/sim"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/internal/procs"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/link"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/provision"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/wire"
)

const device = "pump-crash"

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// buildImplant builds cmd/implant with test-only FHE parameters allowed.
func buildImplant(t *testing.T, dir string) string {
	bin := filepath.Join(dir, "implant")
	cmd := exec.Command("go", "build", "-tags", "fhe_testonly", "-o", bin, "./cmd/implant")
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build implant: %s", out)
	return bin
}

type parties struct {
	ctl    *controller.Controller
	client *controller.Client // opens acknowledgements; never dials
	dev    *relay.Device
}

// testLimits are the published defaults with a 5.00 U maximum bolus and no
// minimum bolus interval: the scripted runs send boluses back to back.
func testLimits() *protocol.Limits {
	l := protocol.DefaultLimits(protocol.KindPump)
	l.Pump.MaxBolusCU, l.Pump.MinBolusIntervalMs = 500, 0
	return &l
}

func loadParties(t *testing.T, keys string) *parties {
	ck, err := protocol.LoadClinic(filepath.Join(keys, "clinic"))
	require.NoError(t, err)
	rk, err := protocol.LoadRelay(filepath.Join(keys, "relay"))
	require.NoError(t, err)
	p := &parties{
		ctl:    controller.New(ck),
		client: controller.NewClient("", ck),
		dev: &relay.Device{ID: device, Kind: protocol.KindPump, Eval: fhe.NewRelay(rk.Implant), Signer: rk.Signer, MaxCmdAge: 300_000,
			Verifier: wire.Verifier{DeviceID: device, Trust: rk.Trust, MaxFrame: wire.MaxFrame}},
	}
	lim, err := p.ctl.EncryptLimits(protocol.PumpBolus, 500)
	require.NoError(t, err)
	require.NoError(t, p.dev.SetLimits(protocol.PumpBolus, lim))
	return p
}

type implantProc = procs.Proc

func startImplant(t *testing.T, bin, keys, state string) *implantProc {
	p, err := procs.Start(exec.Command(bin, "-keys", filepath.Join(keys, "implant"), "-state", state, "-tick", "20ms"), 30*time.Second)
	require.NoError(t, err)
	return p
}

func call(conn net.Conn, typ byte, payload []byte) ([]byte, error) {
	if err := link.Write(conn, typ, payload); err != nil {
		return nil, err
	}
	rt, reply, err := link.Read(conn)
	if err != nil {
		return nil, err
	}
	if rt != link.TypeReply {
		return nil, fmt.Errorf("implant: %s", reply)
	}
	return reply, nil
}

// TestKillAtRandomPointsLosesNothingAndRepeatsNothing kills the implant
// process (SIGKILL) at 60 random instants of a scripted run of boluses and
// restarts it each time. After every restart: the log verifies; every
// command the implant acknowledged as executed is in the log; no command is
// executed twice; the pump's delivery journal never holds more deliveries
// than the log requested, in the same order and amounts; and the kernel's
// command counter never goes back.
func TestKillAtRandomPointsLosesNothingAndRepeatsNothing(t *testing.T) {
	tmp := t.TempDir()
	keys := filepath.Join(tmp, "keys")
	require.NoError(t, provision.Generate(keys, provision.Options{DeviceID: device, Kind: protocol.KindPump, Set: fhe.TestOnlyN11, Limits: testLimits()}))
	bin := buildImplant(t, tmp)
	state := filepath.Join(tmp, "state")
	p := loadParties(t, keys)
	rng := rand.New(rand.NewPCG(7, 11))
	counter := uint64(1000)
	ackedExecuted := map[uint64]bool{}
	const rounds = 60
	killedMidCall := 0
	// Round 0 runs without a kill and measures how long the exchanges take;
	// later rounds kill at a uniform instant within 1.2 × that span.
	var span time.Duration
	for round := 0; round <= rounds; round++ {
		ip := startImplant(t, bin, keys, state)
		conn, err := net.Dial("tcp", ip.Addr)
		require.NoError(t, err)
		st, err := call(conn, link.TypeStatus, nil)
		require.NoError(t, err)
		e, err := wire.Decode(st, wire.MaxFrame)
		require.NoError(t, err)
		// The relay's work (homomorphic compare) is done before the clock
		// of this round starts, so the kill lands in the implant's own work.
		type sent struct {
			ctr    uint64
			bundle []byte
		}
		var bundles []sent
		for j := 0; j < 4; j++ {
			counter++
			env, err := p.ctl.Command(protocol.PumpBolus, counter, units.Millis(e.Header.IssuedAtMs), 10)
			require.NoError(t, err)
			f, err := env.Marshal()
			require.NoError(t, err)
			res, err := p.dev.Process(f, e.Header.IssuedAtMs)
			require.NoError(t, err)
			bundles = append(bundles, sent{counter, res.Bundle})
		}
		killed := make(chan struct{})
		began := time.Now()
		if round > 0 {
			delay := time.Duration(rng.Int64N(int64(span) * 6 / 5))
			go func() {
				time.Sleep(delay)
				_ = ip.Cmd.Process.Kill()
				close(killed)
			}()
		}
		for _, b := range bundles {
			ack, err := call(conn, link.TypeBundle, b.bundle)
			if err != nil {
				killedMidCall++
				break
			}
			v, err := p.client.OpenAck(ack)
			require.NoError(t, err)
			require.Equal(t, b.ctr, v.Ack.Answers.Counter, "the acknowledgement names its command")
			if v.Ack.Kind == protocol.AckDecision && v.Private.Accepted {
				ackedExecuted[b.ctr] = true
			}
		}
		conn.Close()
		if round == 0 {
			span = time.Since(began)
			_ = ip.Cmd.Process.Kill()
			close(killed)
		}
		<-killed
		_ = ip.Cmd.Wait()
		checkState(t, state, ackedExecuted)
	}
	t.Logf("%d kill points over %s of exchanges, %d landed inside a radio exchange, %d commands acknowledged as executed", rounds, span, killedMidCall, len(ackedExecuted))
	assert.Greater(t, killedMidCall, 10, "kills must land inside exchanges, not only between them")
	assert.Greater(t, len(ackedExecuted), 10, "the run must execute commands")
}

func checkState(t *testing.T, state string, acked map[uint64]bool) {
	data, err := os.ReadFile(filepath.Join(state, "implant.log"))
	require.NoError(t, err)
	// A torn tail is legal on disk (the implant truncates it at boot); the
	// complete records must verify.
	var requested []units.CentiUnits
	executed := map[uint64]int{}
	var lastCtr uint64
	for r, err := range implog.Decode(data) {
		if err != nil {
			require.ErrorIs(t, err, implog.ErrTornTail, "the log verifies up to its last complete record")
			break
		}
		rec, err := protocol.DecodeRecord(r.Payload)
		require.NoError(t, err)
		if rec.Type == protocol.RecStep {
			for _, a := range rec.Deliver {
				requested = append(requested, units.CentiUnits(a))
			}
			if rec.Accepted && rec.Cmd == protocol.PumpBolus && !rec.Switch {
				executed[rec.Ctr]++
			}
		}
		if rec.State != nil {
			st, err := firmware.DecodeState(rec.State)
			require.NoError(t, err)
			require.GreaterOrEqual(t, st.Guard.LastCounter, lastCtr, "counter went back at record %d", r.Seq)
			lastCtr = st.Guard.LastCounter
		}
	}
	for c, n := range executed {
		require.Equal(t, 1, n, "command %d executed %d times", c, n)
	}
	for c := range acked {
		require.Equal(t, 1, executed[c], "acknowledged command %d missing from the log", c)
	}
	jb, err := os.ReadFile(filepath.Join(state, sim.JournalName))
	if os.IsNotExist(err) {
		return
	}
	require.NoError(t, err)
	journal, err := sim.ParseJournal(jb)
	require.NoError(t, err)
	require.LessOrEqual(t, len(journal), len(requested), "more deliveries than the log requested")
	for i := range journal {
		require.Equal(t, requested[i], journal[i], "delivery %d differs from its request", i)
	}
}
