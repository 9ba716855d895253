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
		lrl      pacer.PPM
		want     reason.Code
		decision reason.Code // with an honest verdict against the full Table 7 limits
	}{
		{29, reason.PacerParamNotProgrammable, reason.OverLimit}, // below every patient's limits
		{30, reason.OK, reason.OK},
		{33, reason.PacerParamNotProgrammable, reason.PacerParamNotProgrammable}, // 30–50 in steps of 5
		{51, reason.OK, reason.OK},                                               // 50–90 in steps of 1
		{89, reason.OK, reason.OK},
		{91, reason.PacerParamNotProgrammable, reason.PacerParamNotProgrammable}, // 90–175 in steps of 5
		{170, reason.OK, reason.OK},
		{180, reason.PacerParamNotProgrammable, reason.PacerParamNotProgrammable},
	}
	for _, c := range cases {
		p := vvi(c.lrl, 175)
		assert.Equal(t, c.want, pacer.ParamsCheck(p), "LRL %d", c.lrl)
		r := newRig(t)
		v := guard.VerdictWithin
		if c.lrl < pacer.FullLimits.MinLRL {
			v = guard.VerdictOutside
		}
		d := r.cmd(program(p, v))
		assert.Equal(t, c.decision, d.Reason, "LRL %d", c.lrl)
		assert.False(t, hasAnyAlert(r.out), "LRL %d: an honest verdict raises no alert", c.lrl)
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
	d := r.cmd(program(vvi(29, 120), guard.VerdictWithin))
	assert.False(t, d.Accepted)
	assert.Equal(t, reason.VerdictMismatch, d.Reason)
	assert.True(t, hasAlert(r.out, reason.VerdictMismatch))
	d = r.cmd(program(vvi(60, 120), guard.VerdictOutside))
	assert.Equal(t, reason.VerdictMismatch, d.Reason)
	d = r.cmd(program(vvi(60, 120), guard.VerdictAbsent))
	assert.Equal(t, reason.NoVerdict, d.Reason)
}

// TestPatientLimitsVerdictRule: PACE-PATIENT-LIMITS and CMD-VERDICT. The
// exact check is the relay's comparison with the patient's limits; Table 7
// and cross-parameter refusals come after it, without an alert.
func TestPatientLimitsVerdictRule(t *testing.T) {
	lim := pacer.Limits{MinLRL: 60, MaxURL: 120}
	temp := func(p pacer.Params, v guard.Verdict) pacer.Command {
		return pacer.Command{Kind: pacer.CmdProgramTemporary, Params: p, Verdict: v, DurationMs: 5000}
	}
	cases := []struct {
		name  string
		cmd   pacer.Command
		want  reason.Code
		alert bool
	}{
		{"in limits, verdict within", program(vvi(60, 120), guard.VerdictWithin), reason.OK, false},
		{"in limits, verdict within (LRL 90, URL 100)", program(vvi(90, 100), guard.VerdictWithin), reason.OK, false},
		{"LRL below MinLRL, verdict outside", program(vvi(55, 120), guard.VerdictOutside), reason.OverLimit, false},
		{"URL above MaxURL, verdict outside", program(vvi(60, 125), guard.VerdictOutside), reason.OverLimit, false},
		{"LRL below MinLRL, lying verdict within", program(vvi(55, 120), guard.VerdictWithin), reason.VerdictMismatch, true},
		{"URL above MaxURL, lying verdict within", program(vvi(60, 125), guard.VerdictWithin), reason.VerdictMismatch, true},
		{"in limits, lying verdict outside", program(vvi(60, 120), guard.VerdictOutside), reason.VerdictMismatch, true},
		{"in limits, verdict absent", program(vvi(60, 120), guard.VerdictAbsent), reason.NoVerdict, false},
		{"LRL 91 off Table 7 increments, honest within", program(vvi(91, 120), guard.VerdictWithin), reason.PacerParamNotProgrammable, false},
		{"URL 117 off Table 7 increments, honest within", program(vvi(60, 117), guard.VerdictWithin), reason.PacerParamNotProgrammable, false},
		{"AV 75 off Table 7 increments, honest within", program(func() pacer.Params { p := pacer.Nominal; p.AVDelayMs = 75; return p }(), guard.VerdictWithin), reason.PacerParamNotProgrammable, false},
		{"LRL above URL, honest within", program(vvi(100, 90), guard.VerdictWithin), reason.PacerCrossParam, false},
		{"temporary in limits, verdict within", temp(vvi(80, 120), guard.VerdictWithin), reason.OK, false},
		{"temporary below MinLRL, verdict outside", temp(vvi(50, 120), guard.VerdictOutside), reason.OverLimit, false},
		{"temporary below MinLRL, lying verdict within", temp(vvi(50, 120), guard.VerdictWithin), reason.VerdictMismatch, true},
		{"temporary off Table 7, honest within", temp(vvi(60, 118), guard.VerdictWithin), reason.PacerParamNotProgrammable, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			require.True(t, r.cmd(pacer.Command{Kind: pacer.CmdSetLimits, Limits: lim}).Accepted)
			if c.cmd.Kind == pacer.CmdProgramTemporary {
				require.True(t, r.cmd(program(vvi(60, 120), guard.VerdictWithin)).Accepted)
				r.runUntilApplied()
			}
			before := r.s
			d := r.cmd(c.cmd)
			assert.Equal(t, c.want, d.Reason)
			assert.Equal(t, c.want == reason.OK, d.Accepted)
			assert.Equal(t, c.alert, hasAlert(r.out, reason.VerdictMismatch), "verdict-mismatch alert")
			assert.Equal(t, c.alert, hasAnyAlert(r.out), "any alert")
			if !d.Accepted {
				assert.Equal(t, before.HavePending, r.s.HavePending, "a refused program leaves nothing pending")
			} else {
				assert.Equal(t, c.cmd.Params, r.s.Pending)
			}
		})
	}
}

// TestSetLimitsRangeChecks: PACE-PATIENT-LIMITS. New limits are Table 7
// rates with MinLRL < MaxURL, need no verdict, take effect at once, change
// no pacing parameter, and are refused if they exclude a stored program.
func TestSetLimitsRangeChecks(t *testing.T) {
	// The permanent program is Nominal: DDD 60/120.
	cases := []struct {
		name string
		l    pacer.Limits
		want reason.Code
	}{
		{"full Table 7 range", pacer.Limits{MinLRL: 30, MaxURL: 175}, reason.OK},
		{"exactly the permanent program", pacer.Limits{MinLRL: 60, MaxURL: 120}, reason.OK},
		{"around it", pacer.Limits{MinLRL: 45, MaxURL: 150}, reason.OK},
		{"MinLRL 33 off Table 7", pacer.Limits{MinLRL: 33, MaxURL: 175}, reason.PacerParamNotProgrammable},
		{"MinLRL 29 below Table 7", pacer.Limits{MinLRL: 29, MaxURL: 175}, reason.PacerParamNotProgrammable},
		{"MinLRL 0", pacer.Limits{MinLRL: 0, MaxURL: 175}, reason.PacerParamNotProgrammable},
		{"MaxURL 177 off Table 7", pacer.Limits{MinLRL: 30, MaxURL: 177}, reason.PacerParamNotProgrammable},
		{"MaxURL 180 above Table 7", pacer.Limits{MinLRL: 30, MaxURL: 180}, reason.PacerParamNotProgrammable},
		{"MaxURL 45 below Table 7", pacer.Limits{MinLRL: 30, MaxURL: 45}, reason.PacerParamNotProgrammable},
		{"MinLRL = MaxURL", pacer.Limits{MinLRL: 120, MaxURL: 120}, reason.PacerCrossParam},
		{"MinLRL above MaxURL", pacer.Limits{MinLRL: 150, MaxURL: 100}, reason.PacerCrossParam},
		{"MinLRL above the permanent LRL", pacer.Limits{MinLRL: 61, MaxURL: 175}, reason.PacerLimitsExcludeCurrent},
		{"MaxURL below the permanent URL", pacer.Limits{MinLRL: 30, MaxURL: 115}, reason.PacerLimitsExcludeCurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want == reason.OK || c.want == reason.PacerLimitsExcludeCurrent, pacer.LimitsCheck(c.l) == reason.OK)
			r := newRig(t)
			r.at(500) // mid-cycle: limits still take effect at once
			before := r.s
			d := r.cmd(pacer.Command{Kind: pacer.CmdSetLimits, Limits: c.l}) // no verdict needed
			assert.Equal(t, c.want, d.Reason)
			assert.Equal(t, c.want == reason.OK, d.Accepted)
			assert.False(t, hasAnyAlert(r.out))
			if d.Accepted {
				assert.Equal(t, c.l, r.s.Limits, "in force at once")
			} else {
				assert.Equal(t, pacer.FullLimits, r.s.Limits, "refused limits change nothing")
			}
			// No pacing parameter changes, nothing becomes pending.
			assert.Equal(t, before.Active, r.s.Active)
			assert.Equal(t, before.Perm, r.s.Perm)
			assert.Equal(t, before.Op, r.s.Op)
			assert.False(t, r.s.HavePending)
		})
	}

	t.Run("a pending program excluded by new limits", func(t *testing.T) {
		r := newRig(t)
		r.at(500)
		require.True(t, r.cmd(program(vvi(90, 130), guard.VerdictWithin)).Accepted)
		require.True(t, r.s.HavePending)
		assert.Equal(t, reason.PacerLimitsExcludeCurrent, r.cmd(pacer.Command{Kind: pacer.CmdSetLimits, Limits: pacer.Limits{MinLRL: 30, MaxURL: 120}}).Reason)
		assert.Equal(t, reason.PacerLimitsExcludeCurrent, r.cmd(pacer.Command{Kind: pacer.CmdSetLimits, Limits: pacer.Limits{MinLRL: 65, MaxURL: 175}}).Reason, "nor the permanent LRL 60")
		assert.True(t, r.cmd(pacer.Command{Kind: pacer.CmdSetLimits, Limits: pacer.Limits{MinLRL: 60, MaxURL: 130}}).Accepted)
		r.runUntilApplied()
		assert.Equal(t, pacer.PPM(90), r.s.Active.LRL)
	})
	t.Run("a running temporary program excluded by new limits", func(t *testing.T) {
		r := newRig(t)
		require.True(t, r.cmd(program(vvi(60, 120), guard.VerdictWithin)).Accepted)
		r.runUntilApplied()
		require.True(t, r.cmd(pacer.Command{Kind: pacer.CmdProgramTemporary, Params: vvi(100, 150), DurationMs: 60_000, Verdict: guard.VerdictWithin}).Accepted)
		r.runUntilApplied()
		require.Equal(t, pacer.OpTemporary, r.s.Op)
		assert.Equal(t, reason.PacerLimitsExcludeCurrent, r.cmd(pacer.Command{Kind: pacer.CmdSetLimits, Limits: pacer.Limits{MinLRL: 60, MaxURL: 120}}).Reason)
		assert.Equal(t, pacer.OpTemporary, r.s.Op, "therapy never changes to fit new limits")
	})
	t.Run("new limits govern the next program", func(t *testing.T) {
		r := newRig(t)
		require.True(t, r.cmd(pacer.Command{Kind: pacer.CmdSetLimits, Limits: pacer.Limits{MinLRL: 55, MaxURL: 130}}).Accepted)
		d := r.cmd(program(vvi(50, 120), guard.VerdictWithin))
		assert.Equal(t, reason.VerdictMismatch, d.Reason, "50 < MinLRL 55: 'within' is a lie now")
		assert.Equal(t, reason.OverLimit, r.cmd(program(vvi(50, 120), guard.VerdictOutside)).Reason)
		require.True(t, r.cmd(pacer.Command{Kind: pacer.CmdSetLimits, Limits: pacer.FullLimits}).Accepted)
		assert.True(t, r.cmd(program(vvi(50, 120), guard.VerdictWithin)).Accepted)
	})
	t.Run("refused in fault, accepted under a magnet", func(t *testing.T) {
		r := newRig(t)
		require.True(t, r.cmd(program(pacer.Nominal, guard.VerdictWithin)).Accepted)
		r.runUntilApplied()
		r.step(pacer.Input{Kind: pacer.InHAL, HAL: pacer.HALMagnetOn})
		require.Equal(t, pacer.OpMagnet, r.s.Op)
		assert.True(t, r.cmd(pacer.Command{Kind: pacer.CmdSetLimits, Limits: pacer.Limits{MinLRL: 60, MaxURL: 120}}).Accepted,
			"the magnet's URL 100..120 is no programmed parameter")
		r.step(pacer.Input{Kind: pacer.InHAL, HAL: pacer.HALLeadFault})
		assert.Equal(t, reason.Faulted, r.cmd(pacer.Command{Kind: pacer.CmdSetLimits, Limits: pacer.FullLimits}).Reason)
	})
	t.Run("corrupt limits are a fault", func(t *testing.T) {
		cfg := pacer.DefaultConfig()
		s := pacer.NewState()
		s.Limits.MinLRL = 61 // excludes the permanent LRL 60
		s, out := pacer.Step(&cfg, s, pacer.Input{Kind: pacer.InTick})
		assert.Equal(t, pacer.OpFault, s.Op)
		assert.True(t, hasAlert(out, reason.StateCorrupt))
		assert.Equal(t, pacer.FullLimits, s.Limits)
	})
	assert.Equal(t, "set-limits", pacer.CmdSetLimits.String())
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

// TestDualChamberAtrialEscapeLeavesTheAVDelay: PACE-AV-DELAY. In DDD and
// DOO the atrium is paced at the lower-rate interval less the AV delay
// after the last ventricular event (ventricular-based timing), not at the
// ventricular deadline, and the ventricle the AV delay after the atrium.
func TestDualChamberAtrialEscapeLeavesTheAVDelay(t *testing.T) {
	for _, m := range []pacer.PacingMode{pacer.ModeDDD, pacer.ModeDOO} {
		r := newRig(t)
		p := pacer.Nominal // LRL 60 (1000 ms), AV 150 ms
		p.Mode = m
		require.True(t, r.cmd(program(p, guard.VerdictWithin)).Accepted)
		r.runUntilApplied()
		lastV := r.s.LastVMs
		assert.Equal(t, lastV+850, r.out.WakeAtMs, "%s: wake-up at the atrial escape, LRI - AV", m)
		early := r.at(lastV + 849)
		assert.Zero(t, early.Paces(pacer.ChamberAtrium), "%s", m)
		out := r.at(lastV + 850)
		assert.Equal(t, 1, out.Paces(pacer.ChamberAtrium), "%s: atrial escape at LRI - AV", m)
		assert.Zero(t, out.Paces(pacer.ChamberVentricle), "%s", m)
		assert.Equal(t, lastV+1000, out.WakeAtMs, "%s: the AV delay ends the cycle", m)
		v := r.at(lastV + 1000)
		assert.Equal(t, 1, v.Paces(pacer.ChamberVentricle), "%s: ventricle paced AV after the atrium", m)
	}
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
		{Kind: pacer.InSwitchRequest, SwitchMs: 100},
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

// switchAnswer sends a switch request at time t declaring a blackout of d
// and returns the kernel's one answer.
func (r *rig) switchAnswer(t, d units.Millis) pacer.Output {
	r.t.Helper()
	out := r.step(pacer.Input{Kind: pacer.InSwitchRequest, NowMs: t, SwitchMs: d})
	var answers []pacer.Output
	for _, o := range out.All() {
		if o.Kind == pacer.OutSwitch {
			answers = append(answers, o)
		}
	}
	require.Len(r.t, answers, 1, "one answer per switch request: %v", out.All())
	return answers[0]
}

// TestSlotSwitchKeepsBackupPacingWithinLRI: PACE-UPDATE-SWITCH. A firmware
// slot switch is granted only if its blackout ends no later than the
// lower-rate deadline of the rate chamber, and the first Step after the
// blackout paces on time.
func TestSlotSwitchKeepsBackupPacingWithinLRI(t *testing.T) {
	max := pacer.DefaultConfig().MaxSwitchMs
	require.Equal(t, units.Millis(250), max)

	// Power-on reset, VVI 65: the deadline is 923 ms after the last V event.
	r := newRig(t)
	a := r.switchAnswer(0, max)
	assert.True(t, a.Accepted, "right after a ventricular event: %s", a.Reason)
	assert.Equal(t, reason.SwitchEscapeDeadline, r.switchAnswer(700, 224).Reason, "ends at 924 > 923")
	before := r.s
	tick, _ := pacer.Step(&r.cfg, before, pacer.Input{Kind: pacer.InTick, NowMs: 700})
	require.True(t, r.switchAnswer(700, 223).Accepted, "ends exactly at the deadline")
	assert.Equal(t, tick, r.s, "a grant changes nothing but the answer")
	// The blackout: nothing until the firmware resumes at 923, which paces.
	out := r.at(923)
	assert.Equal(t, 1, out.Paces(pacer.ChamberVentricle), "PACE-LRL across the blackout")
	assert.Equal(t, units.Millis(923), r.s.LastVMs)

	assert.Equal(t, reason.SwitchDurationOutOfRange, r.switchAnswer(923, 0).Reason)
	assert.Equal(t, reason.SwitchDurationOutOfRange, r.switchAnswer(923, -5).Reason)
	assert.Equal(t, reason.SwitchDurationOutOfRange, r.switchAnswer(923, max+1).Reason)

	// DDD: the ventricular deadline bounds the switch, not the earlier
	// atrial escape; a late atrial pace and its ventricular pace then come
	// together at the deadline.
	r = newRig(t)
	require.True(t, r.cmd(program(pacer.Nominal, guard.VerdictWithin)).Accepted) // DDD 60, AV 150
	r.runUntilApplied()
	v := r.s.LastVMs
	require.True(t, r.switchAnswer(v+800, 200).Accepted, "A due at +850, deadline at +1000")
	assert.False(t, r.switchAnswer(v+800, 201).Accepted)
	out = r.at(v + 1000)
	assert.Equal(t, 1, out.Paces(pacer.ChamberAtrium))
	assert.Equal(t, 1, out.Paces(pacer.ChamberVentricle))
	assert.Equal(t, v+1000, r.s.LastVMs)

	// A magnet's asynchronous rate (100 ppm: 600 ms) is the one in force.
	r.step(pacer.Input{Kind: pacer.InHAL, HAL: pacer.HALMagnetOn})
	require.Equal(t, pacer.OpMagnet, r.s.Op)
	v = r.s.LastVMs
	dl, ok := r.s.EscapeDeadline()
	require.True(t, ok)
	assert.Equal(t, v+600, dl)
	assert.True(t, r.switchAnswer(v+350, 250).Accepted)
	assert.Equal(t, reason.SwitchEscapeDeadline, r.switchAnswer(v+351, 250).Reason)

	// AAI: the atrium is the rate chamber.
	r = newRig(t)
	aai := pacer.Nominal
	aai.Mode = pacer.ModeAAI
	require.True(t, r.cmd(program(aai, guard.VerdictWithin)).Accepted)
	r.runUntilApplied()
	require.Equal(t, pacer.ModeAAI, r.s.Active.Mode)
	last := r.s.LastAMs
	assert.True(t, r.switchAnswer(last+750, 250).Accepted)
	assert.Equal(t, reason.SwitchEscapeDeadline, r.switchAnswer(last+751, 250).Reason)
}

// TestSlotSwitchRefusals: PACE-UPDATE-SWITCH. Pacing off, a fault, a
// corrupted state and a clock gone back all refuse, with their reason.
func TestSlotSwitchRefusals(t *testing.T) {
	r := newRig(t)
	off := pacer.Nominal
	off.Mode = pacer.ModeOff
	require.True(t, r.cmd(program(off, guard.VerdictWithin)).Accepted)
	r.runUntilApplied()
	require.Equal(t, pacer.ModeOff, r.s.Active.Mode)
	assert.Equal(t, reason.SwitchPacingOff, r.switchAnswer(r.s.NowMs, 10).Reason)

	r = newRig(t)
	r.step(pacer.Input{Kind: pacer.InHAL, HAL: pacer.HALLeadFault})
	require.Equal(t, pacer.OpFault, r.s.Op)
	assert.Equal(t, reason.Faulted, r.switchAnswer(r.s.NowMs, 10).Reason)

	r = newRig(t)
	r.s.Active.LRL = 64 // a state the kernel could never produce
	assert.Equal(t, reason.StateCorrupt, r.switchAnswer(0, 10).Reason)

	r = newRig(t)
	r.at(100)
	assert.Equal(t, reason.ClockWentBack, r.switchAnswer(50, 10).Reason)

	cfg := pacer.DefaultConfig()
	for _, d := range []units.Millis{0, -1, pacer.LowerRateIntervalMs(175)} {
		c := cfg
		c.MaxSwitchMs = d
		assert.ErrorIs(t, c.Validate(), pacer.ErrConfig, "MaxSwitchMs %d", d)
	}
}
