package firmware_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
)

// The actuator-level check: the pump's requirements observed at the HAL —
// on every Deliver call the mock pump saw, with its time — while a fault is
// injected at every actuator call and at every storage operation of a
// scenario. What the kernel asked for is not the evidence; what the motor
// did is.

// sweepLimits: a scheduled basal (so steps carry a basal pulse and a bolus
// in one batch), a 10 min minimum bolus interval.
var sweepLimits = pump.Limits{MaxBolus: 500, MaxBasal: 200, MaxIOB: 1500, MaxDaily: 4000,
	MinBolusInterval: 10 * units.Minute, SuspendBelow: 70, ScheduledBasal: 60}

// step of the scenario: advance the clock (ticking every tickMs, as the
// firmware loop does, except for the quiet gap before a command, during
// which basal accrues so that the command's step also carries a basal
// pulse), then send a command (CmdNone: nothing more).
type sweepStep struct {
	advance units.Millis
	cmd     pump.CommandKind // CmdNone: a tick
	amount  int64
}

var sweepScript = []sweepStep{
	{advance: 3 * units.Minute, cmd: pump.CmdBolus, amount: 100},
	{advance: 11 * units.Minute, cmd: pump.CmdBolus, amount: 300},
	{advance: 2 * units.Minute, cmd: pump.CmdAckAlarm},
	{advance: 10 * units.Minute, cmd: pump.CmdBolus, amount: 250},
	{advance: 2 * units.Minute, cmd: pump.CmdSuspend},
	{advance: 5 * units.Minute, cmd: pump.CmdResume},
	{advance: 5 * units.Minute, cmd: pump.CmdBolus, amount: 80},
	{advance: 3 * units.Minute},
}

const (
	tickMs  units.Millis = 500
	quietMs              = 59 * units.Second
)

// sweepRun is one run of the scenario on a fresh board, with the bundles of
// the baseline (valid: same times, increasing counters).
type sweepRun struct {
	board *mock.Board
	im    *firmware.Implant
	// suspended[i] are [from, to) board times commands held the pump
	// suspended; ackAt the time an alarm acknowledgement was accepted.
	suspendedFrom, suspendedTo units.Millis
	ackAt                      []units.Millis
	errs                       int
}

func (w *world) sweepBoot(b *mock.Board) (*firmware.Implant, error) {
	im, err := firmware.Boot(w.cfg, w.keys, b.HAL())
	if err != nil {
		return nil, err
	}
	if im.State().Mode == pump.ModeInit {
		_, _, err = im.HandleProgram(pump.Command{Kind: pump.CmdProgramLimits, Limits: sweepLimits,
			Header: guardHeader(1, im.State().NowMs)})
	}
	return im, err
}

// runSweep plays the script; bundles[i] is the radio frame of step i (nil
// for ticks). A firmware error (a failed log append) is a reboot, as
// cmd/implant restarts after one.
func (w *world) runSweep(t *testing.T, b *mock.Board, bundles [][]byte, record bool) *sweepRun {
	r := &sweepRun{board: b, suspendedFrom: -1, suspendedTo: -1}
	var err error
	reboot := func() {
		r.errs++
		if r.im, err = w.sweepBoot(b); err != nil {
			// Storage that cannot even be opened again: the device is
			// down, which the checks below see as no further delivery.
			r.im = nil
		}
	}
	if r.im, err = w.sweepBoot(b); err != nil {
		reboot() // a one-off storage failure at boot: the next boot works
		if r.im == nil {
			t.Fatalf("boot: %v", err)
		}
	}
	b.Glucose.Set(120)
	tick := func() {
		if r.im == nil {
			return
		}
		if err := r.im.Tick(); err != nil {
			reboot()
			return
		}
		if r.im.State().Mode == pump.ModeDelivering {
			if err := r.im.DeliveryDone(); err != nil {
				reboot()
			}
		}
	}
	for i, s := range sweepScript {
		quiet := units.Millis(0)
		if s.cmd != pump.CmdNone {
			quiet = quietMs
		}
		n := (s.advance - quiet) / tickMs
		for range n {
			b.Clock.Advance(tickMs)
			tick()
		}
		b.Clock.Advance(s.advance - n*tickMs) // the quiet gap, and the rest
		if r.im == nil {
			break
		}
		if s.cmd == pump.CmdNone {
			tick()
			continue
		}
		if record {
			bundles[i] = w.bundleFor(r.im, s.cmd, s.amount)
		}
		out, _, err := r.im.HandleFrame(bundles[i])
		if err != nil {
			reboot()
			continue
		}
		_ = out
		if r.im.State().Mode == pump.ModeDelivering {
			if err := r.im.DeliveryDone(); err != nil {
				reboot()
			}
		}
	}
	r.decisionsFromLog(t)
	return r
}

// decisionsFromLog takes the suspension and the alarm acknowledgements from
// what the kernel decided and logged (a decision whose acknowledgement was
// lost to a storage failure still stands).
func (r *sweepRun) decisionsFromLog(t *testing.T) {
	data, ok := r.board.Storage.Peek("implant.log")
	if !ok {
		return
	}
	for rec, err := range implog.Decode(data) {
		if err != nil {
			break
		}
		d, err := protocol.DecodeRecord(rec.Payload)
		require.NoError(t, err)
		if d.Type != protocol.RecStep || !d.Accepted || d.Switch {
			continue
		}
		switch pump.CommandKind(d.Cmd) {
		case pump.CmdSuspend:
			r.suspendedFrom = units.Millis(d.NowMs)
		case pump.CmdResume:
			r.suspendedTo = units.Millis(d.NowMs)
		case pump.CmdAckAlarm:
			r.ackAt = append(r.ackAt, units.Millis(d.NowMs))
		}
	}
}

// bundleFor builds a command as clinician and relay at the implant's time.
func (w *world) bundleFor(im *firmware.Implant, kind pump.CommandKind, amount int64) []byte {
	w.counter++
	var vals []int64
	if kind == pump.CmdBolus {
		vals = []int64{amount}
	}
	env, err := w.ctl.Command(uint8(kind), w.counter, im.State().NowMs, vals...)
	require.NoError(w.t, err)
	f, err := env.Marshal()
	require.NoError(w.t, err)
	res, err := w.dev.Process(f, int64(im.State().NowMs))
	require.NoError(w.t, err)
	return res.Bundle
}

// checkAtTheHAL checks the pump's requirements on what the motor did.
func checkAtTheHAL(calls []mock.Delivery, r *sweepRun) []string {
	var bad []string
	var lastBolus units.Millis = -1 << 40
	var total units.CentiUnits
	failedAt := -1
	for i, c := range calls {
		if c.Asked > sweepLimits.MaxBolus {
			bad = append(bad, fmt.Sprintf("PUMP-MAX-BOLUS: call %d asked %d cU", i, c.Asked))
		}
		if c.Asked >= 50 { // a bolus (basal pulses here are a few cU)
			if c.At-lastBolus < sweepLimits.MinBolusInterval {
				bad = append(bad, fmt.Sprintf("PUMP-BOLUS-INTERVAL: bolus at %d ms, %d ms after the last", c.At, c.At-lastBolus))
			}
			lastBolus = c.At
		}
		total += c.Moved
		if r.suspendedFrom >= 0 && c.At >= r.suspendedFrom && (r.suspendedTo < 0 || c.At < r.suspendedTo) {
			bad = append(bad, fmt.Sprintf("PUMP-NO-DELIVERY-SUSPENDED: call %d at %d ms while suspended", i, c.At))
		}
		if failedAt >= 0 {
			f := calls[failedAt]
			acked := false
			for _, a := range r.ackAt {
				acked = acked || (a > f.At && a <= c.At)
			}
			if !acked || isMotorFault(f.Err) {
				bad = append(bad, fmt.Sprintf("FAULT-SAFE: call %d (%d cU at %d ms) after the fault of call %d at %d ms (%v)", i, c.Asked, c.At, failedAt, f.At, f.Err))
			}
		}
		if c.Err != nil && failedAt < 0 {
			failedAt = i
		}
	}
	if total > sweepLimits.MaxDaily {
		bad = append(bad, fmt.Sprintf("PUMP-DAILY-MAX: %d cU moved", total))
	}
	return bad
}

func isMotorFault(err error) bool {
	return err != nil && !strings.Contains(err.Error(), hal.ErrOcclusion.Error())
}

// TestActuatorLevelFaultSweep injects a fault at every Deliver call of the
// scenario (motor stuck and occlusion, transient: the next call would work)
// and a write failure at every storage operation, and checks the pump's
// requirements on the mock pump's calls. The stale-batch defect (a bolus
// delivered after the basal pulse of the same step failed) fails it; see
// TestActuatorCheckCatchesThePlantedStaleBatch.
func TestActuatorLevelFaultSweep(t *testing.T) {
	w := newWorld(t)
	l := sweepLimits
	w.limits = &l
	bundles := make([][]byte, len(sweepScript))
	base := w.runSweep(t, newSweepBoard(), bundles, true)
	calls := base.board.Pump.Calls()
	ops := base.board.Storage.MutatingOps()
	require.Empty(t, checkAtTheHAL(calls, base), "the fault-free run breaks a requirement")
	require.GreaterOrEqual(t, len(calls), 6, "the scenario drives the motor")
	batches := 0
	for i := 1; i < len(calls); i++ {
		if calls[i].At == calls[i-1].At {
			batches++
		}
	}
	require.Positive(t, batches, "some step carries two actuations (basal pulse and bolus)")

	points, violations := 0, 0
	var first []string
	for k := 1; k <= len(calls); k++ {
		for _, fault := range []error{hal.ErrMotorStuck, hal.ErrOcclusion} {
			b := newSweepBoard()
			b.Pump.FailDeliverAt(k, fault)
			r := w.runSweep(t, b, bundles, false)
			points++
			if bad := checkAtTheHAL(b.Pump.Calls(), r); len(bad) > 0 {
				violations++
				if first == nil {
					first = append([]string{fmt.Sprintf("fault %v at Deliver call %d", fault, k)}, bad...)
				}
			}
		}
	}
	for k := int64(1); k <= ops; k++ {
		b := newSweepBoard()
		b.Storage.FailAtOp(k)
		r := w.runSweep(t, b, bundles, false)
		points++
		bad := checkAtTheHAL(b.Pump.Calls(), r)
		// Nothing moves without its record: every Deliver call follows a
		// persisted step that asked for it.
		if n, asked := len(b.Pump.Calls()), requestedInLog(t, b); n > asked {
			bad = append(bad, fmt.Sprintf("log-before-actuate: %d Deliver calls, %d requested in the log", n, asked))
		}
		if len(bad) > 0 {
			violations++
			if first == nil {
				first = append([]string{fmt.Sprintf("storage write failure at mutating op %d", k)}, bad...)
			}
		}
	}
	t.Logf("actuator-level check: %d fault points (%d Deliver calls × 2 faults, %d storage operations), %d violations",
		points, len(calls), ops, violations)
	fmt.Printf("actuator: fault_points=%d deliver_calls=%d storage_ops=%d violations=%d\n", points, len(calls), ops, violations)
	assert.Zero(t, violations, "first violation: %v", first)
}

// newSweepBoard: the watchdog's timeout covers the quiet gap before a
// command (the loop ticks every 500 ms otherwise).
func newSweepBoard() *mock.Board {
	return mock.New(mock.Config{Seed: 1, ReservoirCU: 20000, WatchdogTimeout: 2 * units.Minute})
}

func requestedInLog(t *testing.T, b *mock.Board) int {
	data, ok := b.Storage.Peek("implant.log")
	if !ok {
		return 0
	}
	return countRequested(t, data)
}

// TestActuatorCheckCatchesThePlantedStaleBatch: built with the stale-batch
// bug planted (-tags plantstalebatch: a batch goes on after a HAL error),
// the sweep fails.
func TestActuatorCheckCatchesThePlantedStaleBatch(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "test", "-count=1", "-tags", "plantstalebatch", "-run", "^TestActuatorLevelFaultSweep$", "./firmware")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the sweep must fail with the planted bug:\n%s", out)
	assert.Contains(t, string(out), "FAULT-SAFE", "it fails on the delivery after the fault:\n%s", out)
}

func guardHeader(ctr uint64, now units.Millis) guard.Header {
	return guard.Header{Counter: ctr, IssuedAtMs: now, ExpiresAtMs: now + units.Second, Signer: guard.RoleClinician}
}

// countRequested counts the deliveries the complete records of a log image
// asked for.
func countRequested(t *testing.T, data []byte) int {
	n := 0
	for r, err := range implog.Decode(data) {
		if err != nil {
			break
		}
		rec, err := protocol.DecodeRecord(r.Payload)
		require.NoError(t, err)
		if rec.Type == protocol.RecStep {
			n += len(rec.Deliver)
		}
	}
	return n
}
