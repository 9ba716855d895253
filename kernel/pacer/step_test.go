package pacer_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// rig drives a kernel through a scenario with increasing counters.
type rig struct {
	t   *testing.T
	cfg pacer.Config
	s   pacer.State
	ctr uint64
	out pacer.Outputs
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, cfg: pacer.DefaultConfig(), s: pacer.NewState()}
	require.NoError(t, r.cfg.Validate())
	return r
}

func (r *rig) step(in pacer.Input) pacer.Outputs {
	if in.NowMs == 0 {
		in.NowMs = r.s.NowMs
	}
	r.s, r.out = pacer.Step(&r.cfg, r.s, in)
	return r.out
}

func (r *rig) at(t units.Millis) pacer.Outputs {
	return r.step(pacer.Input{Kind: pacer.InTick, NowMs: t})
}

func (r *rig) sense(t units.Millis, c pacer.Chamber) pacer.Outputs {
	return r.step(pacer.Input{Kind: pacer.InSense, NowMs: t, Chamber: c})
}

// cmd sends c with a fresh header (unless it has one) and returns its decision.
func (r *rig) cmd(c pacer.Command) pacer.Output {
	if c.Header == (guard.Header{}) {
		r.ctr++
		c.Header = guard.Header{Counter: r.ctr, IssuedAtMs: r.s.NowMs, ExpiresAtMs: r.s.NowMs + units.Minute, Signer: guard.RoleClinician}
	}
	out := r.step(pacer.Input{Kind: pacer.InCommand, Cmd: c})
	for _, o := range out.All() {
		if o.Kind == pacer.OutDecision {
			return o
		}
	}
	r.t.Fatalf("no decision for %s", c.Kind)
	return pacer.Output{}
}

// runUntilApplied steps at each wake-up until the pending program is in force.
func (r *rig) runUntilApplied() {
	for i := 0; i < 10 && r.s.HavePending; i++ {
		r.at(r.out.WakeAtMs)
	}
	require.False(r.t, r.s.HavePending, "program never took effect")
}

func program(p pacer.Params, v guard.Verdict) pacer.Command {
	return pacer.Command{Kind: pacer.CmdProgram, Params: p, Verdict: v}
}

func vvi(lrl, url pacer.PPM) pacer.Params {
	p := pacer.Nominal
	p.Mode, p.LRL, p.URL = pacer.ModeVVI, lrl, url
	return p
}

func TestPowerOnResetIsSafeVVI65(t *testing.T) {
	s := pacer.NewState()
	assert.Equal(t, pacer.OpPowerOnReset, s.Op)
	assert.Equal(t, pacer.ModeVVI, s.Active.Mode)
	assert.Equal(t, pacer.PPM(65), s.Active.LRL, "PACEMAKER spec §3.6: POR VVI 65 ppm")
	assert.Equal(t, pacer.DeciVolts(50), s.Active.VAmp, "5.0 V")
	assert.Equal(t, units.Millis(320), s.Active.VRPMs)
	assert.Equal(t, units.Millis(923), pacer.LowerRateIntervalMs(65))
}

// TestLRLOutOfTable7IsRefused: PACE-PARAM-PROGRAMMABLE, table-driven over
// values next to Table 7's edges and increments.
func TestLRLOutOfTable7IsRefused(t *testing.T) {
	cases := []struct {
		lrl  pacer.PPM
		want reason.Code
	}{
		{29, reason.PacerParamNotProgrammable},
		{30, reason.OK},
		{33, reason.PacerParamNotProgrammable}, // 30–50 in steps of 5
		{51, reason.OK},                        // 50–90 in steps of 1
		{89, reason.OK},
		{91, reason.PacerParamNotProgrammable}, // 90–175 in steps of 5
		{170, reason.OK},
		{180, reason.PacerParamNotProgrammable},
	}
	for _, c := range cases {
		p := vvi(c.lrl, 175)
		assert.Equal(t, c.want, pacer.ParamsCheck(p), "LRL %d", c.lrl)
		r := newRig(t)
		v := guard.VerdictWithin
		if c.want != reason.OK {
			v = guard.VerdictOutside
		}
		d := r.cmd(program(p, v))
		assert.Equal(t, c.want, d.Reason, "LRL %d", c.lrl)
	}
}

func TestOtherParamsOutOfTable7AreRefused(t *testing.T) {
	cases := []struct {
		name string
		mut  func(*pacer.Params)
	}{
		{"URL 177", func(p *pacer.Params) { p.URL = 177 }},
		{"AV 75", func(p *pacer.Params) { p.AVDelayMs = 75 }},
		{"amplitude 3.3 V", func(p *pacer.Params) { p.VAmp = 33 }},
		{"amplitude 7.5 V", func(p *pacer.Params) { p.VAmp = 75 }},
		{"pulse width 0.07 ms", func(p *pacer.Params) { p.VPulse = 7 }},
		{"sensitivity 1.25 mV", func(p *pacer.Params) { p.VSens = 125 }},
		{"VRP 155", func(p *pacer.Params) { p.VRPMs = 155 }},
		{"PVARP 510", func(p *pacer.Params) { p.PVARPMs = 510 }},
		{"mode 9", func(p *pacer.Params) { p.Mode = 9 }},
	}
	for _, c := range cases {
		p := pacer.Nominal
		c.mut(&p)
		assert.Equal(t, reason.PacerParamNotProgrammable, pacer.ParamsCheck(p), c.name)
	}
	assert.Equal(t, reason.OK, pacer.ParamsCheck(pacer.Nominal))
}

// TestCrossParamRules: PACE-CROSS-PARAM.
func TestCrossParamRules(t *testing.T) {
	cases := []struct {
		name string
		mut  func(*pacer.Params)
		want reason.Code
	}{
		{"nominal", func(*pacer.Params) {}, reason.OK},
		{"LRL above URL", func(p *pacer.Params) { p.LRL, p.URL = 100, 90 }, reason.PacerCrossParam},
		{"LRL = URL = 120 (integer interval)", func(p *pacer.Params) { p.LRL, p.URL = 120, 120 }, reason.OK},
		{"LRL = URL = 175 (no integer interval)", func(p *pacer.Params) {
			p.LRL, p.URL = 175, 175
			p.AVDelayMs, p.PVARPMs, p.VRPMs, p.ARPMs = 70, 150, 150, 150
		}, reason.PacerCrossParam},
		{"paced chamber Off", func(p *pacer.Params) { p.VAmp = 0 }, reason.PacerCrossParam},
		{"AV + PVARP beyond LRI", func(p *pacer.Params) { p.LRL, p.URL, p.AVDelayMs, p.PVARPMs = 150, 175, 200, 200 }, reason.PacerCrossParam},
		{"VRP beyond LRI", func(p *pacer.Params) { p.Mode, p.LRL, p.URL, p.VRPMs = pacer.ModeVVI, 150, 175, 400 }, reason.PacerCrossParam},
	}
	for _, c := range cases {
		p := pacer.Nominal
		c.mut(&p)
		assert.Equal(t, c.want, pacer.ParamsCheck(p), c.name)
	}
}

func TestLyingVerdictIsRefusedWithAlert(t *testing.T) {
	r := newRig(t)
	d := r.cmd(program(vvi(33, 120), guard.VerdictWithin))
	assert.False(t, d.Accepted)
	assert.Equal(t, reason.VerdictMismatch, d.Reason)
	assert.True(t, hasAlert(r.out, reason.VerdictMismatch))
	d = r.cmd(program(vvi(60, 120), guard.VerdictOutside))
	assert.Equal(t, reason.VerdictMismatch, d.Reason)
	d = r.cmd(program(vvi(60, 120), guard.VerdictAbsent))
	assert.Equal(t, reason.NoVerdict, d.Reason)
}

func TestVVIPacesAtLowerRateAndIsInhibited(t *testing.T) {
	r := newRig(t)
	require.True(t, r.cmd(program(vvi(60, 120), guard.VerdictWithin)).Accepted)
	r.runUntilApplied()
	last := r.s.LastVMs
	assert.Equal(t, last+1000, r.out.WakeAtMs, "PACE-LRL: next pace at 60000/60 ms")
	out := r.at(last + 999)
	assert.Zero(t, out.Paces(pacer.ChamberVentricle))
	out = r.at(last + 1000)
	assert.Equal(t, 1, out.Paces(pacer.ChamberVentricle))
	// A sensed beat outside VRP inhibits and restarts the interval.
	out = r.sense(last+1700, pacer.ChamberVentricle)
	assert.Zero(t, out.Paces(pacer.ChamberVentricle))
	assert.Equal(t, last+2700, out.WakeAtMs)
}

// TestSenseInVRPIsIgnored: PACE-REFRACTORY.
func TestSenseInVRPIsIgnored(t *testing.T) {
	r := newRig(t)
	out := r.at(923)
	require.Equal(t, 1, out.Paces(pacer.ChamberVentricle))
	before := r.s
	out = r.sense(923+319, pacer.ChamberVentricle)
	assert.Equal(t, reason.PacerRefractory, out.Items[0].Reason)
	assert.Equal(t, before.LastVMs, r.s.LastVMs, "a refractory sense does not inhibit")
	assert.Equal(t, units.Millis(923+923), out.WakeAtMs)
	out = r.sense(923+320, pacer.ChamberVentricle)
	assert.Equal(t, reason.OK, out.Items[0].Reason)
}

// TestDDDUpperRateTracking: PACE-URL: a fast atrium is tracked no faster
// than the upper rate.
func TestDDDUpperRateTracking(t *testing.T) {
	r := newRig(t)
	p := pacer.Nominal // DDD 60/120, AV 150, PVARP 250
	require.True(t, r.cmd(program(p, guard.VerdictWithin)).Accepted)
	r.runUntilApplied()
	lastV := r.s.LastVMs
	out := r.sense(lastV+260, pacer.ChamberAtrium)
	require.Equal(t, reason.OK, out.Items[0].Reason)
	// AV delay would end at +410; the upper-rate interval (500 ms) wins.
	assert.Equal(t, lastV+500, out.WakeAtMs)
	out = r.at(lastV + 499)
	assert.Zero(t, out.Paces(pacer.ChamberVentricle))
	out = r.at(lastV + 500)
	assert.Equal(t, 1, out.Paces(pacer.ChamberVentricle))
}

// TestProgramWaitsForSafePoint: PACE-SAFE-POINT.
func TestProgramWaitsForSafePoint(t *testing.T) {
	r := newRig(t)
	r.at(500)
	d := r.cmd(program(vvi(90, 120), guard.VerdictWithin))
	require.True(t, d.Accepted)
	assert.True(t, hasEvent(r.out, reason.PacerUnsafePoint), "deferred")
	assert.Equal(t, pacer.PPM(65), r.s.Active.LRL, "not in force mid-cycle")
	out := r.at(923)
	assert.Equal(t, 1, out.Paces(pacer.ChamberVentricle))
	assert.Equal(t, pacer.PPM(90), r.s.Active.LRL, "in force from the cycle start")
	assert.Equal(t, pacer.OpPermanent, r.s.Op)
}

// TestFaultGoesToSafeVVI: PACE-FAULT-SAFE.
func TestFaultGoesToSafeVVI(t *testing.T) {
	for _, h := range []pacer.HALKind{pacer.HALLeadFault, pacer.HALWatchdog, pacer.HALBatteryDepleted} {
		r := newRig(t)
		require.True(t, r.cmd(program(pacer.Nominal, guard.VerdictWithin)).Accepted)
		r.runUntilApplied()
		out := r.step(pacer.Input{Kind: pacer.InHAL, NowMs: r.s.NowMs + 10, HAL: h})
		assert.Equal(t, pacer.OpFault, r.s.Op, "%s", h)
		assert.Equal(t, pacer.SafePowerOnReset, r.s.Active, "%s", h)
		assert.True(t, hasAnyAlert(out), "%s", h)
		assert.False(t, r.cmd(program(pacer.Nominal, guard.VerdictWithin)).Accepted, "fault is final")
	}
	r := newRig(t)
	r.at(100)
	r.at(50)
	assert.Equal(t, pacer.OpFault, r.s.Op, "clock went back")
	s := pacer.NewState()
	s.Active.LRL = 64
	s, out := pacer.Step(&r.cfg, s, pacer.Input{Kind: pacer.InTick})
	assert.Equal(t, pacer.OpFault, s.Op)
	assert.True(t, hasAlert(out, reason.StateCorrupt))
}

func TestMagnetPacesAsynchronouslyAt100(t *testing.T) {
	r := newRig(t)
	require.True(t, r.cmd(program(pacer.Nominal, guard.VerdictWithin)).Accepted)
	r.runUntilApplied()
	r.step(pacer.Input{Kind: pacer.InHAL, HAL: pacer.HALMagnetOn})
	assert.Equal(t, pacer.OpMagnet, r.s.Op)
	assert.Equal(t, pacer.ModeDOO, r.s.Active.Mode)
	assert.Equal(t, pacer.MagnetRate, r.s.Active.LRL)
	r.step(pacer.Input{Kind: pacer.InHAL, HAL: pacer.HALMagnetOff})
	assert.Equal(t, pacer.Nominal, r.s.Active)
}

func TestPaceNowIsImmediate(t *testing.T) {
	r := newRig(t)
	require.True(t, r.cmd(program(pacer.Nominal, guard.VerdictWithin)).Accepted)
	r.runUntilApplied()
	require.True(t, r.cmd(pacer.Command{Kind: pacer.CmdPaceNow}).Accepted)
	assert.Equal(t, pacer.SafePaceNow, r.s.Active)
	assert.Equal(t, pacer.HundredthMs(100), r.s.Active.VPulse, "1.0 ms")
}

func TestTemporaryProgramEnds(t *testing.T) {
	r := newRig(t)
	require.True(t, r.cmd(program(vvi(60, 120), guard.VerdictWithin)).Accepted)
	r.runUntilApplied()
	d := r.cmd(pacer.Command{Kind: pacer.CmdProgramTemporary, Params: vvi(80, 120), DurationMs: 5000, Verdict: guard.VerdictWithin})
	require.True(t, d.Accepted)
	r.runUntilApplied()
	assert.Equal(t, pacer.OpTemporary, r.s.Op)
	for i := 0; i < 20 && r.s.Op == pacer.OpTemporary; i++ {
		r.at(r.out.WakeAtMs)
	}
	assert.Equal(t, pacer.OpPermanent, r.s.Op)
	assert.Equal(t, pacer.PPM(60), r.s.Active.LRL)
}

func TestUnauthenticatedReplayedExpiredAreRefused(t *testing.T) {
	r := newRig(t)
	p := program(pacer.Nominal, guard.VerdictWithin)
	p.Header = guard.Header{Counter: 5, ExpiresAtMs: 1000, Signer: guard.RoleNone}
	assert.Equal(t, reason.Unauthenticated, r.cmd(p).Reason)
	p.Header.Signer = guard.RoleClinician
	assert.True(t, r.cmd(p).Accepted)
	assert.Equal(t, reason.Replay, r.cmd(p).Reason)
	p.Header = guard.Header{Counter: 6, IssuedAtMs: 0, ExpiresAtMs: 1, Signer: guard.RoleClinician}
	r.at(10)
	assert.Equal(t, reason.Expired, r.cmd(p).Reason)
}

func TestOutputsNeverOverflow(t *testing.T) {
	r := newRig(t)
	out := r.at(units.Hour)
	assert.Less(t, out.N, pacer.MaxOutputs)
}

func hasAlert(o pacer.Outputs, why reason.Code) bool {
	for _, x := range o.All() {
		if x.Kind == pacer.OutAlert && x.Reason == why {
			return true
		}
	}
	return false
}

func hasAnyAlert(o pacer.Outputs) bool {
	for _, x := range o.All() {
		if x.Kind == pacer.OutAlert {
			return true
		}
	}
	return false
}

func hasEvent(o pacer.Outputs, why reason.Code) bool {
	for _, x := range o.All() {
		if x.Kind == pacer.OutEvent && x.Reason == why {
			return true
		}
	}
	return false
}

// BenchmarkStep: the Step path allocates nothing.
func BenchmarkStep(b *testing.B) {
	cfg := pacer.DefaultConfig()
	s := pacer.NewState()
	s, _ = pacer.Step(&cfg, s, pacer.Input{Kind: pacer.InCommand, Cmd: pacer.Command{Kind: pacer.CmdProgram, Params: pacer.Nominal,
		Verdict: guard.VerdictWithin, Header: guard.Header{Counter: 1, ExpiresAtMs: 1000, Signer: guard.RoleClinician}}})
	inputs := []pacer.Input{
		{Kind: pacer.InTick},
		{Kind: pacer.InSense, Chamber: pacer.ChamberAtrium},
		{Kind: pacer.InTick},
		{Kind: pacer.InSense, Chamber: pacer.ChamberVentricle},
		{Kind: pacer.InCommand, Cmd: pacer.Command{Kind: pacer.CmdProgram, Params: pacer.Nominal, Verdict: guard.VerdictWithin}},
	}
	b.ReportAllocs()
	b.ResetTimer()
	now := units.Millis(0)
	for i := 0; i < b.N; i++ {
		in := inputs[i%len(inputs)]
		now += 170
		in.NowMs = now
		in.Cmd.Header = guard.Header{Counter: uint64(i + 2), IssuedAtMs: now, ExpiresAtMs: now + 1000, Signer: guard.RoleClinician}
		var out pacer.Outputs
		s, out = pacer.Step(&cfg, s, in)
		_ = out
	}
}
