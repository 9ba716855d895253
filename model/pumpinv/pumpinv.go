// Package pumpinv is the reference observer of the insulin-pump kernel: it
// watches every Step (state before, input, outputs, state after), keeps its
// own exact history of deliveries, and checks each safety invariant of
// spec/InsulinPump.tla by requirement ID. It recomputes totals exactly from
// the history, independently of the kernel's bucketed accounting, so a kernel
// bug in that accounting shows up as a violation here.
//
// The model checker (model/pump) and the property tests (kernel/pump) both
// use it. It is test and verification code: it allocates freely.
package pumpinv

import (
	"fmt"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/model/guardinv"
)

// Requirement IDs checked here, in the order of spec/InsulinPump.tla.
const (
	MaxBolus       = "PUMP-MAX-BOLUS"
	MaxBasal       = "PUMP-MAX-BASAL"
	MaxIOB         = "PUMP-MAX-IOB"
	BolusInterval  = "PUMP-BOLUS-INTERVAL"
	DailyMax       = "PUMP-DAILY-MAX"
	Halt           = "PUMP-HALT"
	GlucoseGate    = "PUMP-GLUCOSE-GATE"
	Reservoir      = "PUMP-RESERVOIR"
	FaultStop      = "PUMP-FAULT-STOP"
	AlarmAck       = "PUMP-ALARM-ACK"
	LimitsRange    = "PUMP-LIMITS-RANGE"
	UpdateSwitch   = "PUMP-UPDATE-SWITCH"
	TempDuration   = "PUMP-TEMP-DURATION"
	CmdAuth        = "CMD-AUTH"
	CmdReplay      = "CMD-REPLAY"
	CmdCounterStep = guardinv.CounterStep
	CmdExpiry      = "CMD-EXPIRY"
	CmdVerdict     = "CMD-VERDICT"
	FaultSafeState = "FAULT-SAFE"
)

// IDs lists every requirement this observer checks.
var IDs = []string{MaxBolus, MaxBasal, MaxIOB, BolusInterval, DailyMax, Halt, GlucoseGate,
	Reservoir, FaultStop, AlarmAck, LimitsRange, UpdateSwitch, TempDuration, CmdAuth, CmdReplay, CmdCounterStep, CmdExpiry, CmdVerdict, FaultSafeState}

// Delivery is one delivery in the observer's exact history.
type Delivery struct {
	AtMs   units.Millis
	Amount units.CentiUnits
	Bolus  bool
}

// Ghost is the observer's own memory. It is a value; Clone copies it.
type Ghost struct {
	History []Delivery // deliveries within the window, oldest first
	// MaxSignedCounter is the highest counter consumed: the counter of the
	// last clinician-signed command that was above the one before and at
	// most guard.MaxCounterStep above it (CMD-COUNTER-STEP: a jump is not
	// consumed).
	MaxSignedCounter uint64
	HaveBolus        bool
	LastBolusAtMs    units.Millis
	HaveGlucose      bool
	Glucose          units.MgDL
	GlucoseAtMs      units.Millis
	// ReservoirKnown is the last reservoir reading minus everything delivered
	// since; it must never go negative.
	HaveReservoir  bool
	ReservoirKnown units.CentiUnits
	// BolusRunning: the kernel asked the motor for a bolus, and neither its
	// completion (a delivery-done event) nor a motor stop has been seen
	// since. PUMP-UPDATE-SWITCH.
	BolusRunning bool
	// Corrupted is set by the caller for one Step: the state before it is
	// not one the kernel produced (memory corruption injected by the model
	// check). Observe clears it. FAULT-SAFE.
	Corrupted bool
}

// Clone returns an independent copy.
func (g Ghost) Clone() Ghost {
	g.History = append([]Delivery(nil), g.History...)
	return g
}

// Violation names a broken requirement and says how.
type Violation struct {
	ID     string
	Detail string
}

func (v Violation) Error() string { return v.ID + ": " + v.Detail }

// Observe checks one Step and advances the ghost. It returns every
// requirement the Step broke.
func Observe(cfg *pump.Config, g *Ghost, prev pump.State, in pump.Input, out pump.Outputs, nxt pump.State) []Violation {
	var vs []Violation
	fail := func(id, f string, a ...any) { vs = append(vs, Violation{ID: id, Detail: fmt.Sprintf(f, a...)}) }
	now := in.NowMs
	hard, _ := pump.Hard(cfg.Profile)
	items := out.All()

	// Inputs the observer tracks on its own.
	prevMax := g.MaxSignedCounter
	corrupted := g.Corrupted
	g.Corrupted = false
	// A command arriving with a clock that went back, or at a corrupted
	// state, is never looked at.
	if !corrupted && in.NowMs >= prev.NowMs && in.Kind == pump.InCommand && in.Cmd.Header.Signer == guard.RoleClinician && guardinv.InStep(g.MaxSignedCounter, in.Cmd.Header.Counter) {
		g.MaxSignedCounter = in.Cmd.Header.Counter
	}
	// Glucose seen before this step's deliveries (readings arrive after the
	// basal of the elapsed interval is delivered, as in the kernel).
	prevGlucose, prevGlucoseAt, prevHaveGlucose := g.Glucose, g.GlucoseAtMs, g.HaveGlucose

	faultEvent := in.Kind == pump.InHAL && (in.HAL == pump.HALWatchdog || in.HAL == pump.HALMotorFault)
	clockBack := in.NowMs < prev.NowMs
	stopEvent := in.Kind == pump.InHAL && (in.HAL == pump.HALOcclusion || in.HAL == pump.HALMotorFault)
	seenStopEvent := false
	var accepted *pump.Output

	for i := range items {
		o := items[i]
		if o.Kind == pump.OutEvent && o.HAL != pump.HALNone && stopEvent {
			seenStopEvent = true
		}
		if o.Kind == pump.OutDecision && o.Accepted {
			accepted = &items[i]
		}
		if o.Kind != pump.OutActuate {
			continue
		}
		if o.Amount <= 0 {
			fail(Halt, "actuation of non-positive amount %d", o.Amount)
		}
		if clockBack {
			fail(FaultSafeState, "delivered %d after the clock went back", o.Amount)
		}
		if seenStopEvent {
			fail(FaultStop, "delivered %d after %s", o.Amount, in.HAL)
		}
		// PUMP-HALT.
		// Time advance and commands never change the mode before the
		// delivery, so the mode it happens in is the mode before the step.
		if pump.HaltedMode(prev.Mode) {
			fail(Halt, "delivered %d in mode %s", o.Amount, prev.Mode)
		}
		// PUMP-GLUCOSE-GATE.
		if !prevHaveGlucose || now-prevGlucoseAt > cfg.GlucoseStaleMs {
			fail(GlucoseGate, "delivered %d without fresh glucose", o.Amount)
		} else if prevGlucose < prev.Limits.SuspendBelow {
			fail(GlucoseGate, "delivered %d at glucose %d < %d", o.Amount, prevGlucose, prev.Limits.SuspendBelow)
		}
		if o.Actuation == pump.ActBolus {
			// PUMP-MAX-BOLUS.
			if lim := min(prev.Limits.MaxBolus, hard.MaxBolus); o.Amount > lim {
				fail(MaxBolus, "bolus %d > max %d", o.Amount, lim)
			}
			// PUMP-BOLUS-INTERVAL.
			if g.HaveBolus && now-g.LastBolusAtMs < prev.Limits.MinBolusInterval {
				fail(BolusInterval, "bolus %d ms after the previous one, min %d", now-g.LastBolusAtMs, prev.Limits.MinBolusInterval)
			}
			g.HaveBolus, g.LastBolusAtMs = true, now
		}
		g.History = append(g.History, Delivery{AtMs: now, Amount: o.Amount, Bolus: o.Actuation == pump.ActBolus})
		// PUMP-RESERVOIR.
		if !g.HaveReservoir {
			fail(Reservoir, "delivered %d with no reservoir reading", o.Amount)
		} else {
			g.ReservoirKnown -= o.Amount
			if g.ReservoirKnown < 0 {
				fail(Reservoir, "reservoir would be %d", g.ReservoirKnown)
			}
		}
		// PUMP-DAILY-MAX, exact over (now − window, now].
		if tot := g.windowTotal(cfg, now); tot > prev.Limits.MaxDaily {
			fail(DailyMax, "window total %d > max %d", tot, prev.Limits.MaxDaily)
		}
		// PUMP-MAX-IOB, exact linear curve: Σ d × (DIA − age) ≤ max × DIA.
		if num, lim := g.iobNumerator(cfg, now), int64(prev.Limits.MaxIOB)*int64(cfg.InsulinActionMs); num > lim {
			fail(MaxIOB, "insulin on board %.2f U > max %.2f U", float64(num)/float64(cfg.InsulinActionMs)/100, float64(prev.Limits.MaxIOB)/100)
		}
	}
	g.prune(cfg, now)
	checkSwitch(cfg, g, prev, in, out, nxt, fail)

	// Sensor and HAL inputs after the deliveries of the step.
	if in.Kind == pump.InGlucose && in.GlucoseAtMs <= now && in.Glucose > 0 && in.Glucose <= 1000 &&
		(!g.HaveGlucose || in.GlucoseAtMs >= g.GlucoseAtMs) && !clockBack {
		g.HaveGlucose, g.Glucose, g.GlucoseAtMs = true, in.Glucose, in.GlucoseAtMs
	}
	if in.Kind == pump.InHAL && in.HAL == pump.HALReservoir && in.ReservoirCU >= 0 && !clockBack {
		g.HaveReservoir, g.ReservoirKnown = true, in.ReservoirCU
	}

	// PUMP-MAX-BASAL: the rate in force never exceeds its ceiling.
	if !pump.HaltedMode(nxt.Mode) {
		if r, lim := nxt.BasalRate(), min(nxt.Limits.MaxBasal, hard.MaxBasal); r > lim || r < 0 {
			fail(MaxBasal, "basal rate %d outside [0, %d]", r, lim)
		}
		if nxt.TempActive && nxt.NowMs < nxt.TempUntilMs && nxt.TempRate > 3*nxt.Limits.ScheduledBasal {
			fail(MaxBasal, "temp rate %d > 3 × scheduled %d", nxt.TempRate, nxt.Limits.ScheduledBasal)
		}
	}
	// PUMP-LIMITS-RANGE.
	if nxt.Mode != pump.ModeInit && nxt.Mode != pump.ModeFault {
		if why := LimitsOutOfRange(cfg, nxt.Limits); why != "" {
			fail(LimitsRange, "limits out of range (%s): %+v", why, nxt.Limits)
		}
	}
	// PUMP-FAULT-STOP.
	if stopEvent && prev.Mode != pump.ModeInit {
		if nxt.Mode != pump.ModeAlarm && nxt.Mode != pump.ModeFault {
			fail(FaultStop, "%s left mode %s", in.HAL, nxt.Mode)
		}
		if !hasKind(items, pump.OutStop) {
			fail(FaultStop, "%s without a stop output", in.HAL)
		}
	}
	// FAULT-SAFE.
	if (faultEvent || clockBack) && (nxt.Mode != pump.ModeFault || !hasKind(items, pump.OutStop) || !hasKind(items, pump.OutAlert)) {
		fail(FaultSafeState, "fault input left mode %s (stop=%v alert=%v)", nxt.Mode, hasKind(items, pump.OutStop), hasKind(items, pump.OutAlert))
	}
	// FAULT-SAFE: a corrupted state is driven to Fault with a stop and an
	// alert, delivering nothing and keeping the consumed counter (a fault
	// must not reopen replay); Fault is absorbing; and the kernel never
	// faults on its own accord: every state it produces passes its own
	// corruption check, so Fault follows only a fault input, a clock that
	// went back or a corrupted state.
	if corrupted {
		if nxt.Mode != pump.ModeFault || !hasKind(items, pump.OutStop) || !hasAlert(items, reason.StateCorrupt) || out.Delivered() != 0 {
			fail(FaultSafeState, "corrupted state left mode %s (stop=%v corrupt-alert=%v delivered=%d)", nxt.Mode, hasKind(items, pump.OutStop), hasAlert(items, reason.StateCorrupt), out.Delivered())
		}
	}
	if prev.Mode == pump.ModeFault && nxt.Mode != pump.ModeFault {
		fail(FaultSafeState, "left Fault for %s", nxt.Mode)
	}
	if nxt.Mode == pump.ModeFault && prev.Mode != pump.ModeFault && !corrupted && !faultEvent && !clockBack {
		fail(FaultSafeState, "entered Fault on %s without a fault", inputKind(in))
	}
	// PUMP-RESERVOIR: an empty reading while running stops and alarms.
	if in.Kind == pump.InHAL && in.HAL == pump.HALReservoir && in.ReservoirCU == 0 && !clockBack && !corrupted &&
		(prev.Mode == pump.ModeIdle || prev.Mode == pump.ModeDelivering) {
		if nxt.Mode != pump.ModeAlarm || !hasKind(items, pump.OutStop) || !hasAlert(items, reason.ReservoirEmpty) {
			fail(Reservoir, "empty reservoir in %s left mode %s (stop=%v alert=%v)", prev.Mode, nxt.Mode, hasKind(items, pump.OutStop), hasAlert(items, reason.ReservoirEmpty))
		}
	}
	// PUMP-TEMP-DURATION: a temporary basal runs for a duration within
	// [MinTempBasalMs, MaxTempBasalMs]: no temporary rate is ever in force
	// beyond MaxTempBasalMs from now.
	if nxt.TempActive && nxt.TempUntilMs-nxt.NowMs > cfg.MaxTempBasalMs {
		fail(TempDuration, "temporary basal runs until %d, %d ms from now, longer than %d", nxt.TempUntilMs, nxt.TempUntilMs-nxt.NowMs, cfg.MaxTempBasalMs)
	}
	// PUMP-ALARM-ACK: only an accepted acknowledgement leaves Alarm (or a fault).
	if prev.Mode == pump.ModeAlarm && nxt.Mode != pump.ModeAlarm && nxt.Mode != pump.ModeFault {
		if accepted == nil || accepted.Cmd != pump.CmdAckAlarm {
			fail(AlarmAck, "left alarm to %s without an acknowledgement", nxt.Mode)
		}
	}
	if accepted != nil {
		checkAccepted(cfg, in, prev, prevMax, accepted, fail)
	}
	if in.Kind == pump.InCommand && !clockBack && !corrupted {
		checkDecision(cfg, in, prev, prevMax, items, fail)
	}
	// CMD-AUTH, CMD-REPLAY, CMD-COUNTER-STEP, CMD-EXPIRY: the admission
	// decision is the reference one, and the kernel consumed the counter
	// the observer saw consumed.
	var hdr *guard.Header
	var dec *guardinv.Decision
	if in.Kind == pump.InCommand && !clockBack && !corrupted {
		hdr = &in.Cmd.Header
		for _, o := range items {
			if o.Kind == pump.OutDecision {
				dec = &guardinv.Decision{Accepted: o.Accepted, Reason: o.Reason}
				break
			}
		}
	}
	guardinv.CheckAdmission(hdr, guard.RoleClinician, prevMax, now, cfg.MaxCommandValidityMs, dec, prev.Guard, nxt.Guard, g.MaxSignedCounter, fail)
	// CMD-COUNTER-STEP.
	var cmd *guard.Header
	if in.Kind == pump.InCommand {
		cmd = &in.Cmd.Header
	}
	var ds []guardinv.Decision
	for _, o := range items {
		if o.Kind == pump.OutDecision {
			ds = append(ds, guardinv.Decision{Accepted: o.Accepted, Reason: o.Reason})
		}
	}
	guardinv.CheckCounterStep(prev.Guard, nxt.Guard, cmd, prevMax, ds, fail)
	// CMD-VERDICT: a verdict contradicting the exact check is raised as an alert.
	if in.Kind == pump.InCommand && contradicts(cfg, prev, in.Cmd) && !clockBack && admitted(cfg, prev, prevMax, in) {
		if !hasAlert(items, reason.VerdictMismatch) {
			fail(CmdVerdict, "verdict %d contradicts the exact check of %s but no alert", in.Cmd.Verdict, in.Cmd.Kind)
		}
	}
	return vs
}

// hardLimits is the observer's own copy of the profiles' hard limits
// (AndroidAPS HardLimits: child / teen / adult / resistant adult /
// pregnant: max bolus 5/10/17/25/60 U, max basal 2/5/10/12/25 U/h, max IOB
// 7/13/22/30/70 U; the daily ceiling 24 h of maximum basal plus three
// maximum boluses), in 0.01 U and 0.01 U/h.
var hardLimits = []pump.HardLimits{
	{MaxBolus: 500, MaxBasal: 200, MaxIOB: 700, MaxDaily: 24*200 + 3*500},
	{MaxBolus: 1000, MaxBasal: 500, MaxIOB: 1300, MaxDaily: 24*500 + 3*1000},
	{MaxBolus: 1700, MaxBasal: 1000, MaxIOB: 2200, MaxDaily: 24*1000 + 3*1700},
	{MaxBolus: 2500, MaxBasal: 1200, MaxIOB: 3000, MaxDaily: 24*1200 + 3*2500},
	{MaxBolus: 6000, MaxBasal: 2500, MaxIOB: 7000, MaxDaily: 24*2500 + 3*6000},
}

// Programmable ranges, the observer's own: AndroidAPS SafetyPlugin max
// bolus from 0.1 U; Loop's suspend-threshold guardrail 67–110 mg/dL.
const (
	minProgMaxBolus = 10
	minSuspendBelow = 67
	maxSuspendBelow = 110
)

// LimitsOutOfRange is the observer's own PUMP-LIMITS-RANGE rule: "" if
// every programmed limit lies in its programmable range, under the
// profile's hard limit, and the scheduled basal under the maximum basal
// (the cross-parameter rule); else the first that does not.
func LimitsOutOfRange(cfg *pump.Config, l pump.Limits) string {
	if int(cfg.Profile) >= len(hardLimits) {
		return "unknown profile"
	}
	h := hardLimits[cfg.Profile]
	switch {
	case l.MaxBolus < minProgMaxBolus || l.MaxBolus > h.MaxBolus:
		return fmt.Sprintf("max bolus %d outside [%d, %d]", l.MaxBolus, minProgMaxBolus, h.MaxBolus)
	case l.MaxBasal < 1 || l.MaxBasal > h.MaxBasal:
		return fmt.Sprintf("max basal %d outside [1, %d]", l.MaxBasal, h.MaxBasal)
	case l.MaxIOB < 1 || l.MaxIOB > h.MaxIOB:
		return fmt.Sprintf("max IOB %d outside [1, %d]", l.MaxIOB, h.MaxIOB)
	case l.MaxDaily < 1 || l.MaxDaily > h.MaxDaily:
		return fmt.Sprintf("max daily %d outside [1, %d]", l.MaxDaily, h.MaxDaily)
	case l.MinBolusInterval < 0 || l.MinBolusInterval > cfg.WindowMs:
		return fmt.Sprintf("bolus interval %d outside [0, %d]", l.MinBolusInterval, cfg.WindowMs)
	case l.SuspendBelow < minSuspendBelow || l.SuspendBelow > maxSuspendBelow:
		return fmt.Sprintf("suspend threshold %d outside [%d, %d]", l.SuspendBelow, minSuspendBelow, maxSuspendBelow)
	case l.ScheduledBasal < 0 || l.ScheduledBasal > l.MaxBasal:
		return fmt.Sprintf("scheduled basal %d outside [0, max basal %d]", l.ScheduledBasal, l.MaxBasal)
	}
	return ""
}

// checkDecision holds the decision on an admitted command whose outcome
// the observer can tell exactly to it: programming limits is accepted iff
// they are in range (in a mode that takes them: Init, Idle, Suspended),
// PUMP-LIMITS-RANGE; a temporary basal whose duration is outside
// [MinTempBasalMs, MaxTempBasalMs] is refused as out of range and never
// accepted, PUMP-TEMP-DURATION; and a verdict-mismatch alert is raised only
// for a verdict that contradicts the exact check, CMD-VERDICT.
func checkDecision(cfg *pump.Config, in pump.Input, prev pump.State, prevMax uint64, items []pump.Output, fail func(string, string, ...any)) {
	c := in.Cmd
	var d *pump.Output
	for i := range items {
		if items[i].Kind == pump.OutDecision {
			d = &items[i]
			break
		}
	}
	if d == nil || !admitted(cfg, prev, prevMax, in) {
		return
	}
	if hasAlert(items, reason.VerdictMismatch) && !contradicts(cfg, prev, c) {
		fail(CmdVerdict, "verdict-mismatch alert on %s with verdict %d, which agrees with the exact check", c.Kind, c.Verdict)
	}
	// PUMP-HALT: a halted pump takes no new therapy: a bolus only in Idle,
	// a temporary basal only while running.
	if d.Accepted && (c.Kind == pump.CmdBolus && prev.Mode != pump.ModeIdle ||
		c.Kind == pump.CmdTempBasal && pump.HaltedMode(prev.Mode)) {
		fail(Halt, "accepted %s in mode %s", c.Kind, prev.Mode)
	}
	switch c.Kind {
	case pump.CmdProgramLimits:
		why := LimitsOutOfRange(cfg, c.Limits)
		takes := prev.Mode == pump.ModeInit || prev.Mode == pump.ModeIdle || prev.Mode == pump.ModeSuspended
		switch {
		case why != "" && d.Accepted:
			fail(LimitsRange, "accepted limits out of range (%s)", why)
		case why == "" && takes && !d.Accepted:
			fail(LimitsRange, "in-range limits %+v refused in %s (%s)", c.Limits, prev.Mode, d.Reason)
		}
	case pump.CmdTempBasal:
		out := c.DurationMs < cfg.MinTempBasalMs || c.DurationMs > cfg.MaxTempBasalMs
		switch {
		case out && d.Accepted:
			fail(TempDuration, "accepted a temporary basal of %d ms, outside [%d, %d]", c.DurationMs, cfg.MinTempBasalMs, cfg.MaxTempBasalMs)
		case out && prev.Mode != pump.ModeInit && d.Reason != reason.ParamOutOfRange:
			fail(TempDuration, "temporary basal of %d ms refused as %s, not as out of range", c.DurationMs, d.Reason)
		}
	}
}

func inputKind(in pump.Input) string {
	switch in.Kind {
	case pump.InTick:
		return "tick"
	case pump.InCommand:
		return "command " + in.Cmd.Kind.String()
	case pump.InGlucose:
		return "glucose"
	case pump.InHAL:
		return "hal " + in.HAL.String()
	case pump.InSwitchRequest:
		return "switch request"
	}
	return "input?"
}

// checkSwitch is PUMP-UPDATE-SWITCH: every switch request gets exactly one
// answer, the Step's last output, and nothing else does; a grant comes only
// while no bolus the observer saw start is still running, with the pump not
// faulted before or after, for a declared blackout in (0, MaxSwitchMs]; and
// a switch request, granted or not, changes nothing a tick would not. It
// then advances the observer's own record of the running bolus.
func checkSwitch(cfg *pump.Config, g *Ghost, prev pump.State, in pump.Input, out pump.Outputs, nxt pump.State, fail func(string, string, ...any)) {
	items := out.All()
	answers := 0
	for i, o := range items {
		if o.Kind != pump.OutSwitch {
			continue
		}
		answers++
		if in.Kind != pump.InSwitchRequest {
			fail(UpdateSwitch, "switch answer to a %d input", in.Kind)
			continue
		}
		if i != len(items)-1 {
			fail(UpdateSwitch, "switch answer is output %d of %d, not the last", i+1, len(items))
		}
		if o.Accepted != (o.Reason == reason.OK) {
			fail(UpdateSwitch, "switch answer accepted=%v with reason %s", o.Accepted, o.Reason)
		}
		if !o.Accepted {
			continue
		}
		if g.BolusRunning {
			fail(UpdateSwitch, "switch granted at %d while the bolus started at %d is still running", in.NowMs, g.LastBolusAtMs)
		}
		if prev.Mode == pump.ModeFault || nxt.Mode == pump.ModeFault || in.NowMs < prev.NowMs {
			fail(UpdateSwitch, "switch granted with the pump faulted (mode %s -> %s, clock %d -> %d)", prev.Mode, nxt.Mode, prev.NowMs, in.NowMs)
		}
		if in.SwitchMs <= 0 || in.SwitchMs > cfg.MaxSwitchMs {
			fail(UpdateSwitch, "switch granted for a blackout of %d ms, outside (0, %d]", in.SwitchMs, cfg.MaxSwitchMs)
		}
	}
	if in.Kind == pump.InSwitchRequest {
		if answers != 1 {
			fail(UpdateSwitch, "%d answers to one switch request", answers)
		}
		tn, to := pump.Step(cfg, prev, pump.Input{Kind: pump.InTick, NowMs: in.NowMs})
		if tn != nxt || !sameButSwitch(to.All(), items) {
			fail(UpdateSwitch, "a switch request changed the kernel's course")
		}
	}
	// The observer's own record of the motor: a bolus actuation starts a
	// run; a stop, or the HAL reporting the delivery done, ends it.
	for _, o := range items {
		switch {
		case o.Kind == pump.OutActuate && o.Actuation == pump.ActBolus:
			g.BolusRunning = true
		case o.Kind == pump.OutStop:
			g.BolusRunning = false
		}
	}
	if in.Kind == pump.InHAL && in.HAL == pump.HALDeliveryDone && in.NowMs >= prev.NowMs {
		g.BolusRunning = false
	}
}

// sameButSwitch: the same outputs, switch answers aside.
func sameButSwitch(a, b []pump.Output) bool {
	pick := func(xs []pump.Output) []pump.Output {
		var r []pump.Output
		for _, x := range xs {
			if x.Kind != pump.OutSwitch {
				r = append(r, x)
			}
		}
		return r
	}
	x, y := pick(a), pick(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

func checkAccepted(cfg *pump.Config, in pump.Input, prev pump.State, prevMax uint64, d *pump.Output, fail func(string, string, ...any)) {
	c := in.Cmd
	if in.Kind != pump.InCommand {
		fail(CmdAuth, "accepted decision without a command input")
		return
	}
	if c.Header.Signer != guard.RoleClinician {
		fail(CmdAuth, "accepted command signed by role %d", c.Header.Signer)
	}
	if c.Header.Counter <= prevMax {
		fail(CmdReplay, "accepted counter %d not above %d", c.Header.Counter, prevMax)
	}
	h := c.Header
	if !guardinv.InWindow(h, in.NowMs, cfg.MaxCommandValidityMs) {
		fail(CmdExpiry, "accepted at %d outside [%d, %d) or longer than %d ms", in.NowMs, h.IssuedAtMs, h.ExpiresAtMs, cfg.MaxCommandValidityMs)
	}
	if within, needs := exactWithin(cfg, prev, c); needs && (c.Verdict != guard.VerdictWithin || !within) {
		fail(CmdVerdict, "accepted %s with verdict %d and exact=%v", c.Kind, c.Verdict, within)
	}
}

// exactWithin recomputes the exact comparison the relay makes homomorphically.
func exactWithin(cfg *pump.Config, s pump.State, c pump.Command) (within, needsVerdict bool) {
	hard, _ := pump.Hard(cfg.Profile)
	switch c.Kind {
	case pump.CmdBolus:
		return c.Amount > 0 && c.Amount <= min(s.Limits.MaxBolus, hard.MaxBolus), true
	case pump.CmdSetBasal:
		return c.Rate >= 0 && c.Rate <= min(s.Limits.MaxBasal, hard.MaxBasal), true
	case pump.CmdTempBasal:
		return c.Rate >= 0 && c.Rate <= min(s.Limits.MaxBasal, hard.MaxBasal, 3*s.Limits.ScheduledBasal), true
	}
	return false, false
}

// contradicts: the verdict states the opposite of the exact check for a
// well-formed command that reached the verdict rule.
func contradicts(cfg *pump.Config, s pump.State, c pump.Command) bool {
	within, needs := exactWithin(cfg, s, c)
	if !needs || s.Mode == pump.ModeInit || s.Mode >= pump.Mode(pump.NumModes) {
		return false
	}
	if c.Kind == pump.CmdBolus && c.Amount <= 0 || c.Kind != pump.CmdBolus && c.Rate < 0 {
		return false
	}
	if c.Kind == pump.CmdTempBasal && (c.DurationMs < cfg.MinTempBasalMs || c.DurationMs > cfg.MaxTempBasalMs) {
		return false
	}
	return c.Verdict == guard.VerdictWithin && !within || c.Verdict == guard.VerdictOutside && within
}

// admitted: the command passes authentication, replay, counter step and
// expiry, by the observer's own exact rules.
func admitted(cfg *pump.Config, s pump.State, prevMax uint64, in pump.Input) bool {
	h := in.Cmd.Header
	return h.Signer == guard.RoleClinician && guardinv.InStep(prevMax, h.Counter) && guardinv.InWindow(h, in.NowMs, cfg.MaxCommandValidityMs)
}

func hasKind(items []pump.Output, k pump.OutputKind) bool {
	for _, o := range items {
		if o.Kind == k {
			return true
		}
	}
	return false
}

func hasAlert(items []pump.Output, r reason.Code) bool {
	for _, o := range items {
		if o.Kind == pump.OutAlert && o.Reason == r {
			return true
		}
	}
	return false
}

func (g *Ghost) windowTotal(cfg *pump.Config, now units.Millis) units.CentiUnits {
	var t units.CentiUnits
	for _, d := range g.History {
		if d.AtMs > now-cfg.WindowMs {
			t += d.Amount
		}
	}
	return t
}

func (g *Ghost) iobNumerator(cfg *pump.Config, now units.Millis) int64 {
	var n int64
	for _, d := range g.History {
		if age := now - d.AtMs; age < cfg.InsulinActionMs {
			n += int64(d.Amount) * int64(cfg.InsulinActionMs-age)
		}
	}
	return n
}

// prune drops deliveries that can no longer matter.
func (g *Ghost) prune(cfg *pump.Config, now units.Millis) {
	keep := g.History[:0]
	for _, d := range g.History {
		if d.AtMs > now-cfg.WindowMs || now-d.AtMs < cfg.InsulinActionMs {
			keep = append(keep, d)
		}
	}
	g.History = keep
}
