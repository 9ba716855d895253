// Package pumptrace is trace validation of the insulin-pump kernel against
// its TLA+ specification, spec/InsulinPump.tla, in the style of etcd/raft's
// tla/ folder: it runs the real kernel (kernel/pump, through the bounded
// model of model/pump) along a seeded random walk, maps every kernel state
// and the spec's ghost variables to the spec's variables, and writes one
// TLA+ module per trace (spec/traces/PumpTrace_NNN.tla) whose TraceSpec
// requires each consecutive pair of states to be a step of the spec's Next.
// TLC then shows that every step the Go kernel took is a step the spec
// allows, and checks the spec's invariants on the kernel's own states.
//
// The mapping is the one spec/README.md documents: kernel fields map one to
// one to spec variables; the spec's ghost variables (history, events,
// lastStep) are computed here from the kernel's inputs and outputs.
package pumptrace

import (
	"fmt"

	"github.com/implantfhe/implantfhe/kernel/guard"
	kp "github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// Vars are the spec's variables, in the order of its VARIABLES declaration.
var Vars = []string{
	"mode", "now", "lastCounter", "limits", "haveGlucose", "glucose", "glucoseAt",
	"tempActive", "tempRate", "tempUntil", "basalAccum", "lastWithheld",
	"haveBolus", "lastBolusAt", "reservoir", "history", "bolusRunning", "events", "lastStep",
}

// Delivery is one entry of the spec's history ghost.
type Delivery struct {
	AtMs   units.Millis
	Amount units.CentiUnits
	Bolus  bool
}

// Ghost is the spec's ghost state that the kernel does not keep.
type Ghost struct {
	// History holds the deliveries the spec still needs (Prune in the spec).
	History []Delivery
	// BolusRunning: a bolus was actuated, and neither its completion
	// (delivery-done) nor a motor stop was seen since.
	BolusRunning bool
	// Events counts the inputs since the last tick.
	Events int
	// Last is the spec's lastStep, already mapped.
	Last Rec
}

// Recorder follows a kernel run and records the spec state after each step.
type Recorder struct {
	cfg    *kp.Config
	ghost  Ghost
	states []Rec
	labels []string
}

// NewRecorder starts a record at the kernel state s0, which must be the
// spec's initial state (a pump at power-on).
func NewRecorder(cfg *kp.Config, s0 kp.State) *Recorder {
	r := &Recorder{cfg: cfg, ghost: InitialGhost(s0)}
	r.states = append(r.states, SpecState(s0, r.ghost))
	r.labels = append(r.labels, "init")
	return r
}

// Step records the kernel step prev --in/out--> next.
func (r *Recorder) Step(label string, prev kp.State, in kp.Input, out kp.Outputs, next kp.State) {
	r.ghost = r.ghost.Advance(r.cfg, prev, in, out, next)
	r.states = append(r.states, SpecState(next, r.ghost))
	r.labels = append(r.labels, label)
}

// InitialGhost is the ghost of the spec's initial state for the kernel
// state s0.
func InitialGhost(s0 kp.State) Ghost {
	return Ghost{Last: Rec{
		{"input", noInput()},
		{"pre", pre(s0, false)},
		{"out", outRec(false, nil, 0, 0, "none", "none")},
	}}
}

// Advance returns the ghost after the kernel step prev --in/out--> next;
// g is not modified.
func (g Ghost) Advance(cfg *kp.Config, prev kp.State, in kp.Input, out kp.Outputs, next kp.State) Ghost {
	var basal, bolus units.CentiUnits
	var alerts []string
	stop := false
	decision, answer := "none", "none"
	hist := append([]Delivery(nil), g.History...)
	for _, o := range out.All() {
		switch o.Kind {
		case kp.OutActuate:
			hist = append(hist, Delivery{AtMs: in.NowMs, Amount: o.Amount, Bolus: o.Actuation == kp.ActBolus})
			if o.Actuation == kp.ActBolus {
				bolus += o.Amount
			} else {
				basal += o.Amount
			}
		case kp.OutStop:
			stop = true
		case kp.OutAlert:
			alerts = append(alerts, o.Reason.String())
		case kp.OutDecision:
			decision = o.Reason.String()
		case kp.OutSwitch:
			answer = o.Reason.String()
		}
	}
	running := g.BolusRunning
	switch {
	case bolus > 0:
		running = true
	case stop || in.Kind == kp.InHAL && in.HAL == kp.HALDeliveryDone && in.NowMs >= prev.NowMs:
		running = false
	}
	ng := Ghost{History: prune(cfg, hist, next.NowMs), BolusRunning: running, Events: g.Events + 1}
	if in.Kind == kp.InTick && in.NowMs >= prev.NowMs {
		ng.Events = 0
	}
	ng.Last = Rec{
		{"input", input(in, prev.NowMs)},
		{"pre", pre(prev, g.BolusRunning)},
		{"out", outRec(stop, alerts, basal, bolus, decision, answer)},
	}
	return ng
}

// States returns the spec states recorded so far, the initial one first.
func (r *Recorder) States() []Rec { return r.states }

// Labels returns a readable label per state (the input that led to it).
func (r *Recorder) Labels() []string { return r.labels }

// prune keeps the deliveries at or after the start of the oldest bucket of
// the kernel's window at time now (Prune in the spec).
func prune(cfg *kp.Config, h []Delivery, now units.Millis) []Delivery {
	lo := (now/cfg.BucketMs - cfg.WindowMs/cfg.BucketMs) * cfg.BucketMs
	out := h[:0:0]
	for _, d := range h {
		if d.AtMs >= lo {
			out = append(out, d)
		}
	}
	return out
}

// SpecState maps a kernel state and the ghost to the spec's variables.
func SpecState(s kp.State, g Ghost) Rec {
	hist := make(Tuple, len(g.History))
	for i, d := range g.History {
		hist[i] = Rec{{"at", Int(d.AtMs)}, {"amount", Int(d.Amount)}, {"bolus", Bool(d.Bolus)}}
	}
	return Rec{
		{"mode", Str(s.Mode.String())},
		{"now", Int(s.NowMs)},
		{"lastCounter", Int(s.Guard.LastCounter)},
		{"limits", limits(s.Limits)},
		{"haveGlucose", Bool(s.HaveGlucose)},
		{"glucose", Int(s.Glucose)},
		{"glucoseAt", Int(s.GlucoseAtMs)},
		{"tempActive", Bool(s.TempActive)},
		{"tempRate", Int(s.TempRate)},
		{"tempUntil", Int(s.TempUntilMs)},
		{"basalAccum", Int(s.BasalAccum)},
		{"lastWithheld", Str(s.LastWithheld.String())},
		{"haveBolus", Bool(s.HaveBolus)},
		{"lastBolusAt", Int(s.LastBolusAtMs)},
		{"reservoir", Int(s.ReservoirCU)},
		{"history", hist},
		{"bolusRunning", Bool(g.BolusRunning)},
		{"events", Int(g.Events)},
		{"lastStep", g.Last},
	}
}

func limits(l kp.Limits) Rec {
	return Rec{
		{"maxBolus", Int(l.MaxBolus)},
		{"maxBasal", Int(l.MaxBasal)},
		{"maxIOB", Int(l.MaxIOB)},
		{"maxDaily", Int(l.MaxDaily)},
		{"minBolusInterval", Int(l.MinBolusInterval)},
		{"suspendBelow", Int(l.SuspendBelow)},
		{"scheduledBasal", Int(l.ScheduledBasal)},
	}
}

func pre(s kp.State, bolusRunning bool) Rec {
	return Rec{
		{"mode", Str(s.Mode.String())},
		{"now", Int(s.NowMs)},
		{"lastCounter", Int(s.Guard.LastCounter)},
		{"limits", limits(s.Limits)},
		{"haveGlucose", Bool(s.HaveGlucose)},
		{"glucose", Int(s.Glucose)},
		{"glucoseAt", Int(s.GlucoseAtMs)},
		{"haveBolus", Bool(s.HaveBolus)},
		{"lastBolusAt", Int(s.LastBolusAtMs)},
		{"reservoir", Int(s.ReservoirCU)},
		{"bolusRunning", Bool(bolusRunning)},
	}
}

func outRec(stop bool, alerts []string, basal, bolus units.CentiUnits, decision, answer string) Rec {
	as := make(Set, len(alerts))
	for i, a := range alerts {
		as[i] = Str(a)
	}
	return Rec{
		{"stop", Bool(stop)},
		{"alerts", as},
		{"basal", Int(basal)},
		{"bolus", Int(bolus)},
		{"decision", Str(decision)},
		{"switch", Str(answer)},
	}
}

// RoleName is the spec's name of a signer role.
func RoleName(r guard.Role) string {
	switch r {
	case guard.RoleNone:
		return "none"
	case guard.RoleClinician:
		return "clinician"
	case guard.RoleManufacturer:
		return "manufacturer"
	case guard.RoleRelay:
		return "relay"
	case guard.RoleImplant:
		return "implant"
	}
	return fmt.Sprintf("role-%d", r)
}

// VerdictName is the spec's name of a verdict.
func VerdictName(v guard.Verdict) string {
	switch v {
	case guard.VerdictAbsent:
		return "absent"
	case guard.VerdictWithin:
		return "within"
	case guard.VerdictOutside:
		return "outside"
	}
	return fmt.Sprintf("verdict-%d", v)
}

func noCmd() Rec { return cmdRec(kp.Command{}, "none") }

func cmdRec(c kp.Command, kind string) Rec {
	return Rec{
		{"kind", Str(kind)},
		{"signer", Str(RoleName(c.Header.Signer))},
		{"counter", Int(c.Header.Counter)},
		{"issued", Int(c.Header.IssuedAtMs)},
		{"expires", Int(c.Header.ExpiresAtMs)},
		{"verdict", Str(VerdictName(c.Verdict))},
		{"amount", Int(c.Amount)},
		{"rate", Int(c.Rate)},
		{"duration", Int(c.DurationMs)},
		{"limits", limits(c.Limits)},
	}
}

func noInput() Rec {
	return inputRec("none", 0, "none", 0, 0, 0, noCmd())
}

func inputRec(kind string, at units.Millis, hal string, level units.CentiUnits, g units.MgDL, gAt units.Millis, cmd Rec) Rec {
	return switchRec(kind, at, hal, level, g, gAt, cmd, 0)
}

func switchRec(kind string, at units.Millis, hal string, level units.CentiUnits, g units.MgDL, gAt units.Millis, cmd Rec, switchMs units.Millis) Rec {
	return Rec{
		{"kind", Str(kind)},
		{"at", Int(at)},
		{"hal", Str(hal)},
		{"level", Int(level)},
		{"glucose", Int(g)},
		{"glucoseAt", Int(gAt)},
		{"cmd", cmd},
		{"switchMs", Int(switchMs)},
	}
}

// input maps a kernel input; prevNow tells a clock that went back.
func input(in kp.Input, prevNow units.Millis) Rec {
	if in.NowMs < prevNow {
		// The spec's ClockBack records only that time went back, as now - 1:
		// the kernel faults whatever the input and its time were.
		return inputRec("clock-back", prevNow-1, "none", 0, 0, 0, noCmd())
	}
	switch in.Kind {
	case kp.InTick:
		return inputRec("tick", in.NowMs, "none", 0, 0, 0, noCmd())
	case kp.InGlucose:
		return inputRec("glucose", in.NowMs, "none", 0, in.Glucose, in.GlucoseAtMs, noCmd())
	case kp.InHAL:
		return inputRec("hal", in.NowMs, in.HAL.String(), in.ReservoirCU, 0, 0, noCmd())
	case kp.InCommand:
		return inputRec("command", in.NowMs, "none", 0, 0, 0, cmdRec(in.Cmd, in.Cmd.Kind.String()))
	case kp.InSwitchRequest:
		return switchRec("switch", in.NowMs, "none", 0, 0, 0, noCmd(), in.SwitchMs)
	}
	return inputRec("none", in.NowMs, "none", 0, 0, 0, noCmd())
}
