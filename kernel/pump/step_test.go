package pump_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

var adultLimits = pump.Limits{
	MaxBolus: 500, MaxBasal: 200, MaxIOB: 1000, MaxDaily: 2000,
	MinBolusInterval: 15 * units.Minute, SuspendBelow: 70, ScheduledBasal: 100,
}

// rig drives a kernel through a scenario with increasing counters.
type rig struct {
	t   *testing.T
	cfg pump.Config
	s   pump.State
	ctr uint64
	out pump.Outputs
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, cfg: pump.DefaultConfig(pump.ProfileAdult), s: pump.NewState()}
	require.NoError(t, r.cfg.Validate())
	r.hal(pump.HALReservoir, 30000)
	d := r.cmd(pump.Command{Kind: pump.CmdProgramLimits, Limits: adultLimits})
	require.True(t, d.Accepted, "programming limits: %s", d.Reason)
	r.glucose(120)
	return r
}

func (r *rig) step(in pump.Input) pump.Outputs {
	if in.NowMs == 0 {
		in.NowMs = r.s.NowMs
	}
	r.s, r.out = pump.Step(&r.cfg, r.s, in)
	return r.out
}

func (r *rig) advance(d units.Millis) pump.Outputs {
	return r.step(pump.Input{Kind: pump.InTick, NowMs: r.s.NowMs + d})
}

func (r *rig) glucose(v units.MgDL) {
	r.step(pump.Input{Kind: pump.InGlucose, Glucose: v, GlucoseAtMs: r.s.NowMs})
}

func (r *rig) hal(k pump.HALKind, level units.CentiUnits) pump.Outputs {
	return r.step(pump.Input{Kind: pump.InHAL, HAL: k, ReservoirCU: level})
}

func (r *rig) header() guard.Header {
	r.ctr++
	return guard.Header{Counter: r.ctr, IssuedAtMs: r.s.NowMs, ExpiresAtMs: r.s.NowMs + units.Minute, Signer: guard.RoleClinician}
}

// cmd sends c with a fresh header (unless c has one) and returns its decision.
func (r *rig) cmd(c pump.Command) pump.Output {
	if c.Header == (guard.Header{}) {
		c.Header = r.header()
	}
	out := r.step(pump.Input{Kind: pump.InCommand, Cmd: c})
	for _, o := range out.All() {
		if o.Kind == pump.OutDecision {
			return o
		}
	}
	r.t.Fatalf("no decision for %s", c.Kind)
	return pump.Output{}
}

func bolus(amt units.CentiUnits, v guard.Verdict) pump.Command {
	return pump.Command{Kind: pump.CmdBolus, Amount: amt, Verdict: v}
}

func hasAlert(out pump.Outputs, why reason.Code) bool {
	for _, o := range out.All() {
		if o.Kind == pump.OutAlert && o.Reason == why {
			return true
		}
	}
	return false
}

// TestBolusRules: PUMP-MAX-BOLUS, CMD-VERDICT, PUMP-GLUCOSE-GATE, PUMP-RESERVOIR.
func TestBolusRules(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(r *rig)
		cmd     pump.Command
		want    reason.Code
		alert   bool
		deliver units.CentiUnits
	}{
		{"in-limit bolus with within verdict is delivered", nil, bolus(300, guard.VerdictWithin), reason.OK, false, 300},
		{"bolus at the max is delivered", nil, bolus(500, guard.VerdictWithin), reason.OK, false, 500},
		{"bolus above max is refused (PUMP-MAX-BOLUS)", nil, bolus(501, guard.VerdictOutside), reason.BolusOverMax, false, 0},
		{"lying within verdict for over-max bolus is refused and alerts (CMD-VERDICT)", nil, bolus(501, guard.VerdictWithin), reason.VerdictMismatch, true, 0},
		{"outside verdict for in-limit bolus is refused and alerts (CMD-VERDICT)", nil, bolus(300, guard.VerdictOutside), reason.VerdictMismatch, true, 0},
		{"absent verdict is refused", nil, bolus(300, guard.VerdictAbsent), reason.NoVerdict, false, 0},
		{"zero bolus is out of range", nil, bolus(0, guard.VerdictWithin), reason.ParamOutOfRange, false, 0},
		{"negative bolus is out of range", nil, bolus(-5, guard.VerdictWithin), reason.ParamOutOfRange, false, 0},
		{"low glucose blocks bolus (PUMP-GLUCOSE-GATE)", func(r *rig) { r.glucose(60) }, bolus(100, guard.VerdictWithin), reason.GlucoseLow, false, 0},
		{"stale glucose blocks bolus (PUMP-GLUCOSE-GATE)", func(r *rig) { r.advance(13 * units.Minute) }, bolus(100, guard.VerdictWithin), reason.GlucoseStale, false, 0},
		{"bolus above reservoir is refused (PUMP-RESERVOIR)", func(r *rig) { r.hal(pump.HALReservoir, 50) }, bolus(100, guard.VerdictWithin), reason.ReservoirEmpty, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			if tc.setup != nil {
				tc.setup(r)
			}
			d := r.cmd(tc.cmd)
			assert.Equal(t, tc.want, d.Reason, "decision reason")
			assert.Equal(t, tc.want == reason.OK, d.Accepted)
			assert.Equal(t, tc.alert, hasAlert(r.out, reason.VerdictMismatch), "verdict-mismatch alert")
			assert.Equal(t, tc.deliver, r.out.Delivered(), "delivered")
		})
	}
}

// TestBolusTooSoonIsRefused: PUMP-BOLUS-INTERVAL.
func TestBolusTooSoonIsRefused(t *testing.T) {
	r := newRig(t)
	require.True(t, r.cmd(bolus(100, guard.VerdictWithin)).Accepted)
	r.hal(pump.HALDeliveryDone, 0)
	r.advance(14 * units.Minute)
	r.glucose(120)
	assert.Equal(t, reason.BolusTooSoon, r.cmd(bolus(100, guard.VerdictWithin)).Reason)
	r.advance(units.Minute)
	assert.True(t, r.cmd(bolus(100, guard.VerdictWithin)).Accepted, "15 min later it is allowed")
}

// TestInsulinOnBoardCapsBolus: PUMP-MAX-IOB with the linear curve.
func TestInsulinOnBoardCapsBolus(t *testing.T) {
	r := newRig(t)
	r.s.Limits.MinBolusInterval = 0
	require.True(t, r.cmd(bolus(500, guard.VerdictWithin)).Accepted)
	r.hal(pump.HALDeliveryDone, 0)
	require.True(t, r.cmd(bolus(500, guard.VerdictWithin)).Accepted)
	r.hal(pump.HALDeliveryDone, 0)
	d := r.cmd(bolus(100, guard.VerdictWithin))
	assert.Equal(t, reason.IOBOverMax, d.Reason, "10 U on board, max 10 U")
	// After the full insulin action time nothing is on board.
	r.s.Limits.ScheduledBasal = 0
	r.advance(5*units.Hour + 5*units.Minute)
	r.glucose(120)
	assert.Equal(t, units.CentiUnits(0), r.s.InsulinOnBoard(&r.cfg))
	assert.True(t, r.cmd(bolus(100, guard.VerdictWithin)).Accepted)
}

// TestDailyTotalCapsDelivery: PUMP-DAILY-MAX over a rolling 24 h window.
func TestDailyTotalCapsDelivery(t *testing.T) {
	r := newRig(t)
	r.s.Limits.ScheduledBasal = 0
	r.s.Limits.MaxDaily = 1200
	r.s.Limits.MinBolusInterval = 0
	for i := 0; i < 2; i++ {
		require.True(t, r.cmd(bolus(500, guard.VerdictWithin)).Accepted)
		r.hal(pump.HALDeliveryDone, 0)
		r.advance(6 * units.Hour)
		r.glucose(120)
	}
	assert.Equal(t, reason.DailyOverMax, r.cmd(bolus(300, guard.VerdictWithin)).Reason, "10 U + 3 U > 12 U in 24 h")
	r.advance(12*units.Hour + 5*units.Minute) // the first bolus leaves the window
	r.glucose(120)
	assert.True(t, r.cmd(bolus(300, guard.VerdictWithin)).Accepted)
}

// TestBasalIsDeliveredAndCapped: PUMP-MAX-BASAL, temp-basal clamp.
func TestBasalIsDeliveredAndCapped(t *testing.T) {
	r := newRig(t)
	out := r.advance(6 * units.Minute)
	assert.Equal(t, units.CentiUnits(10), out.Delivered(), "1 U/h for 6 min is 0.1 U")
	d := r.cmd(pump.Command{Kind: pump.CmdTempBasal, Rate: 301, DurationMs: units.Hour, Verdict: guard.VerdictOutside})
	assert.Equal(t, reason.BasalOverMax, d.Reason, "3.01 U/h > min(2, 3×1) U/h")
	d = r.cmd(pump.Command{Kind: pump.CmdTempBasal, Rate: 200, DurationMs: units.Hour, Verdict: guard.VerdictWithin})
	require.True(t, d.Accepted)
	r.glucose(120)
	assert.Equal(t, units.CentiUnits(20), r.advance(6*units.Minute).Delivered(), "2 U/h for 6 min")
	d = r.cmd(pump.Command{Kind: pump.CmdSetBasal, Rate: 201, Verdict: guard.VerdictWithin})
	assert.Equal(t, reason.VerdictMismatch, d.Reason)
}

// TestHaltedModesDeliverNothing: PUMP-HALT, PUMP-ALARM-ACK, PUMP-FAULT-STOP.
func TestHaltedModesDeliverNothing(t *testing.T) {
	r := newRig(t)
	require.True(t, r.cmd(pump.Command{Kind: pump.CmdSuspend}).Accepted)
	assert.Zero(t, r.advance(30*units.Minute).Delivered())
	r.glucose(120)
	assert.Equal(t, reason.Suspended, r.cmd(bolus(100, guard.VerdictWithin)).Reason)
	require.True(t, r.cmd(pump.Command{Kind: pump.CmdResume}).Accepted)

	out := r.hal(pump.HALOcclusion, 0)
	assert.Equal(t, pump.ModeAlarm, r.s.Mode)
	assert.True(t, hasAlert(out, reason.Occlusion))
	assert.Zero(t, r.advance(10*units.Minute).Delivered())
	assert.Equal(t, reason.ModeForbids, r.cmd(pump.Command{Kind: pump.CmdResume}).Reason, "resume does not clear an alarm")
	require.True(t, r.cmd(pump.Command{Kind: pump.CmdAckAlarm}).Accepted)
	assert.Equal(t, pump.ModeIdle, r.s.Mode)

	out = r.hal(pump.HALMotorFault, 0)
	assert.Equal(t, pump.ModeFault, r.s.Mode)
	assert.True(t, hasAlert(out, reason.MotorFault))
	assert.Equal(t, reason.ModeForbids, r.cmd(pump.Command{Kind: pump.CmdAckAlarm}).Reason, "a fault is not acknowledged away")
	assert.Zero(t, r.advance(time10()).Delivered())
}

func time10() units.Millis { return 10 * units.Minute }

// TestCommandAdmission: CMD-AUTH, CMD-REPLAY, CMD-COUNTER-STEP, CMD-EXPIRY.
func TestCommandAdmission(t *testing.T) {
	r := newRig(t)
	now := r.s.NowMs
	cases := []struct {
		name string
		h    guard.Header
		want reason.Code
	}{
		{"unsigned is refused", guard.Header{Counter: 100, IssuedAtMs: now, ExpiresAtMs: now + 1000}, reason.Unauthenticated},
		{"relay key may not command therapy", guard.Header{Counter: 100, IssuedAtMs: now, ExpiresAtMs: now + 1000, Signer: guard.RoleRelay}, reason.WrongRole},
		{"expired is refused", guard.Header{Counter: 100, IssuedAtMs: now - 2000, ExpiresAtMs: now, Signer: guard.RoleClinician}, reason.Expired},
		{"replayed counter is refused", guard.Header{Counter: 100, IssuedAtMs: now, ExpiresAtMs: now + 1000, Signer: guard.RoleClinician}, reason.Replay},
		{"future command is refused", guard.Header{Counter: 101, IssuedAtMs: now + 10, ExpiresAtMs: now + 1000, Signer: guard.RoleClinician}, reason.NotYetValid},
		{"overlong validity is refused", guard.Header{Counter: 102, IssuedAtMs: now, ExpiresAtMs: now + time10(), Signer: guard.RoleClinician}, reason.ValidityTooLong},
		{"lower counter is refused", guard.Header{Counter: 50, IssuedAtMs: now, ExpiresAtMs: now + 1000, Signer: guard.RoleClinician}, reason.Replay},
		{"a window that wraps in int64 is refused", guard.Header{Counter: 103, IssuedAtMs: math.MinInt64, ExpiresAtMs: math.MaxInt64, Signer: guard.RoleClinician}, reason.ValidityTooLong},
		{"a counter jump is refused", guard.Header{Counter: 104 + guard.MaxCounterStep, IssuedAtMs: now, ExpiresAtMs: now + 1000, Signer: guard.RoleClinician}, reason.CounterJump},
		{"counter 2^64-1 is refused", guard.Header{Counter: math.MaxUint64, IssuedAtMs: now, ExpiresAtMs: now + 1000, Signer: guard.RoleClinician}, reason.CounterJump},
	}
	for _, tc := range cases {
		c := bolus(100, guard.VerdictWithin)
		c.Header = tc.h
		d := r.cmd(c)
		assert.Equal(t, tc.want, d.Reason, tc.name)
		assert.Zero(t, r.out.Delivered(), tc.name)
	}
	// CMD-COUNTER-STEP: the refused jumps consumed nothing.
	assert.Equal(t, uint64(103), r.s.Guard.LastCounter, "refused counter jumps are not consumed")
}

// TestProgrammingOutOfRangeLimitsIsRefused: PUMP-LIMITS-RANGE.
func TestProgrammingOutOfRangeLimitsIsRefused(t *testing.T) {
	mod := func(f func(l *pump.Limits)) pump.Limits { l := adultLimits; f(&l); return l }
	cases := []struct {
		name string
		l    pump.Limits
		ok   bool
	}{
		{"nominal", adultLimits, true},
		{"max bolus at adult hard limit 17 U", mod(func(l *pump.Limits) { l.MaxBolus = 1700 }), true},
		{"max bolus above adult hard limit", mod(func(l *pump.Limits) { l.MaxBolus = 1701 }), false},
		{"max bolus below 0.1 U", mod(func(l *pump.Limits) { l.MaxBolus = 9 }), false},
		{"max basal above 10 U/h", mod(func(l *pump.Limits) { l.MaxBasal = 1001 }), false},
		{"max IOB above 22 U", mod(func(l *pump.Limits) { l.MaxIOB = 2201 }), false},
		{"suspend threshold below Loop guardrail", mod(func(l *pump.Limits) { l.SuspendBelow = 66 }), false},
		{"suspend threshold above Loop guardrail", mod(func(l *pump.Limits) { l.SuspendBelow = 111 }), false},
		{"scheduled basal above max basal", mod(func(l *pump.Limits) { l.ScheduledBasal = 201 }), false},
		{"negative interval", mod(func(l *pump.Limits) { l.MinBolusInterval = -1 }), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			d := r.cmd(pump.Command{Kind: pump.CmdProgramLimits, Limits: tc.l})
			assert.Equal(t, tc.ok, d.Accepted, "reason %s", d.Reason)
			if !tc.ok {
				assert.Equal(t, adultLimits, r.s.Limits, "refused limits change nothing")
			}
		})
	}
}

// TestFaultsDriveSafeState: FAULT-SAFE.
func TestFaultsDriveSafeState(t *testing.T) {
	cases := []struct {
		name    string
		corrupt func(r *rig) pump.Input
		why     reason.Code
	}{
		{"watchdog", func(r *rig) pump.Input { return pump.Input{Kind: pump.InHAL, HAL: pump.HALWatchdog, NowMs: r.s.NowMs} }, reason.Watchdog},
		{"clock went back", func(r *rig) pump.Input { return pump.Input{Kind: pump.InTick, NowMs: r.s.NowMs - 1} }, reason.ClockWentBack},
		{"corrupt mode", func(r *rig) pump.Input { r.s.Mode = 42; return pump.Input{Kind: pump.InTick, NowMs: r.s.NowMs} }, reason.StateCorrupt},
		{"corrupt limits", func(r *rig) pump.Input {
			r.s.Limits.MaxBolus = 99999
			return pump.Input{Kind: pump.InTick, NowMs: r.s.NowMs}
		}, reason.StateCorrupt},
		{"negative reservoir", func(r *rig) pump.Input { r.s.ReservoirCU = -1; return pump.Input{Kind: pump.InTick, NowMs: r.s.NowMs} }, reason.StateCorrupt},
		{"corrupt ring", func(r *rig) pump.Input { r.s.Ring[3] = -7; return pump.Input{Kind: pump.InTick, NowMs: r.s.NowMs} }, reason.StateCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			out := r.step(tc.corrupt(r))
			assert.Equal(t, pump.ModeFault, r.s.Mode)
			assert.True(t, hasAlert(out, tc.why), "alert %s in %v", tc.why, out.All())
			assert.Zero(t, out.Delivered())
			assert.Zero(t, r.advance(time10()).Delivered())
		})
	}
}

// TestStepIsDeterministic: the same state and input give the same result.
func TestStepIsDeterministic(t *testing.T) {
	r := newRig(t)
	in := pump.Input{Kind: pump.InCommand, NowMs: r.s.NowMs, Cmd: bolus(200, guard.VerdictWithin)}
	in.Cmd.Header = r.header()
	s1, o1 := pump.Step(&r.cfg, r.s, in)
	s2, o2 := pump.Step(&r.cfg, r.s, in)
	assert.Equal(t, s1, s2)
	assert.Equal(t, o1, o2)
}

// TestConfigValidate refuses unusable configurations.
func TestConfigValidate(t *testing.T) {
	good := pump.DefaultConfig(pump.ProfileChild)
	require.NoError(t, good.Validate())
	bad := []func(c *pump.Config){
		func(c *pump.Config) { c.Profile = 9 },
		func(c *pump.Config) { c.BucketMs = 7 * units.Minute },
		func(c *pump.Config) { c.BucketMs = units.Minute },
		func(c *pump.Config) { c.InsulinActionMs = 2 * units.Day },
		func(c *pump.Config) { c.GlucoseStaleMs = 0 },
		func(c *pump.Config) { c.MaxTempBasalMs = 0 },
		func(c *pump.Config) { c.MaxSwitchMs = 0 },
		func(c *pump.Config) { c.MaxSwitchMs = c.GlucoseStaleMs + 1 },
	}
	for i, f := range bad {
		c := good
		f(&c)
		assert.ErrorIs(t, c.Validate(), pump.ErrConfig, "case %d", i)
	}
}

func BenchmarkStep(b *testing.B) {
	cfg := pump.DefaultConfig(pump.ProfileAdult)
	s := pump.NewState()
	s, _ = pump.Step(&cfg, s, pump.Input{Kind: pump.InHAL, HAL: pump.HALReservoir, ReservoirCU: 30000})
	s, _ = pump.Step(&cfg, s, pump.Input{Kind: pump.InCommand, Cmd: pump.Command{Kind: pump.CmdProgramLimits, Limits: adultLimits,
		Header: guard.Header{Counter: 1, ExpiresAtMs: 1000, Signer: guard.RoleClinician}}})
	inputs := []pump.Input{
		{Kind: pump.InGlucose, Glucose: 120},
		{Kind: pump.InTick},
		{Kind: pump.InCommand, Cmd: bolus(100, guard.VerdictWithin)},
		{Kind: pump.InHAL, HAL: pump.HALDeliveryDone},
		{Kind: pump.InSwitchRequest, SwitchMs: 10 * units.Second},
	}
	b.ReportAllocs()
	b.ResetTimer()
	now := units.Millis(0)
	for i := 0; i < b.N; i++ {
		in := inputs[i%len(inputs)]
		now += units.Minute
		in.NowMs = now
		in.GlucoseAtMs = now
		in.Cmd.Header = guard.Header{Counter: uint64(i + 2), IssuedAtMs: now, ExpiresAtMs: now + 1000, Signer: guard.RoleClinician}
		var out pump.Outputs
		s, out = pump.Step(&cfg, s, in)
		_ = out
	}
}

// switchAnswer sends a switch request declaring a blackout of d and returns
// the kernel's answer, checking that there is exactly one.
func (r *rig) switchAnswer(d units.Millis) pump.Output {
	r.t.Helper()
	out := r.step(pump.Input{Kind: pump.InSwitchRequest, SwitchMs: d})
	var answers []pump.Output
	for _, o := range out.All() {
		if o.Kind == pump.OutSwitch {
			answers = append(answers, o)
		}
	}
	require.Len(r.t, answers, 1, "one answer per switch request: %v", out.All())
	require.Equal(r.t, pump.OutSwitch, out.All()[out.N-1].Kind, "the answer is the Step's last output")
	return answers[0]
}

// TestSlotSwitchOnlyWithoutBolusInProgress: PUMP-UPDATE-SWITCH. A firmware
// slot switch is granted while no bolus runs and the pump is not faulted,
// for a declared blackout within (0, MaxSwitchMs]; the answer changes no
// state.
func TestSlotSwitchOnlyWithoutBolusInProgress(t *testing.T) {
	max := pump.DefaultConfig(pump.ProfileAdult).MaxSwitchMs
	require.Equal(t, 30*units.Second, max)
	cases := []struct {
		name  string
		setup func(r *rig)
		d     units.Millis
		want  reason.Code
	}{
		{"idle, basal running: granted", nil, 10 * units.Second, reason.OK},
		{"idle, blackout at the maximum: granted", nil, max, reason.OK},
		{"blackout above the maximum is refused", nil, max + 1, reason.SwitchDurationOutOfRange},
		{"zero blackout is refused", nil, 0, reason.SwitchDurationOutOfRange},
		{"negative blackout is refused", nil, -1, reason.SwitchDurationOutOfRange},
		{"bolus in progress is refused", func(r *rig) { require.True(r.t, r.cmd(bolus(200, guard.VerdictWithin)).Accepted) }, max, reason.SwitchBolusInProgress},
		{"bolus finished: granted", func(r *rig) {
			require.True(r.t, r.cmd(bolus(200, guard.VerdictWithin)).Accepted)
			r.hal(pump.HALDeliveryDone, 0)
		}, max, reason.OK},
		{"bolus stopped by suspend: granted", func(r *rig) {
			require.True(r.t, r.cmd(bolus(200, guard.VerdictWithin)).Accepted)
			require.True(r.t, r.cmd(pump.Command{Kind: pump.CmdSuspend}).Accepted)
		}, max, reason.OK},
		{"bolus stopped by an occlusion alarm: granted", func(r *rig) {
			require.True(r.t, r.cmd(bolus(200, guard.VerdictWithin)).Accepted)
			r.hal(pump.HALOcclusion, 0)
		}, max, reason.OK},
		{"fault is refused", func(r *rig) { r.hal(pump.HALMotorFault, 0) }, max, reason.Faulted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			if tc.setup != nil {
				tc.setup(r)
			}
			before := r.s
			tick, _ := pump.Step(&r.cfg, before, pump.Input{Kind: pump.InTick, NowMs: before.NowMs})
			a := r.switchAnswer(tc.d)
			assert.Equal(t, tc.want, a.Reason)
			assert.Equal(t, tc.want == reason.OK, a.Accepted)
			assert.Equal(t, tick, r.s, "a switch request changes nothing but the answer")
		})
	}
}

// TestSlotSwitchInEveryMode: PUMP-UPDATE-SWITCH, mode by mode; a corrupted
// state or a clock gone back still answers, with a refusal.
func TestSlotSwitchInEveryMode(t *testing.T) {
	cfg := pump.DefaultConfig(pump.ProfileAdult)
	init := pump.NewState()
	_, out := pump.Step(&cfg, init, pump.Input{Kind: pump.InSwitchRequest, SwitchMs: units.Second})
	require.Equal(t, 1, out.N)
	assert.True(t, out.Items[0].Accepted, "init: nothing programmed, nothing delivered")

	r := newRig(t)
	require.True(t, r.cmd(pump.Command{Kind: pump.CmdSuspend}).Accepted)
	assert.True(t, r.switchAnswer(units.Second).Accepted, "suspended: motor stopped")
	require.True(t, r.cmd(pump.Command{Kind: pump.CmdResume}).Accepted)
	r.hal(pump.HALReservoir, 0)
	require.Equal(t, pump.ModeAlarm, r.s.Mode)
	assert.True(t, r.switchAnswer(units.Second).Accepted, "alarm: motor stopped, the alarm survives in the restored state")

	r = newRig(t)
	r.s.ReservoirCU = -1 // a state the kernel could never produce
	a := r.switchAnswer(units.Second)
	assert.Equal(t, reason.StateCorrupt, a.Reason)
	assert.False(t, a.Accepted)
	assert.Equal(t, pump.ModeFault, r.s.Mode)

	r = newRig(t)
	r.advance(units.Minute)
	out = r.step(pump.Input{Kind: pump.InSwitchRequest, NowMs: r.s.NowMs - 1, SwitchMs: units.Second})
	last := out.All()[out.N-1]
	assert.Equal(t, pump.OutSwitch, last.Kind)
	assert.Equal(t, reason.ClockWentBack, last.Reason)
	assert.False(t, last.Accepted)
}

// TestTempBasalDurationOutsideRangeIsRefused: PUMP-TEMP-DURATION. A
// temporary basal runs for [MinTempBasalMs, MaxTempBasalMs]; 1 ms outside
// either end is refused as out of range, the ends themselves are accepted,
// and the temporary rate never runs past MaxTempBasalMs from its start.
func TestTempBasalDurationOutsideRangeIsRefused(t *testing.T) {
	cfg := pump.DefaultConfig(pump.ProfileAdult)
	for _, tc := range []struct {
		d    units.Millis
		want reason.Code
	}{
		{cfg.MinTempBasalMs - 1, reason.ParamOutOfRange},
		{cfg.MinTempBasalMs, reason.OK},
		{cfg.MaxTempBasalMs, reason.OK},
		{cfg.MaxTempBasalMs + 1, reason.ParamOutOfRange},
	} {
		s := pump.NewState()
		s, _ = pump.Step(&cfg, s, pump.Input{Kind: pump.InCommand, Cmd: pump.Command{Kind: pump.CmdProgramLimits, Limits: adultLimits,
			Header: guard.Header{Counter: 1, ExpiresAtMs: units.Minute, Signer: guard.RoleClinician}}})
		require.Equal(t, pump.ModeIdle, s.Mode)
		c := pump.Command{Kind: pump.CmdTempBasal, Rate: adultLimits.ScheduledBasal, DurationMs: tc.d, Verdict: guard.VerdictWithin,
			Header: guard.Header{Counter: 2, ExpiresAtMs: units.Minute, Signer: guard.RoleClinician}}
		s, out := pump.Step(&cfg, s, pump.Input{Kind: pump.InCommand, Cmd: c})
		var got reason.Code = 255
		for _, o := range out.All() {
			if o.Kind == pump.OutDecision {
				got = o.Reason
			}
		}
		assert.Equal(t, tc.want, got, "temporary basal of %d ms", tc.d)
		assert.LessOrEqual(t, s.TempUntilMs-s.NowMs, cfg.MaxTempBasalMs, "PUMP-TEMP-DURATION: runs at most the maximum")
	}
}
