// Package pump is the exhaustive model check of the insulin-pump kernel: it
// drives the real kernel (kernel/pump) over a bounded domain of inputs and
// checks every invariant of spec/InsulinPump.tla after every Step, through
// the reference observer model/pumpinv.
//
// Bounded domain (the spec's small constants, spec/InsulinPump.cfg): time in
// 5 min ticks up to a horizon, 10 min buckets, a 20 min rolling window, a
// 10 min insulin action, one programmable limit set and one out-of-range set,
// two bolus sizes, two temporary rates, low and normal glucose, every HAL
// event, firmware slot-switch requests (a blackout at the maximum, one ms
// above it, and none), and for commands: fresh, replayed, unsigned, wrongly signed and
// expired headers with every verdict (within, outside, absent), and counters
// exactly the step above the last (admitted) and one past it (refused as a
// jump, CMD-COUNTER-STEP).
//
// Counter abstraction: every generated command's counter is relative to the
// last one consumed (a replay of it, last + 1, last + guard.MaxCounterStep
// or last + guard.MaxCounterStep + 1), so the kernel's behaviour depends on
// counters only through "has a command been admitted"; the state key keeps
// that bit instead of the number. Time is kept exactly.
package pump

import (
	"encoding/binary"
	"fmt"

	"github.com/implantfhe/implantfhe/kernel/guard"
	kp "github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/model/explore"
	"github.com/implantfhe/implantfhe/model/pumpinv"
)

// Tick is the model's time step.
const Tick = 5 * units.Minute

// Config is the bounded kernel configuration of the model check.
func Config() kp.Config {
	return kp.Config{
		Profile:              kp.ProfileChild,
		WindowMs:             20 * units.Minute,
		BucketMs:             10 * units.Minute,
		InsulinActionMs:      10 * units.Minute,
		GlucoseStaleMs:       10 * units.Minute,
		MaxCommandValidityMs: 10 * units.Minute,
		MinTempBasalMs:       10 * units.Minute,
		MaxTempBasalMs:       20 * units.Minute,
		MaxSwitchMs:          30 * units.Second,
	}
}

// GoodLimits is the in-range limit set the model programs.
var GoodLimits = kp.Limits{
	MaxBolus: 20, MaxBasal: 120, MaxIOB: 35, MaxDaily: 25,
	MinBolusInterval: 10 * units.Minute, SuspendBelow: 70, ScheduledBasal: 60,
}

// BadLimits is out of range (max bolus above the child hard limit of 5 U).
var BadLimits = kp.Limits{
	MaxBolus: 600, MaxBasal: 120, MaxIOB: 35, MaxDaily: 25,
	MinBolusInterval: 10 * units.Minute, SuspendBelow: 70, ScheduledBasal: 60,
}

// State is a kernel state with the observer's ghost.
type State struct {
	K kp.State
	G pumpinv.Ghost
	// Events counts the inputs since the last tick; System.PerTick bounds it.
	Events int
}

// System is the pump kernel over the bounded domain.
type System struct {
	Cfg     kp.Config
	Horizon units.Millis
	// Full adds the rarer command variants (wrong role, temp basal over the
	// clamp, set basal, cancel); the CI run uses it.
	Full bool
	// PerTick bounds the inputs between two ticks, to keep the interleavings
	// finite and small; every order of up to PerTick inputs is explored.
	PerTick int
	// Accounting restricts the inputs to the ones that lead to delivery and
	// programs AccountingLimits, so that every delivery limit refuses
	// something within the horizon (see NewAccounting).
	Accounting bool
	// Reached, when not nil, collects every decision and alert reason the
	// kernel gave during the exploration (coverage of the refusals).
	Reached map[reason.Code]int
	// Switches, when not nil, counts the answers to slot-switch requests
	// by reason (reason.OK: granted).
	Switches map[reason.Code]int
	// StopAtFirst ends the check at the first violation (cmd/mutants).
	StopAtFirst bool
}

// AccountingLimits make the insulin-on-board and bolus-interval rules bind
// before the daily maximum, and the daily maximum within the horizon.
var AccountingLimits = kp.Limits{
	MaxBolus: 20, MaxBasal: 120, MaxIOB: 15, MaxDaily: 20,
	MinBolusInterval: 15 * units.Minute, SuspendBelow: 70, ScheduledBasal: 60,
}

// NewAccounting is the second bounded domain of `make model`: only the
// inputs that lead to delivery, two inputs between ticks, a 60 min horizon,
// and limits under which bolus-too-soon, iob-over-max and daily-over-max
// are all reachable (the default domain, one input per tick, cannot reach
// the first two; TLC showed the same of the spec's default config).
func NewAccounting() *System {
	return &System{Cfg: Config(), Horizon: 60 * units.Minute, PerTick: 2, Accounting: true}
}

// New returns the model with its default horizon.
func New() *System { return &System{Cfg: Config(), Horizon: 40 * units.Minute, Full: true, PerTick: 1} }

// Initial is a pump at power-on.
func (m *System) Initial() []State { return []State{{K: kp.NewState()}} }

// Key encodes the state; see the package doc for the counter abstraction.
func (m *System) Key(s State) string {
	k := s.K
	b := make([]byte, 0, 160)
	put := func(v int64) { b = binary.AppendVarint(b, v) }
	flag := func(x bool) int64 {
		if x {
			return 1
		}
		return 0
	}
	put(int64(s.Events))
	put(int64(k.Mode))
	put(int64(k.Limits.MaxBolus))
	put(int64(k.Limits.ScheduledBasal))
	put(flag(k.Guard.LastCounter > 0))
	put(int64(k.NowMs))
	put(flag(k.HaveGlucose))
	put(int64(k.Glucose))
	put(int64(k.GlucoseAtMs))
	put(flag(k.TempActive))
	put(int64(k.TempRate))
	put(int64(k.TempUntilMs))
	put(k.BasalAccum)
	put(int64(k.LastWithheld))
	put(flag(k.HaveBolus))
	put(int64(k.LastBolusAtMs))
	put(int64(k.ReservoirCU))
	put(k.Epoch)
	for i := 0; i < int(m.Cfg.WindowMs/m.Cfg.BucketMs)+1; i++ {
		put(int64(k.Ring[i]))
	}
	g := s.G
	put(flag(g.HaveBolus))
	put(int64(g.LastBolusAtMs))
	put(flag(g.HaveReservoir))
	put(int64(g.ReservoirKnown))
	put(flag(g.HaveGlucose))
	put(int64(g.Glucose))
	put(int64(g.GlucoseAtMs))
	put(flag(g.BolusRunning))
	put(int64(len(g.History)))
	for _, d := range g.History {
		put(int64(d.AtMs))
		put(int64(d.Amount))
		put(flag(d.Bolus))
	}
	return string(b)
}

// Input is a labelled kernel input.
type Input struct {
	Label string
	In    kp.Input
}

// Inputs lists every input the model offers in state s.
func (m *System) Inputs(s State) []Input {
	now := s.K.NowMs
	var ins []Input
	add := func(label string, in kp.Input) {
		in.NowMs = now
		ins = append(ins, Input{Label: fmt.Sprintf("t=%dmin %s", now/units.Minute, label), In: in})
	}
	if now+Tick <= m.Horizon {
		in := kp.Input{Kind: kp.InTick, NowMs: now + Tick}
		ins = append(ins, Input{Label: fmt.Sprintf("t=%dmin tick", (now+Tick)/units.Minute), In: in})
	}
	if s.Events >= m.PerTick {
		return ins
	}
	if m.Accounting {
		m.accountingInputs(s, add)
		return ins
	}
	add("glucose 120", kp.Input{Kind: kp.InGlucose, Glucose: 120, GlucoseAtMs: now})
	add("glucose 50", kp.Input{Kind: kp.InGlucose, Glucose: 50, GlucoseAtMs: now})
	add("hal delivery-done", kp.Input{Kind: kp.InHAL, HAL: kp.HALDeliveryDone})
	add("hal occlusion", kp.Input{Kind: kp.InHAL, HAL: kp.HALOcclusion})
	add("hal motor-fault", kp.Input{Kind: kp.InHAL, HAL: kp.HALMotorFault})
	add("hal watchdog", kp.Input{Kind: kp.InHAL, HAL: kp.HALWatchdog})
	add("hal reservoir 100", kp.Input{Kind: kp.InHAL, HAL: kp.HALReservoir, ReservoirCU: 100})
	add("hal reservoir 0", kp.Input{Kind: kp.InHAL, HAL: kp.HALReservoir, ReservoirCU: 0})
	m.switchRequest(add, m.Cfg.MaxSwitchMs)
	if m.Full {
		m.switchRequest(add, m.Cfg.MaxSwitchMs+1)
		m.switchRequest(add, 0)
	}

	last := s.G.MaxSignedCounter
	fresh := guard.Header{Counter: last + 1, IssuedAtMs: now, ExpiresAtMs: now + 5*units.Minute, Signer: guard.RoleClinician}
	cmd := func(label string, h guard.Header, c kp.Command) {
		c.Header = h
		add(label, kp.Input{Kind: kp.InCommand, Cmd: c})
	}
	bolus := func(amt units.CentiUnits, v guard.Verdict) kp.Command {
		return kp.Command{Kind: kp.CmdBolus, Amount: amt, Verdict: v}
	}
	cmd("program good limits", fresh, kp.Command{Kind: kp.CmdProgramLimits, Limits: GoodLimits})
	cmd("program bad limits", fresh, kp.Command{Kind: kp.CmdProgramLimits, Limits: BadLimits})
	cmd("bolus 10 verdict=within", fresh, bolus(10, guard.VerdictWithin))
	cmd("bolus 30 verdict=within (lie)", fresh, bolus(30, guard.VerdictWithin))
	cmd("bolus 10 verdict=outside (lie)", fresh, bolus(10, guard.VerdictOutside))
	cmd("bolus 30 verdict=outside", fresh, bolus(30, guard.VerdictOutside))
	cmd("bolus 10 verdict=absent", fresh, bolus(10, guard.VerdictAbsent))
	cmd("suspend", fresh, kp.Command{Kind: kp.CmdSuspend})
	cmd("resume", fresh, kp.Command{Kind: kp.CmdResume})
	cmd("ack-alarm", fresh, kp.Command{Kind: kp.CmdAckAlarm})
	cmd("temp-basal 120/10min verdict=within", fresh, kp.Command{Kind: kp.CmdTempBasal, Rate: 120, DurationMs: 10 * units.Minute, Verdict: guard.VerdictWithin})
	if last > 0 {
		replay := fresh
		replay.Counter = last
		cmd("REPLAY bolus 10 verdict=within", replay, bolus(10, guard.VerdictWithin))
	}
	unsigned := fresh
	unsigned.Signer = guard.RoleNone
	cmd("UNSIGNED bolus 10 verdict=within", unsigned, bolus(10, guard.VerdictWithin))
	// CMD-COUNTER-STEP: a counter exactly the step above the last is
	// admitted, one more is a jump, refused without consuming it.
	atStep := fresh
	atStep.Counter = last + guard.MaxCounterStep
	cmd("bolus 10 counter=last+step verdict=within", atStep, bolus(10, guard.VerdictWithin))
	jump := fresh
	jump.Counter = last + guard.MaxCounterStep + 1
	cmd("JUMP bolus 10 counter=last+step+1 verdict=within", jump, bolus(10, guard.VerdictWithin))
	if now >= 10*units.Minute {
		expired := fresh
		expired.IssuedAtMs, expired.ExpiresAtMs = now-10*units.Minute, now
		cmd("EXPIRED bolus 10 verdict=within", expired, bolus(10, guard.VerdictWithin))
	}
	if m.Full {
		relay := fresh
		relay.Signer = guard.RoleRelay
		cmd("RELAY-SIGNED bolus 10 verdict=within", relay, bolus(10, guard.VerdictWithin))
		cmd("temp-basal 240/10min verdict=within (lie)", fresh, kp.Command{Kind: kp.CmdTempBasal, Rate: 240, DurationMs: 10 * units.Minute, Verdict: guard.VerdictWithin})
		cmd("set-basal 120 verdict=within", fresh, kp.Command{Kind: kp.CmdSetBasal, Rate: 120, Verdict: guard.VerdictWithin})
		cmd("cancel-temp-basal", fresh, kp.Command{Kind: kp.CmdCancelTempBasal})
	}
	return ins
}

// Successors steps the real kernel on every input and checks the invariants.
func (m *System) Successors(s State) []explore.Step[State] {
	ins := m.Inputs(s)
	out := make([]explore.Step[State], 0, len(ins))
	for _, in := range ins {
		nxt, vs := m.Apply(s, in.In)
		if in.In.Kind == kp.InTick {
			nxt.Events = 0
		} else {
			nxt.Events = s.Events + 1
		}
		st := explore.Step[State]{Label: in.Label, Next: nxt}
		for _, v := range vs {
			st.Violations = append(st.Violations, v.Error())
		}
		out = append(out, st)
	}
	return out
}

func (m *System) accountingInputs(s State, add func(string, kp.Input)) {
	now := s.K.NowMs
	fresh := guard.Header{Counter: s.G.MaxSignedCounter + 1, IssuedAtMs: now, ExpiresAtMs: now + 5*units.Minute, Signer: guard.RoleClinician}
	cmd := func(label string, c kp.Command) {
		c.Header = fresh
		add(label, kp.Input{Kind: kp.InCommand, Cmd: c})
	}
	add("glucose 120", kp.Input{Kind: kp.InGlucose, Glucose: 120, GlucoseAtMs: now})
	add("hal delivery-done", kp.Input{Kind: kp.InHAL, HAL: kp.HALDeliveryDone})
	add("hal reservoir 100", kp.Input{Kind: kp.InHAL, HAL: kp.HALReservoir, ReservoirCU: 100})
	m.switchRequest(add, m.Cfg.MaxSwitchMs)
	cmd("program accounting limits", kp.Command{Kind: kp.CmdProgramLimits, Limits: AccountingLimits})
	cmd("bolus 10 verdict=within", kp.Command{Kind: kp.CmdBolus, Amount: 10, Verdict: guard.VerdictWithin})
	cmd("bolus 5 verdict=within", kp.Command{Kind: kp.CmdBolus, Amount: 5, Verdict: guard.VerdictWithin})
}

// switchRequest offers a firmware slot-switch request declaring a blackout
// of d (PUMP-UPDATE-SWITCH). A grant changes no kernel state, so the time
// after it is the model's ordinary time: the next tick comes TickMs later,
// longer than any blackout the kernel may grant.
func (m *System) switchRequest(add func(string, kp.Input), d units.Millis) {
	add(fmt.Sprintf("switch-request %dms", d), kp.Input{Kind: kp.InSwitchRequest, SwitchMs: d})
}

// Apply steps the kernel and the observer.
func (m *System) Apply(s State, in kp.Input) (State, []pumpinv.Violation) {
	k, outs := kp.Step(&m.Cfg, s.K, in)
	for _, o := range outs.All() {
		switch {
		case m.Reached != nil && (o.Kind == kp.OutDecision || o.Kind == kp.OutAlert):
			m.Reached[o.Reason]++
		case m.Switches != nil && o.Kind == kp.OutSwitch:
			m.Switches[o.Reason]++
		}
	}
	g := s.G.Clone()
	vs := pumpinv.Observe(&m.Cfg, &g, s.K, in, outs, k)
	return State{K: k, G: g}, vs
}

// Check runs the exhaustive exploration.
func Check(m *System) (explore.Result, error) {
	return explore.Run[State](m, explore.Options{MaxStates: 20_000_000, StopAtFirst: m.StopAtFirst})
}
