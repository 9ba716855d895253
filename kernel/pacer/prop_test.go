package pacer_test

import (
	"math"
	"os"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/implantfhe/implantfhe/internal/proptest"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/model/pacerinv"
)

// TestMain raises rapid's default from 100 to 1000 sequences per property,
// as for the pump: some single-decision bugs show only in one sequence of
// several thousand. An explicit -rapid.checks on the command line wins.
func TestMain(m *testing.M) { proptest.Main(m) }

func pct(t *rapid.T, label string) int { return rapid.IntRange(0, 99).Draw(t, label) }

// near draws a value on the grid lo..hi step inc, and now and then one just
// off it or outside the range (PACE-PARAM-PROGRAMMABLE must refuse those).
func near(t *rapid.T, label string, lo, hi, inc int) int {
	v := lo + inc*rapid.IntRange(0, (hi-lo)/inc).Draw(t, label)
	if pct(t, label+"Off") >= 93 {
		v += rapid.IntRange(-inc, inc).Draw(t, label+"Delta")
	}
	return v
}

// genParams draws a program: usually valid, sometimes not programmable or
// not a pacable combination.
func genParams(t *rapid.T) pacer.Params {
	p := pacer.Params{
		Mode:      pacer.PacingMode(rapid.IntRange(0, 6).Draw(t, "mode")),
		LRL:       pacer.PPM(near(t, "lrl", 50, 90, 1)),
		URL:       pacer.PPM(near(t, "url", 90, 175, 5)),
		AVDelayMs: units.Millis(near(t, "av", 70, 300, 10)),
		AAmp:      pacer.DeciVolts(near(t, "aamp", 5, 32, 1)),
		VAmp:      pacer.DeciVolts(near(t, "vamp", 35, 70, 5)),
		APulse:    pacer.HundredthMs(near(t, "apw", 10, 190, 10)),
		VPulse:    pacer.HundredthMs(near(t, "vpw", 10, 190, 10)),
		ASens:     pacer.CentiMillivolts(near(t, "asens", 100, 1000, 50)),
		VSens:     pacer.CentiMillivolts(near(t, "vsens", 100, 1000, 50)),
		VRPMs:     units.Millis(near(t, "vrp", 150, 500, 10)),
		ARPMs:     units.Millis(near(t, "arp", 150, 500, 10)),
		PVARPMs:   units.Millis(near(t, "pvarp", 150, 500, 10)),
	}
	if pct(t, "slow") < 20 {
		p.LRL = pacer.PPM(near(t, "lrlSlow", 30, 50, 5))
	}
	if pct(t, "fastLRL") < 20 {
		p.LRL = pacer.PPM(near(t, "lrlFast", 90, 175, 5))
	}
	return p
}

// genInput draws an adversarial input: time to the kernel's wake-up, or
// before it, or late past it, rarely backwards; senses in either chamber at
// any moment (refractory periods included); commands with any signer,
// counter, expiry and verdict (lies included); every HAL event; firmware
// slot-switch requests, often with a blackout ending right at the lower-rate
// deadline or just after it.
func genInput(t *rapid.T, cfg *pacer.Config, s pacer.State, wake units.Millis, haveWake bool, maxCtr uint64) pacer.Input {
	now := s.NowMs
	switch c := pct(t, "clock"); {
	case c < 35 && haveWake:
		now = wake
	case c < 90:
		now += units.Millis(rapid.IntRange(0, 700).Draw(t, "adv"))
	case c < 99:
		now += units.Millis(rapid.IntRange(0, 3000).Draw(t, "late"))
	default:
		now -= units.Millis(rapid.IntRange(1, 100).Draw(t, "back"))
	}
	in := pacer.Input{NowMs: now}
	switch k := pct(t, "kind"); {
	case k < 45:
		in.Kind = pacer.InSense
		in.Chamber = pacer.Chamber(rapid.IntRange(1, 2).Draw(t, "chamber"))
		if pct(t, "wildChamber") >= 98 {
			in.Chamber = pacer.Chamber(rapid.IntRange(0, 255).Draw(t, "anyChamber"))
		}
	case k < 70:
		in.Kind = pacer.InCommand
		in.Cmd = genCommand(t, cfg, &s, maxCtr, now)
	case k < 80:
		in.Kind = pacer.InHAL
		switch h := pct(t, "hal"); {
		case h < 35:
			in.HAL = pacer.HALMagnetOn
		case h < 70:
			in.HAL = pacer.HALMagnetOff
		case h < 80:
			in.HAL = pacer.HALLeadFault
		case h < 88:
			in.HAL = pacer.HALWatchdog
		case h < 95:
			in.HAL = pacer.HALBatteryDepleted
		default:
			in.HAL = pacer.HALKind(rapid.IntRange(0, 255).Draw(t, "wildHAL"))
		}
	case k < 88:
		in.Kind = pacer.InSwitchRequest
		in.SwitchMs = genSwitchMs(t, cfg, s, now)
	default:
		in.Kind = pacer.InTick
	}
	return in
}

// genSwitchMs draws the blackout of a slot-switch request at time now:
// around the kernel's lower-rate deadline (PACE-UPDATE-SWITCH grants up to
// it, not a ms after), anywhere in (0, MaxSwitchMs], or outside that range.
func genSwitchMs(t *rapid.T, cfg *pacer.Config, s pacer.State, now units.Millis) units.Millis {
	switch r := pct(t, "switchKind"); {
	case r < 40:
		if dl, ok := s.EscapeDeadline(); ok {
			return dl - now + units.Millis(rapid.IntRange(-2, 2).Draw(t, "switchEdge"))
		}
		fallthrough
	case r < 85:
		return units.Millis(rapid.IntRange(1, int(cfg.MaxSwitchMs)).Draw(t, "switchMs"))
	default:
		return cfg.MaxSwitchMs*units.Millis(rapid.IntRange(0, 1).Draw(t, "switchAbove")) +
			units.Millis(rapid.IntRange(-2, 2).Draw(t, "switchOff"))
	}
}

// resume is the first input after a granted slot switch: the firmware was
// dark for the blackout and steps the kernel at its end (now and then a
// little earlier), with the kernel's state restored.
func resume(t *rapid.T, granted pacer.Input) pacer.Input {
	at := granted.NowMs + granted.SwitchMs
	if pct(t, "resumeEarly") >= 80 {
		at -= units.Millis(rapid.IntRange(0, int(granted.SwitchMs)).Draw(t, "early"))
	}
	return pacer.Input{Kind: pacer.InTick, NowMs: at}
}

// granted reports whether out grants a slot switch.
func granted(out pacer.Outputs) bool {
	for _, o := range out.All() {
		if o.Kind == pacer.OutSwitch && o.Accepted {
			return true
		}
	}
	return false
}

var kinds = []pacer.CommandKind{pacer.CmdProgram, pacer.CmdProgram, pacer.CmdProgram, pacer.CmdProgramTemporary,
	pacer.CmdEndTemporary, pacer.CmdPaceNow, pacer.CmdSetLimits, pacer.CmdNone, 200}

// Table 7 rate values, for limits.
var (
	table7LRLs = func() (r []pacer.PPM) {
		for v := pacer.PPM(30); v <= 175; v++ {
			if v < 50 && v%5 == 0 || v >= 50 && v < 90 || v >= 90 && v%5 == 0 {
				r = append(r, v)
			}
		}
		return r
	}()
	table7URLs = func() (r []pacer.PPM) {
		for v := pacer.PPM(50); v <= 175; v += 5 {
			r = append(r, v)
		}
		return r
	}()
)

// genLimits draws patient limits: usually ones that admit the stored
// programs (so that they take), sometimes any Table 7 pair (which may
// exclude them), rarely off Table 7 or inverted. PACE-PATIENT-LIMITS.
func genLimits(t *rapid.T, s *pacer.State) pacer.Limits {
	lo, hi := s.Perm.LRL, s.Perm.URL
	if s.HavePending {
		lo, hi = min(lo, s.Pending.LRL), max(hi, s.Pending.URL)
	}
	if s.Op == pacer.OpTemporary {
		lo, hi = min(lo, s.Temp.LRL), max(hi, s.Temp.URL)
	}
	var mins, maxs []pacer.PPM
	for _, v := range table7LRLs {
		if v <= lo {
			mins = append(mins, v)
		}
	}
	for _, v := range table7URLs {
		if v >= hi {
			maxs = append(maxs, v)
		}
	}
	var l pacer.Limits
	switch r := pct(t, "limits"); {
	case r < 60 && len(mins) > 0 && len(maxs) > 0:
		// Tight around the stored programs, so that programs hit the edges.
		l.MinLRL = mins[len(mins)-1-rapid.IntRange(0, min(3, len(mins)-1)).Draw(t, "minBelow")]
		l.MaxURL = maxs[rapid.IntRange(0, min(3, len(maxs)-1)).Draw(t, "maxAbove")]
	case r < 75 && len(mins) < len(table7LRLs):
		// Just excluding the stored programs' lowest LRL.
		l.MinLRL, l.MaxURL = table7LRLs[len(mins)], table7URLs[len(table7URLs)-1]
	case r < 92:
		l.MinLRL = rapid.SampledFrom(table7LRLs).Draw(t, "anyMin")
		l.MaxURL = rapid.SampledFrom(table7URLs).Draw(t, "anyMax")
	default:
		l.MinLRL = pacer.PPM(rapid.IntRange(0, 200).Draw(t, "wildMin"))
		l.MaxURL = pacer.PPM(rapid.IntRange(0, 200).Draw(t, "wildMax"))
	}
	return l
}

// nearLimit draws a value of grid within two steps of limit, or rarely one
// just off it.
func nearLimit(t *rapid.T, label string, grid []pacer.PPM, limit pacer.PPM) pacer.PPM {
	if pct(t, label+"Off") >= 90 {
		return limit + pacer.PPM(rapid.IntRange(-3, 3).Draw(t, label+"Delta"))
	}
	i := 0
	for i < len(grid)-1 && grid[i] < limit {
		i++
	}
	i += rapid.IntRange(-2, 2).Draw(t, label)
	return grid[max(0, min(i, len(grid)-1))]
}

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

func genCommand(t *rapid.T, cfg *pacer.Config, s *pacer.State, maxCtr uint64, now units.Millis) pacer.Command {
	c := pacer.Command{Kind: rapid.SampledFrom(kinds).Draw(t, "cmd"), Params: genParams(t)}
	if c.Kind == pacer.CmdSetLimits {
		c.Limits = genLimits(t, s)
	}
	// Programs around the patient's limits: on them, or a Table 7 step
	// inside or outside them (now and then an off-grid value next to them).
	lim := s.Limits
	if pct(t, "edgeLRL") < 15 {
		c.Params.LRL = nearLimit(t, "edgeLRLAt", table7LRLs, lim.MinLRL)
	}
	if pct(t, "edgeURL") < 15 {
		c.Params.URL = nearLimit(t, "edgeURLAt", table7URLs, lim.MaxURL)
	}
	c.Header.Signer = guard.RoleClinician
	if pct(t, "badSigner") >= 88 {
		c.Header.Signer = guard.Role(rapid.IntRange(0, 6).Draw(t, "signer"))
	}
	c.Header.Counter = genCounter(t, maxCtr)
	c.Header.IssuedAtMs = now - units.Millis(rapid.IntRange(0, 60).Draw(t, "issuedAgoS"))*units.Second
	c.Header.ExpiresAtMs = c.Header.IssuedAtMs + units.Millis(rapid.IntRange(1, 6).Draw(t, "validForMin"))*units.Minute
	wildTimes(t, &c.Header, now)
	switch v := pct(t, "verdict"); {
	case v < 60:
		c.Verdict = guard.VerdictWithin
	case v < 85:
		c.Verdict = guard.VerdictOutside
	case v < 97:
		c.Verdict = guard.VerdictAbsent
	default:
		c.Verdict = guard.Verdict(rapid.IntRange(3, 255).Draw(t, "wildVerdict"))
	}
	// An honest relay's verdict most of the time, so that programs go
	// through: the relay compares LRL and URL with the encrypted limits.
	if pct(t, "honest") < 60 && c.Verdict != guard.VerdictAbsent {
		c.Verdict = guard.VerdictOutside
		if c.Params.LRL >= lim.MinLRL && c.Params.URL <= lim.MaxURL {
			c.Verdict = guard.VerdictWithin
		}
	}
	c.DurationMs = units.Millis(rapid.IntRange(-1, 20).Draw(t, "durS")) * units.Second
	return c
}

// run draws a sequence and steps the kernel with the reference observer
// beside it, failing on any violation of requirement id ("" for all).
func run(t *rapid.T, id string) {
	cfg := pacer.DefaultConfig()
	s := pacer.NewState()
	g := pacerinv.NewGhost(s)
	var wake units.Millis
	haveWake := false
	var last pacer.Input
	var lastOut pacer.Outputs
	n := rapid.IntRange(1, 80).Draw(t, "steps")
	for i := 0; i < n; i++ {
		in := genInput(t, &cfg, s, wake, haveWake, g.MaxSignedCounter)
		if granted(lastOut) {
			in = resume(t, last) // PACE-UPDATE-SWITCH: the blackout
		}
		nxt, out := pacer.Step(&cfg, s, in)
		for _, v := range pacerinv.Observe(&cfg, &g, s, in, out, nxt) {
			if id == "" || v.ID == id {
				t.Fatalf("%s\ninput: %+v\nbefore: %+v\noutputs: %+v", v.Error(), in, s, out.All())
			}
		}
		for _, o := range out.All() {
			if o.Kind == pacer.OutDecision && o.Accepted && o.Reason != reason.OK {
				t.Fatalf("accepted decision with reason %s", o.Reason)
			}
		}
		s, wake, haveWake = nxt, out.WakeAtMs, out.HaveWake
		last, lastOut = in, out
	}
}

func prop(id string) func(*testing.T) {
	return func(t *testing.T) { rapid.Check(t, func(rt *rapid.T) { run(rt, id) }) }
}

// One property per requirement ID; each runs the adversarial generator and
// fails on a violation of its own requirement.
func TestProp_PACE_PARAM_PROGRAMMABLE(t *testing.T) { prop(pacerinv.ParamProgrammable)(t) }
func TestProp_PACE_CROSS_PARAM(t *testing.T)        { prop(pacerinv.CrossParam)(t) }
func TestProp_PACE_LRL(t *testing.T)                { prop(pacerinv.LRL)(t) }
func TestProp_PACE_URL(t *testing.T)                { prop(pacerinv.URL)(t) }
func TestProp_PACE_REFRACTORY(t *testing.T)         { prop(pacerinv.Refractory)(t) }
func TestProp_PACE_SAFE_POINT(t *testing.T)         { prop(pacerinv.SafePoint)(t) }
func TestProp_PACE_PATIENT_LIMITS(t *testing.T)     { prop(pacerinv.PatientLimits)(t) }
func TestProp_PACE_UPDATE_SWITCH(t *testing.T)      { prop(pacerinv.UpdateSwitch)(t) }
func TestProp_PACE_AV_DELAY(t *testing.T)           { prop(pacerinv.AVDelay)(t) }
func TestProp_CMD_AUTH(t *testing.T)                { prop(pacerinv.CmdAuth)(t) }
func TestProp_CMD_REPLAY(t *testing.T)              { prop(pacerinv.CmdReplay)(t) }
func TestProp_CMD_COUNTER_STEP(t *testing.T)        { prop(pacerinv.CmdCounterStep)(t) }
func TestProp_CMD_EXPIRY(t *testing.T)              { prop(pacerinv.CmdExpiry)(t) }
func TestProp_CMD_VERDICT(t *testing.T)             { prop(pacerinv.CmdVerdict)(t) }

// TestProp_PACE_FAULT_SAFE: besides fault inputs (checked by the observer),
// any corruption of the state drives the kernel to Fault with an alert, and
// it then paces only with the safe VVI 65 setting.
func TestProp_PACE_FAULT_SAFE(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		run(rt, pacerinv.FaultSafe)
		cfg := pacer.DefaultConfig()
		s := pacer.NewState()
		s.NowMs = 5000
		switch rapid.IntRange(0, 6).Draw(rt, "corruption") {
		case 0:
			s.Op = pacer.Op(rapid.IntRange(pacer.NumOps, 255).Draw(rt, "badOp"))
		case 1:
			s.Active.LRL = pacer.PPM(rapid.IntRange(176, 1000).Draw(rt, "badLRL"))
		case 2:
			s.Perm.VAmp = 0
		case 3:
			s.LastVMs = s.NowMs + units.Millis(rapid.IntRange(1, 1000).Draw(rt, "future"))
		case 4:
			s.AVPending = true
		case 5:
			// PACE-PATIENT-LIMITS: limits that exclude the permanent program.
			s.Limits.MinLRL = s.Perm.LRL + 1
		case 6:
			s.Limits = pacer.Limits{MinLRL: pacer.PPM(rapid.IntRange(0, 29).Draw(rt, "badMin")), MaxURL: 175}
		}
		// CMD-REPLAY across the fault: the consumed counter survives it.
		last := uint64(rapid.IntRange(1, 1<<30).Draw(rt, "lastCounter"))
		s.Guard.LastCounter = last
		nxt, out := pacer.Step(&cfg, s, pacer.Input{Kind: pacer.InTick, NowMs: s.NowMs})
		if nxt.Op != pacer.OpFault || nxt.Active != pacer.SafePowerOnReset || !hasAlert(out, reason.StateCorrupt) {
			rt.Fatalf("corrupt state gave %s %+v, outputs %+v", nxt.Op, nxt.Active, out.All())
		}
		if nxt.Guard.LastCounter != last {
			rt.Fatalf("CMD-REPLAY: the fault state's counter is %d, want the consumed %d", nxt.Guard.LastCounter, last)
		}
		for i := 0; i < 10; i++ {
			in := genInput(rt, &cfg, nxt, out.WakeAtMs, out.HaveWake, nxt.Guard.LastCounter)
			nxt, out = pacer.Step(&cfg, nxt, in)
			for _, o := range out.All() {
				if o.Kind == pacer.OutPace && (o.Chamber != pacer.ChamberVentricle || o.Amplitude != 50) {
					rt.Fatalf("after a fault: pace %+v", o)
				}
			}
			if nxt.Op != pacer.OpFault {
				rt.Fatalf("left fault for %s", nxt.Op)
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
	for _, id := range pacerinv.IDs {
		if !strings.Contains(string(src), "func TestProp_"+strings.ReplaceAll(id, "-", "_")+"(") {
			t.Errorf("no property test for %s", id)
		}
	}
}

// TestPropGeneratorReachesTheRules guards against vacuous properties: the
// generator paces both chambers, applies programs, meets every refusal, and
// has slot switches granted and refused for every reason.
func TestPropGeneratorReachesTheRules(t *testing.T) {
	seen := map[string]int{}
	// Three rounds: rapid starts each round with small draws.
	for round := 0; round < 3; round++ {
		rapid.Check(t, func(rt *rapid.T) {
			cfg := pacer.DefaultConfig()
			s := pacer.NewState()
			var out pacer.Outputs
			for i := 0; i < 60; i++ {
				s, out = pacer.Step(&cfg, s, genInput(rt, &cfg, s, out.WakeAtMs, out.HaveWake, s.Guard.LastCounter))
				for _, o := range out.All() {
					switch o.Kind {
					case pacer.OutPace:
						seen["pace "+o.Chamber.String()]++
					case pacer.OutApplied:
						seen["applied"]++
					case pacer.OutDecision, pacer.OutAlert, pacer.OutEvent:
						seen[o.Reason.String()]++
					case pacer.OutSwitch:
						if o.Accepted {
							seen["switch granted"]++
						} else {
							seen[o.Reason.String()]++
						}
					}
					if o.Kind == pacer.OutDecision && o.Cmd == pacer.CmdSetLimits && o.Accepted {
						seen["limits set"]++
					}
				}
				seen[s.Active.Mode.String()]++
			}
		})
	}
	for _, k := range []string{"pace A", "pace V", "applied", "pacer-refractory", "pacer-param-not-programmable",
		"pacer-cross-param", "pacer-unsafe-point", "verdict-mismatch", "replay", "counter-jump", "validity-too-long", "unauthenticated", "pacer-fault",
		"watchdog", "clock-went-back", "DDD", "AAI", "VVI", "DOO", "over-limit", "pacer-limits-exclude-current", "limits set",
		"switch granted", "switch-escape-deadline", "switch-duration-out-of-range", "switch-pacing-off", "faulted"} {
		if seen[k] == 0 {
			t.Errorf("generator never produced %q (seen: %v)", k, seen)
		}
	}
}
