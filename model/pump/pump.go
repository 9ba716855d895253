// Package pump is the exhaustive model check of the insulin-pump kernel: it
// drives the real kernel (kernel/pump) over a bounded domain of inputs and
// checks every invariant of spec/InsulinPump.tla after every Step, through
// the reference observer model/pumpinv.
//
// Bounded domain (the spec's small constants, spec/InsulinPump.cfg): time in
// 5 min ticks up to a 30 min horizon, 10 min buckets, a 20 min rolling
// window, a 10 min insulin action; one programmable limit set (GoodLimits)
// explored and one out-of-range set; values at, below and above each limit:
// boluses of 0, cap - 1, cap and cap + 1 with honest and lying verdicts,
// temporary rates at the 3 x scheduled clamp and above it, durations 1 ms
// outside and at each end of their range, scheduled basal at and above the
// maximum, glucose at the suspend threshold and 1 below, a reservoir holding
// the cap; every HAL event; firmware slot-switch requests (a blackout at the
// maximum, one ms above it, and none); and for commands: fresh, replayed,
// unsigned, wrongly signed, expired, future-issued, over-long, empty-window
// and maximum-validity headers with every verdict, and counters exactly the
// step above the last (admitted) and one past it (refused as a jump,
// CMD-COUNTER-STEP). Probes (Probes) are checked from every state without
// exploring their successors: programming each EdgeLimits set (each range
// at and one beyond both ends, the cross-parameter rule), a clock going
// back by 1 ms, and memory corruption in every mode (Corruptions).
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

// GoodLimits is the in-range limit set the model programs and explores.
// Its values sit where the rules bind inside the horizon: the 3 x
// scheduled-basal clamp of a temporary rate (3 x 30 = 90) lies below the
// maximum basal (120), and the minimum bolus interval is 1 ms off the
// 5 min grid, so that boluses 10 min apart are 1 ms too soon and an
// off-by-one in the interval check shows.
var GoodLimits = kp.Limits{
	MaxBolus: 20, MaxBasal: 120, MaxIOB: 35, MaxDaily: 25,
	MinBolusInterval: 10*units.Minute + 1, SuspendBelow: 70, ScheduledBasal: 30,
}

// BadLimits is out of range (max bolus above the child hard limit of 5 U).
var BadLimits = kp.Limits{
	MaxBolus: 600, MaxBasal: 120, MaxIOB: 35, MaxDaily: 25,
	MinBolusInterval: 10 * units.Minute, SuspendBelow: 70, ScheduledBasal: 60,
}

// EdgeLimits are the limit sets the model offers from every state as
// probes (see System.Successors): each programmable range at its lower and
// upper end (accepted), one step beyond each end (refused), and the
// cross-parameter rule (scheduled basal at and above the maximum basal).
// PUMP-LIMITS-RANGE.
func EdgeLimits(cfg kp.Config) []LabelledLimits {
	h, _ := kp.Hard(cfg.Profile)
	low := kp.Limits{MaxBolus: 10, MaxBasal: 1, MaxIOB: 1, MaxDaily: 1, MinBolusInterval: 0, SuspendBelow: 67, ScheduledBasal: 0}
	high := kp.Limits{MaxBolus: h.MaxBolus, MaxBasal: h.MaxBasal, MaxIOB: h.MaxIOB, MaxDaily: h.MaxDaily,
		MinBolusInterval: cfg.WindowMs, SuspendBelow: 110, ScheduledBasal: h.MaxBasal}
	with := func(l kp.Limits, f func(*kp.Limits)) kp.Limits { f(&l); return l }
	return []LabelledLimits{
		{"lower edges", low},
		{"upper edges", high},
		{"max bolus 9", with(low, func(l *kp.Limits) { l.MaxBolus = 9 })},
		{"max bolus hard+1", with(high, func(l *kp.Limits) { l.MaxBolus = h.MaxBolus + 1 })},
		{"max basal 0", with(low, func(l *kp.Limits) { l.MaxBasal = 0 })},
		{"max basal hard+1", with(high, func(l *kp.Limits) { l.MaxBasal = h.MaxBasal + 1 })},
		{"max IOB 0", with(low, func(l *kp.Limits) { l.MaxIOB = 0 })},
		{"max IOB hard+1", with(high, func(l *kp.Limits) { l.MaxIOB = h.MaxIOB + 1 })},
		{"max daily 0", with(low, func(l *kp.Limits) { l.MaxDaily = 0 })},
		{"max daily hard+1", with(high, func(l *kp.Limits) { l.MaxDaily = h.MaxDaily + 1 })},
		{"bolus interval -1", with(low, func(l *kp.Limits) { l.MinBolusInterval = -1 })},
		{"bolus interval window+1", with(high, func(l *kp.Limits) { l.MinBolusInterval = cfg.WindowMs + 1 })},
		{"suspend below 66", with(low, func(l *kp.Limits) { l.SuspendBelow = 66 })},
		{"suspend below 111", with(high, func(l *kp.Limits) { l.SuspendBelow = 111 })},
		{"scheduled basal -1", with(low, func(l *kp.Limits) { l.ScheduledBasal = -1 })},
		{"scheduled basal max basal+1", with(GoodLimits, func(l *kp.Limits) { l.ScheduledBasal = l.MaxBasal + 1 })},
		{"scheduled basal = max basal", with(GoodLimits, func(l *kp.Limits) { l.ScheduledBasal = l.MaxBasal })},
	}
}

// LabelledLimits is a limit set with its name in counterexamples.
type LabelledLimits struct {
	Label  string
	Limits kp.Limits
}

// Corruptions are the memory corruptions the model injects, as probes, in
// every state: each makes a state the kernel itself could never produce
// (FAULT-SAFE: the next Step must go to Fault, stop, alert and keep the
// consumed counter). Limits out of range count as corruption only where
// the kernel relies on them (not in Init or Fault).
func Corruptions(k kp.State) []Corruption {
	cs := []Corruption{
		{"mode out of range", func(s *kp.State) { s.Mode = kp.Mode(kp.NumModes) }},
		{"reservoir -1", func(s *kp.State) { s.ReservoirCU = -1 }},
		{"basal carry -1", func(s *kp.State) { s.BasalAccum = -1 }},
		{"basal carry one hour", func(s *kp.State) { s.BasalAccum = int64(units.Hour) }},
		{"temp rate above clamp", func(s *kp.State) { s.TempActive, s.TempRate = true, 201 }},
		{"epoch off by one", func(s *kp.State) { s.Epoch++ }},
		{"ring slot -1", func(s *kp.State) { s.Ring[0] = -1 }},
	}
	if k.Mode != kp.ModeInit && k.Mode != kp.ModeFault {
		cs = append(cs, Corruption{"limits out of range", func(s *kp.State) { s.Limits.MaxBolus = 501 }})
	}
	return cs
}

// Corruption names a change of the kernel's state.
type Corruption struct {
	Label string
	Apply func(*kp.State)
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
// The bolus interval is 1 ms off the 5 min grid: a bolus 10 min after the
// last is 1 ms too soon, with room left in the window and on board for it,
// so an off-by-one in the interval check shows.
var AccountingLimits = kp.Limits{
	MaxBolus: 20, MaxBasal: 120, MaxIOB: 15, MaxDaily: 20,
	MinBolusInterval: 10*units.Minute + 1, SuspendBelow: 70, ScheduledBasal: 60,
}

// NewAccounting is the second bounded domain of `make model`: only the
// inputs that lead to delivery, two inputs between ticks, a 60 min horizon,
// and limits under which bolus-too-soon, iob-over-max and daily-over-max
// are all reachable (the default domain, one input per tick, cannot reach
// the first two; TLC showed the same of the spec's default config).
func NewAccounting() *System {
	return &System{Cfg: Config(), Horizon: 60 * units.Minute, PerTick: 2, Accounting: true}
}

// New returns the model with its default horizon: 30 min, six ticks. The
// domain's values at, below and above each limit multiply the states per
// tick; 30 min still holds a whole rolling window (20 min) plus a tick
// after it, the longest temporary basal, and three bolus intervals.
func New() *System { return &System{Cfg: Config(), Horizon: 30 * units.Minute, Full: true, PerTick: 1} }

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
	l := k.Limits
	for _, v := range []int64{int64(l.MaxBolus), int64(l.MaxBasal), int64(l.MaxIOB), int64(l.MaxDaily),
		int64(l.MinBolusInterval), int64(l.SuspendBelow), int64(l.ScheduledBasal)} {
		put(v)
	}
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
	// Glucose at the suspend threshold of GoodLimits and one below it.
	add("glucose 70", kp.Input{Kind: kp.InGlucose, Glucose: 70, GlucoseAtMs: now})
	add("glucose 69", kp.Input{Kind: kp.InGlucose, Glucose: 69, GlucoseAtMs: now})
	add("hal delivery-done", kp.Input{Kind: kp.InHAL, HAL: kp.HALDeliveryDone})
	add("hal occlusion", kp.Input{Kind: kp.InHAL, HAL: kp.HALOcclusion})
	add("hal motor-fault", kp.Input{Kind: kp.InHAL, HAL: kp.HALMotorFault})
	add("hal watchdog", kp.Input{Kind: kp.InHAL, HAL: kp.HALWatchdog})
	add("hal reservoir 100", kp.Input{Kind: kp.InHAL, HAL: kp.HALReservoir, ReservoirCU: 100})
	// A reservoir holding the bolus cap: after a basal pulse it holds less
	// than the next bolus (PUMP-RESERVOIR at its limit).
	add("hal reservoir 20", kp.Input{Kind: kp.InHAL, HAL: kp.HALReservoir, ReservoirCU: 20})
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
	temp := func(rate units.CentiUnitsPerHour, d units.Millis) kp.Command {
		return kp.Command{Kind: kp.CmdTempBasal, Rate: rate, DurationMs: d, Verdict: guard.VerdictWithin}
	}
	// Bolus sizes at the cap of GoodLimits (20), one below and one above
	// (PUMP-MAX-BOLUS), and zero; honest and lying verdicts.
	cmd("program good limits", fresh, kp.Command{Kind: kp.CmdProgramLimits, Limits: GoodLimits})
	cmd("program bad limits", fresh, kp.Command{Kind: kp.CmdProgramLimits, Limits: BadLimits})
	cmd("bolus 19 verdict=within", fresh, bolus(19, guard.VerdictWithin))
	cmd("bolus 20 verdict=within", fresh, bolus(20, guard.VerdictWithin))
	cmd("bolus 21 verdict=within (lie)", fresh, bolus(21, guard.VerdictWithin))
	cmd("bolus 21 verdict=outside", fresh, bolus(21, guard.VerdictOutside))
	cmd("bolus 19 verdict=outside (lie)", fresh, bolus(19, guard.VerdictOutside))
	cmd("bolus 19 verdict=absent", fresh, bolus(19, guard.VerdictAbsent))
	cmd("bolus 0 verdict=within", fresh, bolus(0, guard.VerdictWithin))
	cmd("suspend", fresh, kp.Command{Kind: kp.CmdSuspend})
	cmd("resume", fresh, kp.Command{Kind: kp.CmdResume})
	cmd("ack-alarm", fresh, kp.Command{Kind: kp.CmdAckAlarm})
	// Temporary rates at the 3 x scheduled clamp (90 under GoodLimits) and
	// one above it; durations at, below and above [min, max]
	// (PUMP-MAX-BASAL, PUMP-TEMP-DURATION).
	cmd("temp-basal 90/10min verdict=within", fresh, temp(90, m.Cfg.MinTempBasalMs))
	cmd("temp-basal 91/10min verdict=within (lie)", fresh, temp(91, m.Cfg.MinTempBasalMs))
	cmd("temp-basal 90/20min verdict=within", fresh, temp(90, m.Cfg.MaxTempBasalMs))
	cmd("temp-basal 90/10min-1ms verdict=within", fresh, temp(90, m.Cfg.MinTempBasalMs-1))
	cmd("temp-basal 90/20min+1ms verdict=within", fresh, temp(90, m.Cfg.MaxTempBasalMs+1))
	if last > 0 {
		replay := fresh
		replay.Counter = last
		cmd("REPLAY bolus 19 verdict=within", replay, bolus(19, guard.VerdictWithin))
	}
	unsigned := fresh
	unsigned.Signer = guard.RoleNone
	cmd("UNSIGNED bolus 19 verdict=within", unsigned, bolus(19, guard.VerdictWithin))
	// CMD-COUNTER-STEP: a counter exactly the step above the last is
	// admitted, one more is a jump, refused without consuming it.
	atStep := fresh
	atStep.Counter = last + guard.MaxCounterStep
	cmd("bolus 19 counter=last+step verdict=within", atStep, bolus(19, guard.VerdictWithin))
	jump := fresh
	jump.Counter = last + guard.MaxCounterStep + 1
	cmd("JUMP bolus 19 counter=last+step+1 verdict=within", jump, bolus(19, guard.VerdictWithin))
	// CMD-EXPIRY: expired (its window ends now), valid for exactly the
	// maximum, 1 ms longer, an empty window, issued 1 ms in the future.
	if now >= 10*units.Minute {
		expired := fresh
		expired.IssuedAtMs, expired.ExpiresAtMs = now-10*units.Minute, now
		cmd("EXPIRED bolus 19 verdict=within", expired, bolus(19, guard.VerdictWithin))
	}
	maxValid := fresh
	maxValid.ExpiresAtMs = now + m.Cfg.MaxCommandValidityMs
	cmd("bolus 19 valid for the maximum verdict=within", maxValid, bolus(19, guard.VerdictWithin))
	tooLong := fresh
	tooLong.ExpiresAtMs = now + m.Cfg.MaxCommandValidityMs + 1
	cmd("TOO-LONG bolus 19 valid for max+1ms verdict=within", tooLong, bolus(19, guard.VerdictWithin))
	empty := fresh
	empty.ExpiresAtMs = now
	cmd("EMPTY-WINDOW bolus 19 verdict=within", empty, bolus(19, guard.VerdictWithin))
	future := fresh
	future.IssuedAtMs, future.ExpiresAtMs = now+1, now+5*units.Minute
	cmd("FUTURE bolus 19 issued now+1ms verdict=within", future, bolus(19, guard.VerdictWithin))
	if m.Full {
		relay := fresh
		relay.Signer = guard.RoleRelay
		cmd("RELAY-SIGNED bolus 19 verdict=within", relay, bolus(19, guard.VerdictWithin))
		cmd("temp-basal 120/20min verdict=within (lie)", fresh, temp(120, m.Cfg.MaxTempBasalMs))
		// Scheduled basal at the maximum basal, above it, and back to 30.
		cmd("set-basal 120 verdict=within", fresh, kp.Command{Kind: kp.CmdSetBasal, Rate: 120, Verdict: guard.VerdictWithin})
		cmd("set-basal 121 verdict=within (lie)", fresh, kp.Command{Kind: kp.CmdSetBasal, Rate: 121, Verdict: guard.VerdictWithin})
		cmd("set-basal 30 verdict=within", fresh, kp.Command{Kind: kp.CmdSetBasal, Rate: 30, Verdict: guard.VerdictWithin})
		cmd("cancel-temp-basal", fresh, kp.Command{Kind: kp.CmdCancelTempBasal})
	}
	return ins
}

// Probes lists the inputs the model checks from every state without
// exploring what follows them: programming every EdgeLimits set, a clock
// that goes back by 1 ms, and every memory corruption (Corruptions). Their
// successors are either the state itself (a refused program), a state of
// Fault (clock, corruption), or a region of limits the explored domain
// does not program; the observer checks the step itself, so a rule that
// decides them wrongly still shows. Keeping them out of the exploration
// keeps the state space to the regions that GoodLimits reaches.
func (m *System) Probes(s State) []Probe {
	if s.Events >= m.PerTick || m.Accounting {
		return nil
	}
	now := s.K.NowMs
	var ps []Probe
	fresh := guard.Header{Counter: s.G.MaxSignedCounter + 1, IssuedAtMs: now, ExpiresAtMs: now + 5*units.Minute, Signer: guard.RoleClinician}
	for _, l := range EdgeLimits(m.Cfg) {
		ps = append(ps, Probe{Label: fmt.Sprintf("t=%dmin PROBE program limits (%s)", now/units.Minute, l.Label),
			State: s, In: kp.Input{Kind: kp.InCommand, NowMs: now, Cmd: kp.Command{Header: fresh, Kind: kp.CmdProgramLimits, Limits: l.Limits}}})
	}
	if now > 0 {
		ps = append(ps, Probe{Label: fmt.Sprintf("t=%dmin PROBE clock back 1 ms", now/units.Minute), State: s, In: kp.Input{Kind: kp.InTick, NowMs: now - 1}})
	}
	for _, c := range Corruptions(s.K) {
		cs := s
		c.Apply(&cs.K)
		cs.G.Corrupted = true
		ps = append(ps, Probe{Label: fmt.Sprintf("t=%dmin PROBE corruption (%s), then tick", now/units.Minute, c.Label), State: cs, In: kp.Input{Kind: kp.InTick, NowMs: now}})
	}
	return ps
}

// Probe is an input checked from a state without exploring its successor.
type Probe struct {
	Label string
	State State // the state the input is applied to (corrupted for a corruption probe)
	In    kp.Input
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
	// A probe is a self-loop in the exploration: its step is checked, its
	// successor not explored.
	for _, p := range m.Probes(s) {
		_, vs := m.Apply(p.State, p.In)
		st := explore.Step[State]{Label: p.Label, Next: s}
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
