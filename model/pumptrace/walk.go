package pumptrace

import (
	"fmt"
	"math/rand/v2"
	"strings"

	kp "github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/units"
	mpump "github.com/implantfhe/implantfhe/model/pump"
)

// Walk bounds: the model's 5 min ticks over one hour, at most two inputs
// between ticks, so that a walk of a few dozen steps stays inside the
// horizon and reaches basal, bolus and window accounting.
const (
	WalkHorizon = 60 * units.Minute
	WalkPerTick = 2
)

// NewSystem is the bounded model the walks run on: model/pump's System with
// the walk's horizon and inputs per tick.
func NewSystem() *mpump.System {
	m := mpump.New()
	m.Horizon = WalkHorizon
	m.PerTick = WalkPerTick
	return m
}

// Trace is one recorded walk.
type Trace struct {
	Seed   uint64
	Steps  int
	System *mpump.System
	Rec    *Recorder
	Inputs []kp.Input
}

// Walk runs the kernel from power-on for up to steps inputs chosen by a
// seeded random walk over the model's inputs (weighted towards the inputs
// that make the pump deliver). It stops early when the model offers no
// input (the horizon is reached). Any requirement violation that the
// reference observer (model/pumpinv) reports is returned as an error.
func Walk(m *mpump.System, seed uint64, steps int) (*Trace, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := m.Initial()[0]
	t := &Trace{Seed: seed, Steps: steps, System: m, Rec: NewRecorder(&m.Cfg, s.K)}
	for len(t.Inputs) < steps {
		ins := m.Inputs(s)
		if len(ins) == 0 {
			break
		}
		in := pick(rng, s, ins)
		nxt, vs := m.Apply(s, in.In)
		if len(vs) > 0 {
			return t, fmt.Errorf("pumptrace: seed %d step %d (%s): %v", seed, len(t.Inputs)+1, in.Label, vs)
		}
		_, outs := kp.Step(&m.Cfg, s.K, in.In)
		if in.In.Kind == kp.InTick {
			nxt.Events = 0
		} else {
			nxt.Events = s.Events + 1
		}
		t.Rec.Step(in.Label, s.K, in.In, outs, nxt.K)
		t.Inputs = append(t.Inputs, in.In)
		s = nxt
	}
	return t, nil
}

// pick chooses an input, strongly favouring the one that moves the pump
// towards delivering (program, fill, sense, bolus, finish, resume,
// acknowledge) and making faults rare, so that walks exercise basal and
// bolus accounting instead of ending in the Fault mode at once; a slot-switch
// request is likelier while a bolus runs, so that traces show refusals too.
func pick(rng *rand.Rand, s mpump.State, ins []mpump.Input) mpump.Input {
	k := s.K
	needGlucose := !k.HaveGlucose || k.Glucose < 70 || k.NowMs-k.GlucoseAtMs >= 5*units.Minute
	weight := func(label string) int {
		has := func(sub string) bool { return strings.Contains(label, sub) }
		attack := has("REPLAY") || has("UNSIGNED") || has("EXPIRED") || has("RELAY")
		needed := func(cond bool) int {
			if cond {
				return 40
			}
			return 2
		}
		switch {
		case strings.HasSuffix(label, " tick"):
			return 10
		case has("program good limits"):
			return needed(k.Mode == kp.ModeInit)
		case has("hal reservoir 100"):
			return needed(k.ReservoirCU < 30)
		case has("FUTURE"):
			// Issued after now: an issue age TLC's .cfg cannot write.
			return 0
		case has("glucose 70"):
			return needed(needGlucose)
		case has("bolus 19 verdict=within") && !attack:
			return needed(k.Mode == kp.ModeIdle)
		case has("delivery-done"):
			return needed(k.Mode == kp.ModeDelivering)
		case has("ack-alarm"):
			return needed(k.Mode == kp.ModeAlarm)
		case strings.HasSuffix(label, " resume"):
			return needed(k.Mode == kp.ModeSuspended)
		case has("motor-fault"), has("watchdog"):
			return 1
		case has("switch-request") && k.Mode == kp.ModeDelivering:
			return 20 // PUMP-UPDATE-SWITCH refuses while a bolus runs
		}
		return 2
	}
	total := 0
	for _, in := range ins {
		total += weight(in.Label)
	}
	x := rng.IntN(total)
	for _, in := range ins {
		x -= weight(in.Label)
		if x < 0 {
			return in
		}
	}
	return ins[len(ins)-1]
}
