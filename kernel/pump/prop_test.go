package pump_test

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/implantfhe/implantfhe/internal/proptest"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/model/pumpinv"
)

// TestMain raises rapid's default from 100 to 1000 sequences per property, so
// the 19 properties below run over 19,000 generated sequences per CI run.
// An explicit -rapid.checks on the command line wins.
func TestMain(m *testing.M) { proptest.Main(m) }

// propConfig compresses time so that sequences of a few dozen inputs reach
// every limit: 5 min buckets, a 2 h window, 1 h insulin action.
func propConfig() pump.Config {
	c := pump.DefaultConfig(pump.ProfileAdult)
	c.WindowMs = 2 * units.Hour
	c.InsulinActionMs = units.Hour
	c.MinTempBasalMs = 10 * units.Minute
	c.MaxTempBasalMs = units.Hour
	return c
}

// genLimits draws programmable limits, out of range in about one case in
// seven (PUMP-LIMITS-RANGE refusals), so that most sequences run programmed.
func genLimits(t *rapid.T, cfg *pump.Config) pump.Limits {
	h, _ := pump.Hard(cfg.Profile)
	l := pump.Limits{
		MaxBolus:         units.CentiUnits(rapid.IntRange(int(pump.MinProgrammableMaxBolus), int(h.MaxBolus)).Draw(t, "maxBolus")),
		MaxBasal:         units.CentiUnitsPerHour(rapid.IntRange(1, int(h.MaxBasal)).Draw(t, "maxBasal")),
		MaxIOB:           units.CentiUnits(rapid.IntRange(1, int(h.MaxIOB)).Draw(t, "maxIOB")),
		MaxDaily:         units.CentiUnits(rapid.IntRange(1, 3000).Draw(t, "maxDaily")),
		MinBolusInterval: units.Millis(rapid.IntRange(0, 60).Draw(t, "intervalMin")) * units.Minute,
		SuspendBelow:     units.MgDL(rapid.IntRange(int(pump.MinSuspendBelow), int(pump.MaxSuspendBelow)).Draw(t, "suspendBelow")),
	}
	l.ScheduledBasal = units.CentiUnitsPerHour(rapid.IntRange(0, int(l.MaxBasal)).Draw(t, "scheduled"))
	if pct(t, "wildLimits") >= 86 {
		l.MaxBolus = units.CentiUnits(rapid.IntRange(0, int(h.MaxBolus)+50).Draw(t, "wildMaxBolus"))
		l.MaxIOB = units.CentiUnits(rapid.IntRange(0, int(h.MaxIOB)+50).Draw(t, "wildMaxIOB"))
		l.MinBolusInterval = units.Millis(rapid.IntRange(-1, 60).Draw(t, "wildInterval")) * units.Minute
		l.SuspendBelow = units.MgDL(rapid.IntRange(60, 115).Draw(t, "wildSuspend"))
		l.ScheduledBasal = units.CentiUnitsPerHour(rapid.IntRange(0, int(l.MaxBasal)+10).Draw(t, "wildScheduled"))
	}
	return l
}

// pct draws a percentage for weighted choices.
func pct(t *rapid.T, label string) int { return rapid.IntRange(0, 99).Draw(t, label) }

// genInput draws an adversarial input: any time (rarely backwards), any
// signer, counter, expiry and verdict (lies included), amounts around the
// limits, readings of any age, any HAL event, firmware slot-switch requests
// with blackouts around the allowed range. Hostile choices are weighted so
// that sequences still reach deliveries and limits rather than faulting at
// once (see TestPropGeneratorReachesTheLimits).
func genInput(t *rapid.T, cfg *pump.Config, s pump.State, maxCtr uint64) pump.Input {
	now := s.NowMs
	// rapid favours small draws, so the benign choices come first.
	switch c := pct(t, "clock"); {
	case c < 65:
		now += units.Millis(rapid.IntRange(0, 60_000).Draw(t, "advMs"))
	case c < 99:
		now += units.Millis(rapid.IntRange(0, 20).Draw(t, "adv")) * units.Minute
	default:
		now -= units.Millis(rapid.IntRange(1, 1000).Draw(t, "back"))
	}
	in := pump.Input{NowMs: now}
	switch k := pct(t, "kind"); {
	case k < 45:
		in.Kind = pump.InCommand
		in.Cmd = genCommand(t, cfg, s, maxCtr, now)
	case k < 70:
		in.Kind = pump.InGlucose
		in.Glucose = units.MgDL(rapid.IntRange(40, 300).Draw(t, "glucose"))
		in.GlucoseAtMs = now - units.Millis(rapid.IntRange(0, 15).Draw(t, "age"))*units.Minute
		if pct(t, "badReading") >= 97 {
			in.Glucose = units.MgDL(rapid.IntRange(-5, 2000).Draw(t, "wildGlucose"))
			in.GlucoseAtMs = now + units.Millis(rapid.IntRange(-100, 100).Draw(t, "wildAt"))*units.Minute
		}
	case k < 80:
		in.Kind = pump.InHAL
		switch h := pct(t, "hal"); {
		case h < 50:
			in.HAL = pump.HALDeliveryDone
		case h < 65:
			// A nearly empty reservoir, so that PUMP-RESERVOIR refusals and
			// empty-reservoir alarms are reached often.
			in.HAL = pump.HALReservoir
			in.ReservoirCU = units.CentiUnits(rapid.IntRange(0, 30).Draw(t, "lowReservoir"))
		case h < 80:
			in.HAL = pump.HALReservoir
			in.ReservoirCU = units.CentiUnits(rapid.IntRange(-1, 1500).Draw(t, "reservoir"))
		case h < 87:
			in.HAL = pump.HALOcclusion
		case h < 91:
			in.HAL = pump.HALMotorFault
		case h < 95:
			in.HAL = pump.HALWatchdog
		default:
			in.HAL = pump.HALKind(rapid.IntRange(0, 255).Draw(t, "wildHAL"))
		}
	case k < 88:
		// PUMP-UPDATE-SWITCH: mostly a blackout the kernel may grant, now and
		// then none, a negative one or one above the maximum.
		in.Kind = pump.InSwitchRequest
		in.SwitchMs = units.Millis(rapid.IntRange(1, int(cfg.MaxSwitchMs)).Draw(t, "switchMs"))
		if pct(t, "badSwitch") >= 80 {
			in.SwitchMs = units.Millis(rapid.IntRange(-2, 2).Draw(t, "switchOff"))
			if pct(t, "switchAbove") < 50 {
				in.SwitchMs += cfg.MaxSwitchMs
			}
		}
	default:
		in.Kind = pump.InTick
	}
	return in
}

var kinds = []pump.CommandKind{pump.CmdBolus, pump.CmdBolus, pump.CmdBolus, pump.CmdBolus, pump.CmdSetBasal,
	pump.CmdTempBasal, pump.CmdTempBasal, pump.CmdCancelTempBasal, pump.CmdSuspend, pump.CmdResume,
	pump.CmdAckAlarm, pump.CmdAckAlarm, pump.CmdProgramLimits, pump.CmdNone, 200}

// Extreme header values (CMD-REPLAY, CMD-COUNTER-STEP, CMD-EXPIRY in
// machine arithmetic): the edges of uint64 and int64, where a subtraction
// wraps; kernel/guard's own properties draw them for every field.
var (
	edgeCounters = []uint64{math.MaxUint64, math.MaxUint64 - 1, 1 << 63, 1_000_000_000_000_000}
	edgeTimes    = []units.Millis{math.MinInt64, math.MinInt64 + 1, -(1 << 62), 1 << 62, 1<<62 + 1<<61, math.MaxInt64 - 1, math.MaxInt64}
)

// genCounter draws a command counter: mostly the next few, sometimes a
// replay, now and then one at or just past the counter step above the last
// (CMD-COUNTER-STEP) or an extreme value.
func genCounter(t *rapid.T, maxCtr uint64) uint64 {
	switch r := pct(t, "ctr"); {
	case r < 84:
		return maxCtr + uint64(rapid.IntRange(1, 3).Draw(t, "inc"))
	case r < 92:
		return maxCtr
	case r < 95:
		return uint64(rapid.IntRange(0, 50).Draw(t, "anyCtr"))
	case r < 98:
		return maxCtr + guard.MaxCounterStep + uint64(rapid.IntRange(-1, 2).Draw(t, "stepEdge"))
	default:
		return rapid.SampledFrom(edgeCounters).Draw(t, "edgeCtr")
	}
}

// wildTimes now and then replaces a header's issue or expiry time with an
// extreme one, or both (a window that wraps in int64: CMD-EXPIRY).
func wildTimes(t *rapid.T, h *guard.Header, now units.Millis) {
	switch pct(t, "wildTimes") {
	case 97:
		h.IssuedAtMs = rapid.SampledFrom(edgeTimes).Draw(t, "edgeIssued")
	case 98:
		h.ExpiresAtMs = rapid.SampledFrom(edgeTimes).Draw(t, "edgeExpires")
	case 99:
		h.IssuedAtMs = now - rapid.SampledFrom([]units.Millis{1 << 62, math.MaxInt64, -math.MinInt64 - 1}).Draw(t, "farIssued")
		h.ExpiresAtMs = now + rapid.SampledFrom([]units.Millis{1<<62 + 1<<61, math.MaxInt64}).Draw(t, "farExpires")
	}
}

func genCommand(t *rapid.T, cfg *pump.Config, s pump.State, maxCtr uint64, now units.Millis) pump.Command {
	c := pump.Command{Kind: rapid.SampledFrom(kinds).Draw(t, "cmd")}
	c.Header.Signer = guard.RoleClinician
	if pct(t, "badSigner") >= 88 {
		c.Header.Signer = guard.Role(rapid.IntRange(0, 6).Draw(t, "signer"))
	}
	c.Header.Counter = genCounter(t, maxCtr)
	c.Header.IssuedAtMs = now - units.Millis(rapid.IntRange(0, 120).Draw(t, "issuedAgoS"))*units.Second
	c.Header.ExpiresAtMs = c.Header.IssuedAtMs + units.Millis(rapid.IntRange(1, 5).Draw(t, "validForMin"))*units.Minute
	if pct(t, "badTimes") >= 88 {
		c.Header.IssuedAtMs = now - units.Millis(rapid.IntRange(-2, 8).Draw(t, "issuedAgo"))*units.Minute
		c.Header.ExpiresAtMs = c.Header.IssuedAtMs + units.Millis(rapid.IntRange(-1, 7).Draw(t, "validFor"))*units.Minute
	}
	wildTimes(t, &c.Header, now)
	switch v := pct(t, "verdict"); {
	case v < 70:
		c.Verdict = guard.VerdictWithin
	case v < 85:
		c.Verdict = guard.VerdictOutside
	case v < 97:
		c.Verdict = guard.VerdictAbsent
	default:
		c.Verdict = guard.Verdict(rapid.IntRange(3, 255).Draw(t, "wildVerdict"))
	}
	c.Amount = units.CentiUnits(rapid.IntRange(1, int(s.Limits.MaxBolus)+100).Draw(t, "amount"))
	c.Rate = units.CentiUnitsPerHour(rapid.IntRange(0, int(s.Limits.MaxBasal)+100).Draw(t, "rate"))
	c.DurationMs = units.Millis(rapid.IntRange(10, 60).Draw(t, "durMin")) * units.Minute
	if pct(t, "edgeDuration") >= 85 {
		// PUMP-TEMP-DURATION: at, 1 ms inside and 1 ms outside each end.
		c.DurationMs = rapid.SampledFrom([]units.Millis{cfg.MinTempBasalMs - 1, cfg.MinTempBasalMs, cfg.MinTempBasalMs + 1,
			cfg.MaxTempBasalMs - 1, cfg.MaxTempBasalMs, cfg.MaxTempBasalMs + 1}).Draw(t, "edgeDur")
	}
	if pct(t, "badParams") >= 95 {
		c.Amount = units.CentiUnits(rapid.IntRange(-10, 1<<20).Draw(t, "wildAmount"))
		c.Rate = units.CentiUnitsPerHour(rapid.IntRange(-10, 1<<20).Draw(t, "wildRate"))
		c.DurationMs = units.Millis(rapid.IntRange(-10, 1<<20).Draw(t, "wildDur")) * units.Minute
	}
	if c.Kind == pump.CmdProgramLimits {
		c.Limits = genLimits(t, cfg)
	}
	return c
}

// run draws a programmed pump and an adversarial sequence, steps the kernel
// with the reference observer and the looplab mode machine beside it, and
// fails on any violation of the requirement id ("" for all).
func run(t *rapid.T, id string) {
	cfg := propConfig()
	s := pump.NewState()
	g := pumpinv.Ghost{}
	// Most sequences start programmed, fed and with insulin in the reservoir,
	// so that delivery is actually reachable.
	if rapid.IntRange(0, 4).Draw(t, "preset") > 0 {
		boot := []pump.Input{
			{Kind: pump.InHAL, HAL: pump.HALReservoir, ReservoirCU: units.CentiUnits(rapid.IntRange(0, 5000).Draw(t, "res0"))},
			{Kind: pump.InCommand, Cmd: pump.Command{Kind: pump.CmdProgramLimits, Limits: genLimits(t, &cfg),
				Header: guard.Header{Counter: 1, ExpiresAtMs: units.Minute, Signer: guard.RoleClinician}}},
			{Kind: pump.InGlucose, Glucose: 120},
		}
		for _, in := range boot {
			s = stepChecked(t, &cfg, &g, s, in, id)
		}
	}
	n := rapid.IntRange(1, 60).Draw(t, "steps")
	for i := 0; i < n; i++ {
		s = stepChecked(t, &cfg, &g, s, genInput(t, &cfg, s, g.MaxSignedCounter), id)
	}
}

func stepChecked(t *rapid.T, cfg *pump.Config, g *pumpinv.Ghost, s pump.State, in pump.Input, id string) pump.State {
	nxt, out := pump.Step(cfg, s, in)
	for _, v := range pumpinv.Observe(cfg, g, s, in, out, nxt) {
		if id == "" || v.ID == id {
			t.Fatalf("%s\ninput: %+v\noutputs: %+v", v.Error(), in, out.All())
		}
	}
	if s.Mode != nxt.Mode && !modeMachineAllows(s.Mode, nxt.Mode) {
		t.Fatalf("mode %s -> %s is not a transition of the looplab mode machine", s.Mode, nxt.Mode)
	}
	for _, o := range out.All() {
		if o.Kind == pump.OutDecision && o.Accepted && o.Reason != reason.OK {
			t.Fatalf("accepted decision with reason %s", o.Reason)
		}
	}
	return nxt
}

func modeMachineAllows(from, to pump.Mode) bool {
	for _, ev := range pump.ModeEvents() {
		f := pump.ModeMachine(from)
		if f.Event(context.Background(), ev) == nil && f.Current() == to.String() {
			return true
		}
	}
	return false
}

func prop(id string) func(*testing.T) {
	return func(t *testing.T) { rapid.Check(t, func(rt *rapid.T) { run(rt, id) }) }
}

// One property per requirement ID; each runs the adversarial generator and
// fails on a violation of its own requirement.
func TestProp_PUMP_MAX_BOLUS(t *testing.T)      { prop(pumpinv.MaxBolus)(t) }
func TestProp_PUMP_MAX_BASAL(t *testing.T)      { prop(pumpinv.MaxBasal)(t) }
func TestProp_PUMP_MAX_IOB(t *testing.T)        { prop(pumpinv.MaxIOB)(t) }
func TestProp_PUMP_BOLUS_INTERVAL(t *testing.T) { prop(pumpinv.BolusInterval)(t) }
func TestProp_PUMP_DAILY_MAX(t *testing.T)      { prop(pumpinv.DailyMax)(t) }
func TestProp_PUMP_HALT(t *testing.T)           { prop(pumpinv.Halt)(t) }
func TestProp_PUMP_GLUCOSE_GATE(t *testing.T)   { prop(pumpinv.GlucoseGate)(t) }
func TestProp_PUMP_RESERVOIR(t *testing.T)      { prop(pumpinv.Reservoir)(t) }
func TestProp_PUMP_FAULT_STOP(t *testing.T)     { prop(pumpinv.FaultStop)(t) }
func TestProp_PUMP_ALARM_ACK(t *testing.T)      { prop(pumpinv.AlarmAck)(t) }
func TestProp_PUMP_LIMITS_RANGE(t *testing.T)   { prop(pumpinv.LimitsRange)(t) }
func TestProp_PUMP_UPDATE_SWITCH(t *testing.T)  { prop(pumpinv.UpdateSwitch)(t) }
func TestProp_PUMP_TEMP_DURATION(t *testing.T)  { prop(pumpinv.TempDuration)(t) }
func TestProp_CMD_AUTH(t *testing.T)            { prop(pumpinv.CmdAuth)(t) }
func TestProp_CMD_REPLAY(t *testing.T)          { prop(pumpinv.CmdReplay)(t) }
func TestProp_CMD_COUNTER_STEP(t *testing.T)    { prop(pumpinv.CmdCounterStep)(t) }
func TestProp_CMD_EXPIRY(t *testing.T)          { prop(pumpinv.CmdExpiry)(t) }
func TestProp_CMD_VERDICT(t *testing.T)         { prop(pumpinv.CmdVerdict)(t) }

// TestProp_FAULT_SAFE: besides fault inputs (checked by the observer), any
// corruption of the state drives the kernel to Fault with a stop and an
// alert, and nothing is delivered then or afterwards.
func TestProp_FAULT_SAFE(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		run(rt, pumpinv.FaultSafeState)
		cfg := propConfig()
		s := pump.NewState()
		s.Limits = adultLimits
		s.Mode = pump.Mode(rapid.IntRange(1, 3).Draw(rt, "mode"))
		s.ReservoirCU = 1000
		s.HaveGlucose, s.Glucose = true, 120
		// CMD-REPLAY across the fault: the consumed counter survives it.
		last := uint64(rapid.IntRange(1, 1<<30).Draw(rt, "lastCounter"))
		s.Guard.LastCounter = last
		switch rapid.IntRange(0, 5).Draw(rt, "corruption") {
		case 0:
			s.Mode = pump.Mode(rapid.IntRange(pump.NumModes, 255).Draw(rt, "badMode"))
		case 1:
			s.ReservoirCU = units.CentiUnits(-rapid.IntRange(1, 1000).Draw(rt, "negRes"))
		case 2:
			s.Limits.MaxBolus = units.CentiUnits(rapid.IntRange(1701, 1<<20).Draw(rt, "hugeBolus"))
		case 3:
			s.Ring[rapid.IntRange(0, pump.MaxBuckets-1).Draw(rt, "slot")] = -1
		case 4:
			s.BasalAccum = -1
		case 5:
			s.Epoch = int64(rapid.IntRange(1, 1000).Draw(rt, "epoch"))
		}
		nxt, out := pump.Step(&cfg, s, pump.Input{Kind: pump.InTick, NowMs: s.NowMs})
		if nxt.Mode != pump.ModeFault || out.Delivered() != 0 || !hasAlert(out, reason.StateCorrupt) {
			rt.Fatalf("corrupt state gave mode %s, delivered %d, outputs %+v", nxt.Mode, out.Delivered(), out.All())
		}
		if nxt.Guard.LastCounter != last {
			rt.Fatalf("CMD-REPLAY: the fault state's counter is %d, want the consumed %d", nxt.Guard.LastCounter, last)
		}
		replay := pump.Command{Kind: pump.CmdCancelTempBasal, Header: guard.Header{Counter: last, IssuedAtMs: nxt.NowMs, ExpiresAtMs: nxt.NowMs + units.Minute, Signer: guard.RoleClinician}}
		// Refused as a replay (or not looked at, if the fault state fails the
		// corruption check again: an epoch the corruption moved is kept).
		if rs, ro := pump.Step(&cfg, nxt, pump.Input{Kind: pump.InCommand, NowMs: nxt.NowMs, Cmd: replay}); hasAccepted(ro) || rs.Guard.LastCounter != last {
			rt.Fatalf("CMD-REPLAY: a replay of counter %d after the fault gave %+v", last, ro.All())
		}
		for i := 0; i < 5; i++ {
			nxt, out = pump.Step(&cfg, nxt, genInput(rt, &cfg, nxt, nxt.Guard.LastCounter))
			if out.Delivered() != 0 || nxt.Mode != pump.ModeFault {
				rt.Fatalf("after a fault: mode %s, delivered %d", nxt.Mode, out.Delivered())
			}
		}
	})
}

// TestPropAllInvariants runs the same generator against every invariant at once.
func TestPropAllInvariants(t *testing.T) { prop("")(t) }

// TestObserverCoversEveryID keeps this file and the observer in step.
func TestObserverCoversEveryID(t *testing.T) {
	src, err := os.ReadFile("prop_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range pumpinv.IDs {
		if !strings.Contains(string(src), "func TestProp_"+strings.ReplaceAll(id, "-", "_")+"(") {
			t.Errorf("no property test for %s", id)
		}
	}
}

// TestPropGeneratorReachesTheLimits guards against vacuous properties: over
// the same generator, deliveries happen, every delivery limit refuses
// something, and slot switches are both granted and refused.
func TestPropGeneratorReachesTheLimits(t *testing.T) {
	seen := map[string]int{}
	rapid.Check(t, func(rt *rapid.T) {
		cfg := propConfig()
		s := pump.NewState()
		s, _ = pump.Step(&cfg, s, pump.Input{Kind: pump.InHAL, HAL: pump.HALReservoir, ReservoirCU: 3000})
		s, _ = pump.Step(&cfg, s, pump.Input{Kind: pump.InCommand, Cmd: pump.Command{Kind: pump.CmdProgramLimits, Limits: genLimits(rt, &cfg),
			Header: guard.Header{Counter: 1, ExpiresAtMs: units.Minute, Signer: guard.RoleClinician}}})
		s, _ = pump.Step(&cfg, s, pump.Input{Kind: pump.InGlucose, Glucose: 120})
		for i := 0; i < 60; i++ {
			var out pump.Outputs
			s, out = pump.Step(&cfg, s, genInput(rt, &cfg, s, s.Guard.LastCounter))
			for _, o := range out.All() {
				switch {
				case o.Kind == pump.OutActuate && o.Actuation == pump.ActBolus:
					seen["bolus"]++
				case o.Kind == pump.OutActuate && o.Actuation == pump.ActBasal:
					seen["basal"]++
				case o.Kind == pump.OutDecision || o.Kind == pump.OutAlert:
					seen[o.Reason.String()]++
				case o.Kind == pump.OutSwitch && o.Accepted:
					seen["switch granted"]++
				case o.Kind == pump.OutSwitch:
					seen[o.Reason.String()]++
				}
			}
		}
	})
	for _, k := range []string{"bolus", "basal", "bolus-over-max", "bolus-too-soon", "iob-over-max", "daily-over-max",
		"basal-over-max", "glucose-low", "glucose-stale", "reservoir-empty", "verdict-mismatch", "replay", "counter-jump", "expired", "validity-too-long", "no-verdict", "suspended", "alarm-active",
		"unauthenticated", "wrong-role", "clock-went-back", "occlusion", "motor-fault", "watchdog",
		"switch granted", "switch-bolus-in-progress", "switch-duration-out-of-range"} {
		if seen[k] == 0 {
			t.Errorf("generator never produced %q (seen: %v)", k, seen)
		}
	}
	t.Logf("outcomes over the generated sequences: %v", seen)
}

// hasAccepted: the outputs hold an accepted decision.
func hasAccepted(o pump.Outputs) bool {
	for _, x := range o.All() {
		if x.Kind == pump.OutDecision && x.Accepted {
			return true
		}
	}
	return false
}
