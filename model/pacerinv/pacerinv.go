// Package pacerinv is the reference observer of the pacemaker kernel: it
// watches every Step (state before, input, outputs, state after), keeps its
// own record of the heart's timing events (ventricular and atrial events,
// atrial paces, the lower-rate anchor, the announced wake-up), and checks
// each safety invariant of spec/Pacemaker.tla by requirement ID.
//
// It decides on its own, with its own Table 7 and its own integer
// arithmetic (products, not divisions), which senses are refractory, which
// intervals are too long or too short, and which parameters are
// programmable; it takes from the kernel only the parameters in force.
// It keeps its own record of the patient's limits (the full Table 7 rate
// range at power-on, then each accepted set-limits command) and judges the
// relay's verdict against them, as the relay does. PACE-PATIENT-LIMITS.
// It judges a granted firmware slot switch against its own lower-rate
// deadline, and holds the kernel to PACE-LRL across the blackout: a late
// pace after a granted blackout is not excused as the firmware's lateness.
// PACE-UPDATE-SWITCH.
//
// The model checker (model/pacer) and the property tests (kernel/pacer) use
// it. It is test and verification code: it allocates freely, and it must
// never be linked into firmware.
package pacerinv

import (
	"fmt"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/model/guardinv"
)

// Requirement IDs checked here, in the order of spec/Pacemaker.tla.
const (
	ParamProgrammable = "PACE-PARAM-PROGRAMMABLE"
	CrossParam        = "PACE-CROSS-PARAM"
	LRL               = "PACE-LRL"
	URL               = "PACE-URL"
	Refractory        = "PACE-REFRACTORY"
	SafePoint         = "PACE-SAFE-POINT"
	FaultSafe         = "PACE-FAULT-SAFE"
	PatientLimits     = "PACE-PATIENT-LIMITS"
	UpdateSwitch      = "PACE-UPDATE-SWITCH"
	AVDelay           = "PACE-AV-DELAY"
	CmdAuth           = "CMD-AUTH"
	CmdReplay         = "CMD-REPLAY"
	CmdCounterStep    = guardinv.CounterStep
	CmdExpiry         = "CMD-EXPIRY"
	CmdVerdict        = "CMD-VERDICT"
)

// IDs lists every requirement this observer checks.
var IDs = []string{ParamProgrammable, CrossParam, LRL, URL, Refractory, SafePoint, FaultSafe, PatientLimits,
	UpdateSwitch, AVDelay, CmdAuth, CmdReplay, CmdCounterStep, CmdExpiry, CmdVerdict}

// PacerIDs lists the pacer's own requirements (without the shared CMD-* ones).
var PacerIDs = IDs[:10]

// msPerMinute: 60000 ms per minute, the numerator of every rate interval.
const msPerMinute = 60000

// Ghost is the observer's own memory. It is a plain value.
type Ghost struct {
	// MaxSignedCounter is the highest counter consumed: the counter of the
	// last clinician-signed command that was above the one before and at
	// most guard.MaxCounterStep above it (CMD-COUNTER-STEP: a jump is not
	// consumed).
	MaxSignedCounter uint64
	LastVMs          units.Millis // last ventricular event (PACE-URL)
	LastAMs          units.Millis // last atrial event
	LastAPaceMs      units.Millis // last atrial pace (ventricular blanking)
	HaveAPace        bool
	AVPending        bool
	// AnchorMs is the last event in the rate chamber; BoundLRL the slowest
	// lower rate in force since (the longest interval allowed). PACE-LRL.
	AnchorMs units.Millis
	BoundLRL pacer.PPM
	// WakeAtMs is the wake-up the kernel announced after the last Step.
	WakeAtMs units.Millis
	HaveWake bool
	// Limits are the patient's limits as the observer saw them set: the
	// full Table 7 rate range at power-on, then those of every accepted
	// set-limits command. PACE-PATIENT-LIMITS.
	Limits pacer.Limits
	// Switching: the last Step granted a firmware slot switch, whose
	// blackout ends at SwitchUntilMs; the firmware neither paces nor steps
	// the kernel before. PACE-UPDATE-SWITCH.
	Switching     bool
	SwitchUntilMs units.Millis
	// Corrupted is set by the caller for one Step: the state before it is
	// not one the kernel produced (memory corruption injected by the model
	// check). Observe clears it. PACE-FAULT-SAFE.
	Corrupted bool
}

// NewGhost is the observer of a kernel that powered on with state s: the
// first cycle starts at power-on in every chamber.
func NewGhost(s pacer.State) Ghost {
	return Ghost{LastVMs: s.NowMs, LastAMs: s.NowMs, AnchorMs: s.NowMs, BoundLRL: s.Active.LRL,
		Limits: pacer.Limits{MinLRL: pacer.PPM(lrls[0]), MaxURL: pacer.PPM(urls[len(urls)-1])}}
}

// Violation names a broken requirement and says how.
type Violation struct {
	ID     string
	Detail string
}

func (v Violation) Error() string { return v.ID + ": " + v.Detail }

// Observe checks one Step and advances the ghost. It returns every
// requirement the Step broke.
func Observe(cfg *pacer.Config, g *Ghost, prev pacer.State, in pacer.Input, out pacer.Outputs, nxt pacer.State) []Violation {
	var vs []Violation
	fail := func(id, f string, a ...any) { vs = append(vs, Violation{ID: id, Detail: fmt.Sprintf(f, a...)}) }
	now := in.NowMs
	items := out.All()
	clockBack := now < prev.NowMs

	prevMax := g.MaxSignedCounter
	corrupted := g.Corrupted
	g.Corrupted = false
	if corrupted {
		return observeCorrupted(g, prev, in, out, nxt)
	}
	if !clockBack && in.Kind == pacer.InCommand && in.Cmd.Header.Signer == guard.RoleClinician && guardinv.InStep(g.MaxSignedCounter, in.Cmd.Header.Counter) {
		g.MaxSignedCounter = in.Cmd.Header.Counter
	}
	faultIn := in.Kind == pacer.InHAL && (in.HAL == pacer.HALLeadFault || in.HAL == pacer.HALWatchdog || in.HAL == pacer.HALBatteryDepleted)

	// PACE-FAULT-SAFE.
	if faultIn || clockBack || prev.Op == pacer.OpFault {
		if nxt.Op != pacer.OpFault || !isSafe(nxt.Active, 50) {
			fail(FaultSafe, "after %s: state %s with %s %d ppm (want fault, safe VVI 65)", inputName(in), nxt.Op, nxt.Active.Mode, nxt.Active.LRL)
		}
		if (faultIn || clockBack) && !hasAlert(items) {
			fail(FaultSafe, "%s without an alert", inputName(in))
		}
	}
	// The kernel never faults of its own accord: every state it produces
	// passes its own corruption check.
	if nxt.Op == pacer.OpFault && prev.Op != pacer.OpFault && !faultIn && !clockBack {
		fail(FaultSafe, "entered fault on %s without a fault", inputName(in))
	}
	switch nxt.Op {
	case pacer.OpPowerOnReset, pacer.OpFault:
		if !isSafe(nxt.Active, 50) {
			fail(FaultSafe, "%s runs %+v, not the safe setting", nxt.Op, nxt.Active)
		}
	case pacer.OpPaceNow:
		if !isSafe(nxt.Active, 100) {
			fail(FaultSafe, "pace-now runs %+v, not the safe setting", nxt.Active)
		}
	}
	if clockBack {
		// The kernel keeps its own time, goes to the safe setting first and
		// ignores the input; it may pace what the safe setting finds overdue.
		now = prev.NowMs
	}

	immediate := in.Kind == pacer.InHAL || in.Kind == pacer.InCommand && in.Cmd.Kind == pacer.CmdPaceNow
	cp := prev.Active // the parameters in force at this point of the Step
	rateEventNow := false
	opAt, permAt := prev.Op, prev.Perm // as the Step goes
	switchTo := func(p pacer.Params) {
		if p.Mode.RateChamber() != cp.Mode.RateChamber() {
			g.AnchorMs, g.BoundLRL = now, p.LRL
			switch p.Mode.RateChamber() {
			case pacer.ChamberAtrium:
				g.LastAMs = now
			case pacer.ChamberVentricle:
				g.LastVMs = now
			}
			g.AVPending = false
		} else if p.LRL < g.BoundLRL {
			g.BoundLRL = p.LRL
		}
		if !p.Mode.Dual() {
			g.AVPending = false
		}
		cp = p
	}
	// The firmware stepped the kernel on time: no later than its announced
	// wake-up, or no later than the end of a blackout the kernel granted.
	onTime := g.HaveWake && now <= g.WakeAtMs || g.Switching && now <= g.SwitchUntilMs
	// rateEvent is an event in the rate chamber at now. PACE-LRL.
	rateEvent := func(what string) {
		// Longer is allowed only when the firmware stepped the kernel late
		// (or before any wake-up was announced).
		iv := now - g.AnchorMs
		if int64(iv)*int64(g.BoundLRL) > msPerMinute && onTime {
			fail(LRL, "%s %d ms after the last %s event, lower rate %d ppm allows %d ms", what, iv, cp.Mode.RateChamber(), g.BoundLRL, msPerMinute/int64(g.BoundLRL))
		}
		g.AnchorMs, g.BoundLRL = now, cp.LRL
		rateEventNow = true
	}

	if clockBack {
		switchTo(nxt.Active)
	}
	answers, granted := 0, false
	for _, o := range items {
		switch {
		case o.Kind == pacer.OutSwitch:
			answers++
			granted = granted || o.Accepted
			checkSwitch(cfg, g, prev, in, o, cp, now, clockBack, nxt, fail)
		case o.Kind == pacer.OutPace:
			checkPulse(cp, o, fail)
			if o.Chamber == pacer.ChamberVentricle {
				// PACE-URL: at least 60000/URL ms since the last ventricular event.
				if iv := now - g.LastVMs; int64(iv)*int64(cp.URL) < msPerMinute {
					fail(URL, "ventricular pace %d ms after the last ventricular event, upper rate %d ppm needs %d ms", iv, cp.URL, (msPerMinute+int64(cp.URL)-1)/int64(cp.URL))
				}
				g.LastVMs, g.AVPending = now, false
			} else {
				// PACE-AV-DELAY: in a dual-chamber mode the atrial escape
				// comes no sooner than the AV delay before the lower-rate
				// deadline (ventricular-based timing).
				if cp.Mode.Dual() {
					if ea := atrialEscape(g, cp); now < ea {
						fail(AVDelay, "atrial pace at %d before the atrial escape at %d (last V %d, LRL %d, AV %d)", now, ea, g.LastVMs, cp.LRL, cp.AVDelayMs)
					}
				}
				if cp.Mode.RateChamber() == pacer.ChamberAtrium {
					if iv := now - g.LastAMs; int64(iv)*int64(cp.URL) < msPerMinute {
						fail(URL, "atrial pace %d ms after the last atrial event, upper rate %d ppm", iv, cp.URL)
					}
				}
				g.LastAMs, g.LastAPaceMs, g.HaveAPace = now, now, true
				if cp.Mode.Dual() {
					g.AVPending = true
				}
			}
			if o.Chamber == cp.Mode.RateChamber() {
				rateEvent("pace " + o.Chamber.String())
			}
		case o.Kind == pacer.OutEvent && in.Kind == pacer.InSense && o.HAL == pacer.HALNone && o.Chamber == in.Chamber:
			refr := refractory(cfg, g, cp, in.Chamber, now)
			ignored := o.Reason != reason.OK
			switch {
			case refr && !ignored:
				fail(Refractory, "%s sense at %d acted on although refractory in %s", in.Chamber, now, cp.Mode)
			case !refr && ignored:
				fail(Refractory, "%s sense at %d ignored (%s) outside every refractory period in %s", in.Chamber, now, o.Reason, cp.Mode)
			}
			if refr {
				// Neither inhibits nor triggers: the Step is the same as a tick.
				tn, to := pacer.Step(cfg, prev, pacer.Input{Kind: pacer.InTick, NowMs: now})
				if tn != nxt || !sameEffects(&to, &out) {
					fail(Refractory, "refractory %s sense at %d changed the kernel's course", in.Chamber, now)
				}
				continue
			}
			if in.Chamber == pacer.ChamberVentricle {
				g.LastVMs, g.AVPending = now, false
			} else {
				g.LastAMs = now
				if cp.Mode.Dual() {
					g.AVPending = true
				}
			}
			if in.Chamber == cp.Mode.RateChamber() {
				rateEvent("sense " + in.Chamber.String())
			}
		case o.Kind == pacer.OutApplied:
			// PACE-SAFE-POINT: only right after a rate-chamber event, or while Off.
			if !rateEventNow && cp.Mode != pacer.ModeOff {
				fail(SafePoint, "parameters took effect at %d in %s with no cycle start", now, cp.Mode)
			}
			if g.AVPending && cp.Mode.Dual() {
				fail(SafePoint, "parameters took effect at %d inside an AV delay", now)
			}
			switchTo(nxt.Active)
			permAt, opAt = nxt.Perm, pacer.OpPermanent
			if prev.PendingEv == pacer.EvTemporary {
				opAt = pacer.OpTemporary
			}
		case immediate && (o.Kind == pacer.OutEvent && o.HAL != pacer.HALNone || o.Kind == pacer.OutDecision && o.Accepted):
			if p, ok := immediateParams(opAt, permAt, cp, in); ok {
				switchTo(p)
			}
		}
	}
	checkApplied(prev, in, items, nxt, fail)
	if (in.Kind == pacer.InSwitchRequest) != (answers == 1) || answers > 1 {
		fail(UpdateSwitch, "%d switch answers to %s", answers, inputName(in))
	}
	if in.Kind == pacer.InSwitchRequest {
		// Granted or not, a switch request changes nothing a tick would not.
		tn, to := pacer.Step(cfg, prev, pacer.Input{Kind: pacer.InTick, NowMs: in.NowMs})
		if tn != nxt || !sameEffects(&to, &out) {
			fail(UpdateSwitch, "a switch request at %d changed the kernel's course", in.NowMs)
		}
	}
	g.Switching, g.SwitchUntilMs = granted, 0
	if granted {
		g.SwitchUntilMs = now + in.SwitchMs
	}
	if cp != nxt.Active {
		fail(SafePoint, "parameters changed from %s %d ppm to %s %d ppm without a safe point (input %s)", cp.Mode, cp.LRL, nxt.Active.Mode, nxt.Active.LRL, inputName(in))
		switchTo(nxt.Active)
	}

	// PACE-LRL, discretised: a kernel not stepped again before now+1 ms must
	// already have paced; the announced wake-up is never after the deadline.
	if cp.Mode != pacer.ModeOff {
		if int64(now+1-g.AnchorMs)*int64(g.BoundLRL) > msPerMinute {
			fail(LRL, "no %s event %d ms after the last at lower rate %d ppm", cp.Mode.RateChamber(), now-g.AnchorMs, g.BoundLRL)
		}
		if !out.HaveWake || out.WakeAtMs <= now || int64(out.WakeAtMs-g.AnchorMs)*int64(g.BoundLRL) > msPerMinute {
			fail(LRL, "wake-up %d (set=%v) misses the lower-rate deadline after %d at %d ppm", out.WakeAtMs, out.HaveWake, g.AnchorMs, g.BoundLRL)
		}
	}
	checkAVDelay(g, cp, now, &out, fail)
	g.WakeAtMs, g.HaveWake = out.WakeAtMs, out.HaveWake

	checkParams(nxt, fail)
	if !clockBack {
		checkCommand(cfg, g, prev, prevMax, in, items, nxt, fail)
	}
	// CMD-COUNTER-STEP.
	var cmd *guard.Header
	if in.Kind == pacer.InCommand && !clockBack {
		cmd = &in.Cmd.Header
	}
	var ds []guardinv.Decision
	for _, o := range items {
		if o.Kind == pacer.OutDecision {
			ds = append(ds, guardinv.Decision{Accepted: o.Accepted, Reason: o.Reason})
		}
	}
	guardinv.CheckCounterStep(prev.Guard, nxt.Guard, cmd, prevMax, ds, fail)
	var dec *guardinv.Decision
	if cmd != nil && len(ds) > 0 {
		dec = &ds[0]
	}
	guardinv.CheckAdmission(cmd, guard.RoleClinician, prevMax, now, cfg.MaxCommandValidityMs, dec, prev.Guard, nxt.Guard, g.MaxSignedCounter, fail)
	checkLimits(g, nxt, fail)
	return vs
}

// observeCorrupted checks the Step from a corrupted state (PACE-FAULT-SAFE):
// the kernel goes to Fault with the safe backup setting and a state-corrupt
// alert, keeps the consumed counter (a fault must not reopen replay), and
// answers a switch request with a refusal. The observer restarts its
// timing record from the kernel's new cycle, which starts now.
func observeCorrupted(g *Ghost, prev pacer.State, in pacer.Input, out pacer.Outputs, nxt pacer.State) []Violation {
	var vs []Violation
	fail := func(id, f string, a ...any) { vs = append(vs, Violation{ID: id, Detail: fmt.Sprintf(f, a...)}) }
	items := out.All()
	stateCorrupt := false
	for _, o := range items {
		stateCorrupt = stateCorrupt || o.Kind == pacer.OutAlert && o.Reason == reason.StateCorrupt
		if o.Kind == pacer.OutSwitch && o.Accepted {
			fail(UpdateSwitch, "switch granted from a corrupted state")
		}
	}
	if nxt.Op != pacer.OpFault || !isSafe(nxt.Active, 50) || !stateCorrupt {
		fail(FaultSafe, "corrupted state (%s) left %s with %s %d ppm, state-corrupt alert %v", inputName(in), nxt.Op, nxt.Active.Mode, nxt.Active.LRL, stateCorrupt)
	}
	if nxt.Guard.LastCounter != prev.Guard.LastCounter || nxt.Guard.LastCounter != g.MaxSignedCounter {
		fail(CmdReplay, "the fault of a corrupted state moved the consumed counter from %d to %d (observer %d)", prev.Guard.LastCounter, nxt.Guard.LastCounter, g.MaxSignedCounter)
	}
	return vs
}

// atrialEscape is the observer's own atrial escape time in a dual-chamber
// mode: the last ventricular event plus the longest whole-ms interval that
// meets the lower rate (60000/LRL rounded down), less the AV delay.
func atrialEscape(g *Ghost, p pacer.Params) units.Millis {
	return g.LastVMs + units.Millis(msPerMinute/int64(p.LRL)) - p.AVDelayMs
}

// checkAVDelay is PACE-AV-DELAY at the end of a Step, in a dual-chamber
// mode (DOO, DDD): with no AV delay running, the atrial escape is not yet
// due and the announced wake-up is no later than it; with an AV delay
// running, its end (the atrial event plus the AV delay, never after the
// lower-rate deadline, delayed to the upper-rate interval when tracking a
// fast atrium) is not yet due and the wake-up is no later than it. Together
// with the check on each atrial pace, the atrium is paced at LRI − AV after
// the last ventricular event and the ventricle AV after the atrium.
func checkAVDelay(g *Ghost, p pacer.Params, now units.Millis, out *pacer.Outputs, fail func(string, string, ...any)) {
	if !p.Mode.Dual() {
		return
	}
	due, what := atrialEscape(g, p), "atrial escape"
	if g.AVPending {
		lri := units.Millis(msPerMinute / int64(p.LRL))
		uri := units.Millis((msPerMinute + int64(p.URL) - 1) / int64(p.URL))
		due, what = max(min(g.LastAMs+p.AVDelayMs, g.LastVMs+lri), g.LastVMs+uri), "end of the AV delay"
	}
	if now >= due {
		fail(AVDelay, "%s at %d overdue at %d in %s (last V %d, last A %d, AV %d)", what, due, now, p.Mode, g.LastVMs, g.LastAMs, p.AVDelayMs)
	}
	if !out.HaveWake || out.WakeAtMs > due {
		fail(AVDelay, "wake-up %d (set=%v) after the %s at %d in %s", out.WakeAtMs, out.HaveWake, what, due, p.Mode)
	}
}

// checkSwitch is PACE-UPDATE-SWITCH for one switch answer o, given the
// parameters cp in force when it was given: a grant answers a switch
// request, with the kernel not in fault before or after, pacing on, a
// declared blackout in (0, MaxSwitchMs], and the blackout ending no later
// than the observer's own lower-rate deadline (the last rate-chamber event
// plus 60000/LRL ms at the slowest lower rate in force since).
func checkSwitch(cfg *pacer.Config, g *Ghost, prev pacer.State, in pacer.Input, o pacer.Output, cp pacer.Params,
	now units.Millis, clockBack bool, nxt pacer.State, fail func(string, string, ...any)) {
	if in.Kind != pacer.InSwitchRequest {
		fail(UpdateSwitch, "switch answer to %s", inputName(in))
		return
	}
	if o.Accepted != (o.Reason == reason.OK) {
		fail(UpdateSwitch, "switch answer accepted=%v with reason %s", o.Accepted, o.Reason)
	}
	if !o.Accepted {
		return
	}
	d := in.SwitchMs
	switch {
	case clockBack || prev.Op == pacer.OpFault || nxt.Op == pacer.OpFault:
		fail(UpdateSwitch, "switch granted with the kernel in fault (%s -> %s, clock %d -> %d)", prev.Op, nxt.Op, prev.NowMs, in.NowMs)
	case cp.Mode == pacer.ModeOff:
		fail(UpdateSwitch, "switch granted with pacing off")
	case d <= 0 || d > cfg.MaxSwitchMs:
		fail(UpdateSwitch, "switch granted for a blackout of %d ms, outside (0, %d]", d, cfg.MaxSwitchMs)
	case int64(now+d-g.AnchorMs)*int64(g.BoundLRL) > msPerMinute:
		fail(UpdateSwitch, "switch granted at %d for %d ms: the blackout ends %d ms after the last %s event, lower rate %d ppm allows %d ms",
			now, d, now+d-g.AnchorMs, cp.Mode.RateChamber(), g.BoundLRL, msPerMinute/int64(g.BoundLRL))
	}
}

// immediateParams: the setting an input that acts at once (not at a safe
// point) puts in force, given the operating state and permanent program at
// that moment of the Step.
func immediateParams(op pacer.Op, perm pacer.Params, cur pacer.Params, in pacer.Input) (pacer.Params, bool) {
	if op == pacer.OpFault {
		return cur, true
	}
	switch {
	case in.Kind == pacer.InCommand && in.Cmd.Kind == pacer.CmdPaceNow:
		return pacer.SafePaceNow, true
	case in.Kind == pacer.InHAL && in.HAL.IsFault():
		return pacer.SafePowerOnReset, true
	case in.Kind == pacer.InHAL && in.HAL == pacer.HALMagnetOn && (op == pacer.OpPermanent || op == pacer.OpTemporary):
		return pacer.MagnetParams(perm), true
	case in.Kind == pacer.InHAL && in.HAL == pacer.HALMagnetOff && op == pacer.OpMagnet:
		return perm, true
	}
	return cur, false
}

// refractory is the observer's own reading of PACE-REFRACTORY.
func refractory(cfg *pacer.Config, g *Ghost, p pacer.Params, c pacer.Chamber, now units.Millis) bool {
	switch c {
	case pacer.ChamberVentricle:
		return !(p.Mode == pacer.ModeVVI || p.Mode == pacer.ModeDDD) ||
			now-g.LastVMs < p.VRPMs ||
			p.Mode == pacer.ModeDDD && g.HaveAPace && now-g.LastAPaceMs < cfg.VBlankMs
	case pacer.ChamberAtrium:
		return !(p.Mode == pacer.ModeAAI || p.Mode == pacer.ModeDDD) ||
			now-g.LastAMs < p.ARPMs ||
			p.Mode == pacer.ModeDDD && (g.AVPending || now-g.LastVMs < p.PVARPMs)
	}
	return true
}

// sameEffects: the same pulses, alerts and parameter changes.
func sameEffects(a, b *pacer.Outputs) bool {
	pick := func(o *pacer.Outputs) []pacer.Output {
		var r []pacer.Output
		for _, x := range o.All() {
			if x.Kind == pacer.OutPace || x.Kind == pacer.OutAlert || x.Kind == pacer.OutApplied {
				r = append(r, x)
			}
		}
		return r
	}
	x, y := pick(a), pick(b)
	if len(x) != len(y) || a.HaveWake != b.HaveWake || a.WakeAtMs != b.WakeAtMs {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

func checkPulse(p pacer.Params, o pacer.Output, fail func(string, string, ...any)) {
	amp, width := p.VAmp, p.VPulse
	if o.Chamber == pacer.ChamberAtrium {
		amp, width = p.AAmp, p.APulse
	}
	if o.Amplitude == 0 || !member(amplitudes, int(o.Amplitude)) || !member(pulseWidths, int(o.Width)) || o.Amplitude != amp || o.Width != width {
		fail(ParamProgrammable, "%s pulse %d×0.1 V %d×0.01 ms, programmed %d / %d", o.Chamber, o.Amplitude, o.Width, amp, width)
	}
	if o.Chamber == pacer.ChamberAtrium && !p.Mode.PacesAtrium() || o.Chamber == pacer.ChamberVentricle && !p.Mode.PacesVentricle() {
		fail(CrossParam, "%s pulse in mode %s", o.Chamber, p.Mode)
	}
}

func checkParams(s pacer.State, fail func(string, string, ...any)) {
	check := func(what string, p pacer.Params) {
		if why := Programmable(p); why != "" {
			fail(ParamProgrammable, "%s: %s", what, why)
		} else if why := Cross(p); why != "" {
			fail(CrossParam, "%s: %s", what, why)
		}
	}
	check("active", s.Active)
	check("permanent", s.Perm)
	if s.Op == pacer.OpTemporary {
		check("temporary", s.Temp)
	}
	if s.HavePending {
		check("pending", s.Pending)
	}
}

func checkCommand(cfg *pacer.Config, g *Ghost, prev pacer.State, prevMax uint64, in pacer.Input, items []pacer.Output, nxt pacer.State, fail func(string, string, ...any)) {
	var accepted *pacer.Output
	// stored is the state whose stored programs a command is decided
	// against: the state before the step, unless a pending program took
	// effect (OutApplied) earlier in the same step, at its safe point;
	// limits change no program, so the state after the step then holds
	// the programs the decision saw.
	stored, applied := prev, false
	for i := range items {
		if items[i].Kind == pacer.OutApplied {
			applied = true
		}
		if items[i].Kind == pacer.OutDecision {
			if applied {
				stored = nxt
			}
			if items[i].Accepted {
				accepted = &items[i]
			}
		}
	}
	c := in.Cmd
	h := c.Header
	if accepted != nil {
		if in.Kind != pacer.InCommand {
			fail(CmdAuth, "accepted decision without a command input")
			return
		}
		if h.Signer != guard.RoleClinician {
			fail(CmdAuth, "accepted command signed by role %d", h.Signer)
		}
		if h.Counter <= prevMax {
			fail(CmdReplay, "accepted counter %d not above %d", h.Counter, prevMax)
		}
		if !guardinv.InWindow(h, in.NowMs, cfg.MaxCommandValidityMs) {
			fail(CmdExpiry, "accepted at %d outside [%d, %d) or longer than %d ms", in.NowMs, h.IssuedAtMs, h.ExpiresAtMs, cfg.MaxCommandValidityMs)
		}
		if needsVerdict(c.Kind) && (c.Verdict != guard.VerdictWithin || !exactWithin(c.Params, g.Limits)) {
			fail(CmdVerdict, "accepted %s with verdict %d and exact=%v", c.Kind, c.Verdict, exactWithin(c.Params, g.Limits))
		}
		if prev.Op == pacer.OpFault {
			fail(FaultSafe, "accepted %s in fault", c.Kind)
		}
		// PACE-PATIENT-LIMITS: a program is accepted only within the limits
		// in force; new limits only if sound and every stored program lies
		// within them.
		switch {
		case needsVerdict(c.Kind) && !exactWithin(c.Params, g.Limits):
			fail(PatientLimits, "accepted %s LRL %d URL %d outside the limits %d..%d", c.Kind, c.Params.LRL, c.Params.URL, g.Limits.MinLRL, g.Limits.MaxURL)
		case c.Kind == pacer.CmdSetLimits:
			l := c.Limits
			if !member(lrls, int(l.MinLRL)) || !member(urls, int(l.MaxURL)) || l.MinLRL >= l.MaxURL {
				fail(PatientLimits, "accepted limits %d..%d that are not a Table 7 rate range", l.MinLRL, l.MaxURL)
			}
			if why := storedOutside(stored, l); why != "" {
				fail(PatientLimits, "accepted limits %d..%d that exclude the %s", l.MinLRL, l.MaxURL, why)
			}
			g.Limits = l
		}
	}
	// PACE-PATIENT-LIMITS: admitted new limits are refused as malformed if
	// they are not a Table 7 rate range with MinLRL below MaxURL, refused
	// as excluding a stored program if one lies outside them, and accepted
	// otherwise.
	if in.Kind == pacer.InCommand && c.Kind == pacer.CmdSetLimits && prev.Op != pacer.OpFault &&
		guardinv.Admission(h, guard.RoleClinician, prevMax, in.NowMs, cfg.MaxCommandValidityMs) == reason.OK {
		l := c.Limits
		for _, o := range items {
			if o.Kind != pacer.OutDecision {
				continue
			}
			switch {
			case !member(lrls, int(l.MinLRL)) || !member(urls, int(l.MaxURL)):
				if o.Accepted || o.Reason != reason.PacerParamNotProgrammable {
					fail(PatientLimits, "limits %d..%d off Table 7 decided %v/%s", l.MinLRL, l.MaxURL, o.Accepted, o.Reason)
				}
			case l.MinLRL >= l.MaxURL:
				if o.Accepted || o.Reason != reason.PacerCrossParam {
					fail(PatientLimits, "limits %d..%d with MinLRL not below MaxURL decided %v/%s", l.MinLRL, l.MaxURL, o.Accepted, o.Reason)
				}
			case storedOutside(stored, l) != "":
				if o.Accepted || o.Reason != reason.PacerLimitsExcludeCurrent {
					fail(PatientLimits, "limits %d..%d excluding the %s decided %v/%s", l.MinLRL, l.MaxURL, storedOutside(stored, l), o.Accepted, o.Reason)
				}
			case !o.Accepted:
				fail(PatientLimits, "sound limits %d..%d refused as %s", l.MinLRL, l.MaxURL, o.Reason)
			}
			break
		}
	}
	// CMD-VERDICT: a verdict contradicting the exact check raises an alert,
	// and only such a verdict does (a program the relay could not judge,
	// e.g. one off Table 7's increments, is refused without one).
	mismatch := false
	for _, o := range items {
		mismatch = mismatch || o.Kind == pacer.OutAlert && o.Reason == reason.VerdictMismatch
	}
	weighed := in.Kind == pacer.InCommand && needsVerdict(c.Kind) && prev.Op != pacer.OpFault &&
		h.Signer == guard.RoleClinician && guardinv.InStep(prevMax, h.Counter) && guardinv.InWindow(h, in.NowMs, cfg.MaxCommandValidityMs) &&
		!(c.Kind == pacer.CmdProgramTemporary && (c.DurationMs <= 0 || c.DurationMs > cfg.MaxTemporaryMs))
	if !weighed {
		if mismatch {
			fail(CmdVerdict, "verdict-mismatch alert on %s, whose verdict was never weighed", inputName(in))
		}
		return
	}
	within := exactWithin(c.Params, g.Limits)
	lie := c.Verdict == guard.VerdictWithin && !within || c.Verdict == guard.VerdictOutside && within
	// PACE-PARAM-PROGRAMMABLE, PACE-CROSS-PARAM: a program the verdict rule
	// lets through is refused for the first of the kernel's own rules it
	// breaks, by its name, and accepted if it breaks none.
	if c.Verdict == guard.VerdictWithin && within {
		var d *pacer.Output
		for i := range items {
			if items[i].Kind == pacer.OutDecision {
				d = &items[i]
				break
			}
		}
		switch {
		case d == nil:
		case Programmable(c.Params) != "":
			if d.Accepted || d.Reason != reason.PacerParamNotProgrammable {
				fail(ParamProgrammable, "program off Table 7 (%s) decided %v/%s", Programmable(c.Params), d.Accepted, d.Reason)
			}
		case Cross(c.Params) != "":
			if d.Accepted || d.Reason != reason.PacerCrossParam {
				fail(CrossParam, "program that is not pacable (%s) decided %v/%s", Cross(c.Params), d.Accepted, d.Reason)
			}
		case !d.Accepted && d.Reason != reason.ModeForbids:
			fail(CrossParam, "pacable program within the limits refused as %s", d.Reason)
		}
	}
	switch {
	case lie && !mismatch:
		fail(CmdVerdict, "verdict %d contradicts the exact check of %s but no alert", c.Verdict, c.Kind)
	case !lie && mismatch:
		fail(CmdVerdict, "verdict %d agrees with the exact check of %s (within=%v) but a verdict-mismatch alert", c.Verdict, c.Kind, within)
	}
}

// checkLimits: PACE-PATIENT-LIMITS as a state invariant. The kernel's limits
// are the ones the observer saw set, and every stored program lies within
// them (each was accepted within the limits then in force, and limits that
// exclude one are refused).
func checkLimits(g *Ghost, nxt pacer.State, fail func(string, string, ...any)) {
	if nxt.Limits != g.Limits {
		fail(PatientLimits, "kernel limits %d..%d, but %d..%d were set", nxt.Limits.MinLRL, nxt.Limits.MaxURL, g.Limits.MinLRL, g.Limits.MaxURL)
	}
	if why := storedOutside(nxt, g.Limits); why != "" {
		fail(PatientLimits, "the %s lies outside the limits %d..%d", why, g.Limits.MinLRL, g.Limits.MaxURL)
	}
}

// storedOutside names a stored program of s outside l, or is "".
func storedOutside(s pacer.State, l pacer.Limits) string {
	switch {
	case !exactWithin(s.Perm, l):
		return fmt.Sprintf("permanent program (LRL %d, URL %d)", s.Perm.LRL, s.Perm.URL)
	case s.Op == pacer.OpTemporary && !exactWithin(s.Temp, l):
		return fmt.Sprintf("temporary program (LRL %d, URL %d)", s.Temp.LRL, s.Temp.URL)
	case s.HavePending && !exactWithin(s.Pending, l):
		return fmt.Sprintf("pending program (LRL %d, URL %d)", s.Pending.LRL, s.Pending.URL)
	}
	return ""
}

func needsVerdict(k pacer.CommandKind) bool {
	return k == pacer.CmdProgram || k == pacer.CmdProgramTemporary
}

// exactWithin is the relay's homomorphic comparison, exactly: LRL not below
// the patient's minimum, URL not above the maximum. CMD-VERDICT,
// PACE-PATIENT-LIMITS.
func exactWithin(p pacer.Params, l pacer.Limits) bool { return p.LRL >= l.MinLRL && p.URL <= l.MaxURL }

func hasAlert(items []pacer.Output) bool {
	for _, o := range items {
		if o.Kind == pacer.OutAlert {
			return true
		}
	}
	return false
}

// isSafe: the safe VVI 65 setting of PACEMAKER spec §3.6 (5.0 V, VRP
// 320 ms, sensitivity 1.5 mV) with the given pulse width in 0.01 ms.
func isSafe(p pacer.Params, width pacer.HundredthMs) bool {
	return p.Mode == pacer.ModeVVI && p.LRL == 65 && p.VAmp == 50 && p.VRPMs == 320 && p.VSens == 150 && p.VPulse == width
}

func inputName(in pacer.Input) string {
	switch in.Kind {
	case pacer.InTick:
		return "tick"
	case pacer.InSense:
		return "sense " + in.Chamber.String()
	case pacer.InCommand:
		return "command " + in.Cmd.Kind.String()
	case pacer.InHAL:
		return "hal " + in.HAL.String()
	case pacer.InSwitchRequest:
		return "switch request"
	}
	return "input?"
}

// checkApplied is PACE-SAFE-POINT's other half: a program that takes
// effect is the one that was accepted, in the operating state it asked
// for (a temporary program runs as temporary, a permanent one or the end
// of a temporary one as permanent). Checked when one program takes effect
// in the Step and nothing acts at once after it (a fault, a magnet,
// pace-now, a clock going back).
func checkApplied(prev pacer.State, in pacer.Input, items []pacer.Output, nxt pacer.State, fail func(string, string, ...any)) {
	applied, cmdFirst := 0, false
	for _, o := range items {
		switch {
		case o.Kind == pacer.OutApplied:
			applied++
		case o.Kind == pacer.OutDecision && o.Accepted && applied == 0:
			cmdFirst = true // the command's pending program replaced any earlier one
		}
	}
	if applied != 1 || in.Kind == pacer.InHAL || in.NowMs < prev.NowMs || nxt.Op == pacer.OpFault ||
		in.Kind == pacer.InCommand && in.Cmd.Kind == pacer.CmdPaceNow {
		return
	}
	want, op, ok := prev.Pending, pacer.OpPermanent, prev.HavePending
	if ok && prev.PendingEv == pacer.EvTemporary {
		op = pacer.OpTemporary
	}
	if cmdFirst && in.Kind == pacer.InCommand {
		switch in.Cmd.Kind {
		case pacer.CmdProgram:
			want, op, ok = in.Cmd.Params, pacer.OpPermanent, true
		case pacer.CmdProgramTemporary:
			want, op, ok = in.Cmd.Params, pacer.OpTemporary, true
		case pacer.CmdEndTemporary:
			want, op, ok = prev.Perm, pacer.OpPermanent, true
		default:
			ok = false
		}
	}
	if ok && (nxt.Active != want || nxt.Op != op) {
		fail(SafePoint, "the program that took effect is %s %d ppm in %s, the accepted one %s %d ppm in %s", nxt.Active.Mode, nxt.Active.LRL, nxt.Op, want.Mode, want.LRL, op)
	}
}
