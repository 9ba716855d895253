// Package pacer is the exhaustive model check of the pacemaker kernel: it
// drives the real kernel (kernel/pacer) against a non-deterministic heart
// and a hostile programmer, and checks every invariant of spec/Pacemaker.tla
// after every Step through the reference observer model/pacerinv.
//
// Bounded domain (spec/Pacemaker.cfg): time advances by Tick or straight to
// the kernel's announced wake-up, whichever is first; between two time
// advances at most one other input arrives: an atrial or ventricular sense,
// a HAL event (lead fault, watchdog, battery, magnet on/off), or a command
// (fresh, replayed, unsigned, relay-signed, expired, at exactly the counter
// step above the last or one past it (CMD-COUNTER-STEP); verdict within,
// outside, absent or lying) carrying one of a few programs with small
// intervals (LRL 150 ppm / URL 175 ppm, AV 70 ms, refractory 150 ms) next
// to the safe VVI 65 setting, or new patient limits (the full range, limits
// that admit only the fast programs, limits whose upper rate excludes them,
// and two malformed ones), or a firmware slot-switch request (a blackout at
// the maximum, exactly up to the kernel's lower-rate deadline, one ms past
// it, and in the full domain none and one ms above the maximum). An honest
// relay's verdict compares the program's LRL and URL with the patient's
// limits in force.
//
// After a granted switch the model simulates the blackout: no input at all
// until the firmware resumes and steps the kernel with a tick at the time
// the switch declared, with the kernel's state restored. The observer's
// PACE-LRL must hold across it (a pace made late by the blackout is the
// kernel's fault, not excused as a late firmware), which shows the grant
// condition suffices (PACE-UPDATE-SWITCH).
//
// Abstraction: the kernel's behaviour depends on absolute time only through
// differences, so the state key stores every time relative to now, capped
// just above the longest interval that any rule compares it with; and on
// counters only through "has a command been admitted" (every command's
// counter is relative to the last consumed one: a replay, +1, +MaxCounterStep
// or +MaxCounterStep+1). The reachable key
// space is therefore finite without a horizon: the check covers unbounded
// time.
package pacer

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/implantfhe/implantfhe/kernel/guard"
	kp "github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/model/explore"
	"github.com/implantfhe/implantfhe/model/pacerinv"
)

// Tick is the model's time step.
const Tick units.Millis = 20

// capMs bounds relative times in the key: above the longest lower-rate
// interval of the model (VVI 65: 923 ms) and every refractory period.
const capMs units.Millis = 1000

// Config is the kernel configuration of the model check.
func Config() kp.Config {
	c := kp.DefaultConfig()
	c.MaxCommandValidityMs = 200
	c.MaxTemporaryMs = 400
	return c
}

// fast is a Table 7 program with short intervals, so that a cycle is a few
// dozen model steps: LRL 150 ppm (400 ms), URL 175 ppm (343 ms), AV 70 ms,
// VRP/ARP/PVARP 150 ms.
func fast(m kp.PacingMode) kp.Params {
	p := kp.Nominal
	p.Mode, p.LRL, p.URL, p.AVDelayMs = m, 150, 175, 70
	p.VRPMs, p.ARPMs, p.PVARPMs = 150, 150, 150
	return p
}

// Programs the model's commands carry.
var (
	ProgDDD = fast(kp.ModeDDD)
	ProgVVI = fast(kp.ModeVVI)
	ProgAAI = fast(kp.ModeAAI)
	ProgOff = fast(kp.ModeOff)
	// ProgNotInTable has LRL 177 ppm, not a Table 7 value.
	ProgNotInTable = func() kp.Params { p := fast(kp.ModeVVI); p.LRL = 177; return p }()
	// ProgCross has LRL above URL.
	ProgCross = func() kp.Params { p := fast(kp.ModeDDD); p.LRL, p.URL = 175, 150; return p }()
	// Programs one step beyond a Table 7 range or at the edge of a
	// cross-parameter rule, all refused (PACE-PARAM-PROGRAMMABLE,
	// PACE-CROSS-PARAM): LRL 25 and 180 ppm (below 30, above 175), URL
	// 180 ppm (above 175),
	// LRL = URL = 175 (no whole-ms interval meets both: 342 < 60000/175 <
	// 343), DDD with the atrial amplitude Off, VVI with a VRP equal to the
	// lower-rate interval (400 ms at 150 ppm), DDD with AV delay + PVARP
	// equal to it (70 + 330 ms).
	ProgLRL25      = func() kp.Params { p := fast(kp.ModeVVI); p.LRL = 25; return p }()
	ProgLRL180     = func() kp.Params { p := fast(kp.ModeVVI); p.LRL = 180; return p }()
	ProgURL180     = func() kp.Params { p := fast(kp.ModeDDD); p.URL = 180; return p }()
	ProgLRLisURL   = func() kp.Params { p := fast(kp.ModeVVI); p.LRL, p.URL = 175, 175; return p }()
	ProgAAmpOff    = func() kp.Params { p := fast(kp.ModeDDD); p.AAmp = 0; return p }()
	ProgVRPAtLRI   = func() kp.Params { p := fast(kp.ModeVVI); p.VRPMs = 400; return p }()
	ProgPVARPAtLRI = func() kp.Params { p := fast(kp.ModeDDD); p.PVARPMs = 330; return p }()
)

// Patient limits the model's set-limits commands carry.
var (
	LimitsFull = kp.FullLimits
	// LimitsFast admit the fast programs but not the nominal one (LRL 60).
	LimitsFast = kp.Limits{MinLRL: 150, MaxURL: 175}
	// LimitsSlow admit the nominal program but not the fast ones (URL 175).
	LimitsSlow = kp.Limits{MinLRL: 30, MaxURL: 170}
	// LimitsOffTable has a minimum LRL of 33 ppm, not a Table 7 value.
	LimitsOffTable = kp.Limits{MinLRL: 33, MaxURL: 175}
	// LimitsInverted has MinLRL = MaxURL.
	LimitsInverted = kp.Limits{MinLRL: 150, MaxURL: 150}
	// LimitsURL180 has a maximum URL of 180 ppm, above Table 7.
	LimitsURL180 = kp.Limits{MinLRL: 30, MaxURL: 180}
)

// honest is the verdict of an honest relay: the program's LRL and URL
// compared with the patient's limits.
func honest(p kp.Params, l kp.Limits) guard.Verdict {
	if p.LRL >= l.MinLRL && p.URL <= l.MaxURL {
		return guard.VerdictWithin
	}
	return guard.VerdictOutside
}

// lie is the other verdict.
func lie(p kp.Params, l kp.Limits) guard.Verdict {
	if honest(p, l) == guard.VerdictWithin {
		return guard.VerdictOutside
	}
	return guard.VerdictWithin
}

// State is a kernel state with the observer's ghost.
type State struct {
	K kp.State
	G pacerinv.Ghost
	// Events counts the inputs since the last time advance.
	Events int
	// Blackout: the last Step granted a slot switch; the firmware is dark
	// until ResumeAtMs, when it steps the kernel again.
	Blackout   bool
	ResumeAtMs units.Millis
}

// System is the pacemaker kernel over the bounded domain.
type System struct {
	Cfg kp.Config
	// Full adds the rarer inputs (every lying verdict, temporary programs,
	// AAI and Off, battery, relay signatures); the CLI run uses it.
	Full bool
	// PerTick bounds the inputs between two time advances.
	PerTick int
	// Ignore lists requirement IDs whose violations are not reported: a
	// planted-bug test uses it to show that a second invariant catches the
	// same bug on its own.
	Ignore []string
	// Switches, when not nil, counts the answers to switch requests by
	// reason (reason.OK: granted).
	Switches map[reason.Code]int
	// StopAtFirst ends the check at the first violation (cmd/mutants).
	StopAtFirst bool
}

// New returns the model with its full domain.
func New() *System { return &System{Cfg: Config(), Full: true, PerTick: 1} }

// Initial is a pacemaker at power-on, with its observer.
func (m *System) Initial() []State {
	k := kp.NewState()
	return []State{{K: k, G: pacerinv.NewGhost(k)}}
}

func rel(now, t, limit units.Millis) int64 { return int64(min(now-t, limit)) }

// caps returns, for the parameters in force, how far back the last
// ventricular event, the last atrial event and the last atrial pace can
// still matter. A time matters up to the lower-rate interval only in the
// rate chamber (a change of rate chamber restarts that chamber's cycle);
// elsewhere up to the longest refractory period or AV delay of the model
// (320 ms), and the last atrial pace only for ventricular blanking.
func caps(cfg *kp.Config, p kp.Params) (v, a, apace units.Millis) {
	v, a = 330, 330
	switch p.Mode.RateChamber() {
	case kp.ChamberVentricle:
		v = capMs
	case kp.ChamberAtrium:
		a = capMs
	}
	return v, a, cfg.VBlankMs
}

func flag(x bool) int64 {
	if x {
		return 1
	}
	return 0
}

func putParams(put func(int64), p kp.Params) {
	put(int64(p.Mode))
	put(int64(p.LRL))
	put(int64(p.URL))
	put(int64(p.VPulse))
}

// Key encodes the state; see the package doc for the abstraction.
func (m *System) Key(s State) string {
	k, g := s.K, s.G
	now := k.NowMs
	b := make([]byte, 0, 96)
	put := func(v int64) { b = binary.AppendVarint(b, v) }
	put(int64(s.Events))
	put(flag(s.Blackout))
	if s.Blackout {
		put(int64(s.ResumeAtMs - now))
	}
	put(int64(k.Op))
	putParams(put, k.Perm)
	if k.Op == kp.OpTemporary {
		putParams(put, k.Temp)
		put(int64(max(k.TempUntilMs-now, 0)))
	}
	put(flag(k.HavePending))
	if k.HavePending {
		putParams(put, k.Pending)
		put(int64(k.PendingEv))
		put(int64(k.PendingDurationMs))
	}
	put(int64(k.Limits.MinLRL))
	put(int64(k.Limits.MaxURL))
	put(flag(k.Guard.LastCounter > 0))
	cv, ca, cap := caps(&m.Cfg, k.Active)
	put(rel(now, k.LastVMs, cv))
	put(rel(now, k.LastAMs, ca))
	put(flag(k.HaveAPace))
	put(rel(now, k.LastAPaceMs, cap))
	put(flag(k.AVPending))
	put(flag(g.MaxSignedCounter > 0))
	put(rel(now, g.LastVMs, cv))
	put(rel(now, g.LastAMs, ca))
	put(flag(g.HaveAPace))
	put(rel(now, g.LastAPaceMs, cap))
	put(flag(g.AVPending))
	put(rel(now, g.AnchorMs, capMs))
	put(int64(g.BoundLRL))
	put(int64(g.Limits.MinLRL))
	put(int64(g.Limits.MaxURL))
	put(flag(g.HaveWake))
	if g.HaveWake {
		put(int64(max(g.WakeAtMs-now, -1)))
	}
	put(flag(g.Switching))
	if g.Switching {
		put(int64(g.SwitchUntilMs - now))
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
	at := func(t units.Millis, label string, in kp.Input) {
		in.NowMs = t
		ins = append(ins, Input{Label: fmt.Sprintf("t=%dms %s", t, label), In: in})
	}
	add := func(label string, in kp.Input) { at(now, label, in) }
	if s.Blackout {
		// The firmware is switching slots: nothing happens until it resumes.
		at(s.ResumeAtMs, "resume after the slot switch", kp.Input{Kind: kp.InTick})
		return ins
	}
	// Time: one tick, or straight to the announced wake-up if it is sooner.
	next := now + Tick
	if s.G.HaveWake && s.G.WakeAtMs > now && s.G.WakeAtMs < next {
		next = s.G.WakeAtMs
	}
	at(next, "tick", kp.Input{Kind: kp.InTick})
	if s.Events >= m.PerTick {
		return ins
	}
	add("sense A", kp.Input{Kind: kp.InSense, Chamber: kp.ChamberAtrium})
	add("sense V", kp.Input{Kind: kp.InSense, Chamber: kp.ChamberVentricle})
	add("hal lead-fault", kp.Input{Kind: kp.InHAL, HAL: kp.HALLeadFault})
	add("hal magnet-on", kp.Input{Kind: kp.InHAL, HAL: kp.HALMagnetOn})
	add("hal magnet-off", kp.Input{Kind: kp.InHAL, HAL: kp.HALMagnetOff})
	sw := func(d units.Millis) {
		add(fmt.Sprintf("switch-request %dms", d), kp.Input{Kind: kp.InSwitchRequest, SwitchMs: d})
	}
	sw(m.Cfg.MaxSwitchMs)
	// The boundary: a blackout ending exactly at the lower-rate deadline,
	// and one ending one ms after it.
	if dl, ok := s.K.EscapeDeadline(); ok && dl-now >= 0 && dl-now < m.Cfg.MaxSwitchMs {
		if dl > now {
			sw(dl - now)
		}
		sw(dl - now + 1)
	}

	last := s.G.MaxSignedCounter
	fresh := guard.Header{Counter: last + 1, IssuedAtMs: now, ExpiresAtMs: now + 100, Signer: guard.RoleClinician}
	cmd := func(label string, h guard.Header, c kp.Command) {
		c.Header = h
		add(label, kp.Input{Kind: kp.InCommand, Cmd: c})
	}
	prog := func(p kp.Params, v guard.Verdict) kp.Command {
		return kp.Command{Kind: kp.CmdProgram, Params: p, Verdict: v}
	}
	lim := s.G.Limits
	vd := func(v guard.Verdict) string {
		switch v {
		case guard.VerdictWithin:
			return "within"
		case guard.VerdictOutside:
			return "outside"
		}
		return "absent"
	}
	honestProg := func(label string, p kp.Params) {
		v := honest(p, lim)
		cmd(label+" verdict="+vd(v), fresh, prog(p, v))
	}
	lyingProg := func(label string, p kp.Params) {
		v := lie(p, lim)
		cmd(label+" verdict="+vd(v)+" (lie)", fresh, prog(p, v))
	}
	setLimits := func(l kp.Limits) {
		cmd(fmt.Sprintf("set-limits %d..%d", l.MinLRL, l.MaxURL), fresh, kp.Command{Kind: kp.CmdSetLimits, Limits: l})
	}
	honestProg("program DDD 150/175", ProgDDD)
	honestProg("program VVI 150/175", ProgVVI)
	honestProg("program LRL 177", ProgNotInTable)
	honestProg("program LRL>URL", ProgCross)
	honestProg("program LRL 25", ProgLRL25)
	honestProg("program LRL 180", ProgLRL180)
	honestProg("program URL 180", ProgURL180)
	honestProg("program LRL=URL=175", ProgLRLisURL)
	honestProg("program DDD A amplitude off", ProgAAmpOff)
	honestProg("program VVI VRP=LRI", ProgVRPAtLRI)
	honestProg("program DDD AV+PVARP=LRI", ProgPVARPAtLRI)
	lyingProg("program DDD 150/175", ProgDDD)
	cmd("pace-now", fresh, kp.Command{Kind: kp.CmdPaceNow})
	setLimits(LimitsFast)
	setLimits(LimitsSlow)
	setLimits(LimitsFull)
	if last > 0 {
		replay := fresh
		replay.Counter = last
		cmd("REPLAY program VVI verdict=within", replay, prog(ProgVVI, guard.VerdictWithin))
	}
	unsigned := fresh
	unsigned.Signer = guard.RoleNone
	cmd("UNSIGNED program VVI verdict=within", unsigned, prog(ProgVVI, guard.VerdictWithin))
	// CMD-COUNTER-STEP: a counter exactly the step above the last is
	// admitted, one more is a jump, refused without consuming it.
	atStep := fresh
	atStep.Counter = last + guard.MaxCounterStep
	cmd("program VVI 150/175 counter=last+step verdict="+vd(honest(ProgVVI, lim)), atStep, prog(ProgVVI, honest(ProgVVI, lim)))
	jump := fresh
	jump.Counter = last + guard.MaxCounterStep + 1
	cmd("JUMP program VVI counter=last+step+1 verdict=within", jump, prog(ProgVVI, guard.VerdictWithin))
	// CMD-EXPIRY: valid for exactly the maximum, 1 ms longer, an empty
	// window, issued 1 ms in the future. The program is one that changes
	// nothing a fresh one would not (the safe-point rule applies it later).
	probe := func(label string, h guard.Header) {
		cmd(label+" program VVI 150/175 verdict="+vd(honest(ProgVVI, lim)), h, prog(ProgVVI, honest(ProgVVI, lim)))
	}
	maxValid := fresh
	maxValid.ExpiresAtMs = now + m.Cfg.MaxCommandValidityMs
	probe("valid for the maximum", maxValid)
	tooLong := fresh
	tooLong.ExpiresAtMs = now + m.Cfg.MaxCommandValidityMs + 1
	probe("TOO-LONG valid for max+1ms", tooLong)
	empty := fresh
	empty.ExpiresAtMs = now
	probe("EMPTY-WINDOW", empty)
	future := fresh
	future.IssuedAtMs = now + 1
	probe("FUTURE issued now+1ms", future)
	if !m.Full {
		return ins
	}
	add("hal watchdog", kp.Input{Kind: kp.InHAL, HAL: kp.HALWatchdog})
	add("hal battery-depleted", kp.Input{Kind: kp.InHAL, HAL: kp.HALBatteryDepleted})
	sw(0)
	sw(m.Cfg.MaxSwitchMs + 1)
	honestProg("program AAI 150/175", ProgAAI)
	honestProg("program Off", ProgOff)
	cmd("program DDD verdict=absent", fresh, prog(ProgDDD, guard.VerdictAbsent))
	lyingProg("program LRL 177", ProgNotInTable)
	lyingProg("program LRL>URL", ProgCross)
	cmd("temporary VVI 400ms verdict="+vd(honest(ProgVVI, lim)), fresh, kp.Command{Kind: kp.CmdProgramTemporary, Params: ProgVVI, DurationMs: 400, Verdict: honest(ProgVVI, lim)})
	cmd("temporary VVI 400ms verdict="+vd(lie(ProgVVI, lim))+" (lie)", fresh, kp.Command{Kind: kp.CmdProgramTemporary, Params: ProgVVI, DurationMs: 400, Verdict: lie(ProgVVI, lim)})
	setLimits(LimitsOffTable)
	setLimits(LimitsInverted)
	setLimits(LimitsURL180)
	cmd("temporary VVI 401ms verdict="+vd(honest(ProgVVI, lim)), fresh, kp.Command{Kind: kp.CmdProgramTemporary, Params: ProgVVI, DurationMs: m.Cfg.MaxTemporaryMs + 1, Verdict: honest(ProgVVI, lim)})
	cmd("end-temporary", fresh, kp.Command{Kind: kp.CmdEndTemporary})
	relay := fresh
	relay.Signer = guard.RoleRelay
	cmd("RELAY-SIGNED program VVI verdict=within", relay, prog(ProgVVI, guard.VerdictWithin))
	expired := fresh
	expired.IssuedAtMs, expired.ExpiresAtMs = now-100, now
	if expired.IssuedAtMs >= 0 {
		cmd("EXPIRED program VVI verdict=within", expired, prog(ProgVVI, guard.VerdictWithin))
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
			if !slices.Contains(m.Ignore, v.ID) {
				st.Violations = append(st.Violations, v.Error())
			}
		}
		out = append(out, st)
	}
	// A probe is a self-loop in the exploration: its step is checked, its
	// successor (Fault) not explored.
	for _, p := range m.Probes(s) {
		_, vs := m.Apply(p.State, p.In)
		st := explore.Step[State]{Label: p.Label, Next: s}
		for _, v := range vs {
			if !slices.Contains(m.Ignore, v.ID) {
				st.Violations = append(st.Violations, v.Error())
			}
		}
		out = append(out, st)
	}
	return out
}

// Corruptions are the memory corruptions the model injects, as probes, in
// every state: each makes a state the kernel itself could never produce
// (PACE-FAULT-SAFE: the next Step must go to Fault with the safe backup
// setting and an alert, and keep the consumed counter).
func Corruptions(k kp.State) []Corruption {
	cs := []Corruption{
		{"operating state out of range", func(s *kp.State) { s.Op = kp.Op(kp.NumOps) }},
		{"parameters in force not the operating state's", func(s *kp.State) { s.Active.LRL++ }},
		{"permanent program off Table 7", func(s *kp.State) { s.Perm.LRL = 177 }},
		{"last V event in the future", func(s *kp.State) { s.LastVMs = s.NowMs + 1 }},
		{"patient limits excluding the permanent program", func(s *kp.State) { s.Limits.MinLRL = s.Perm.LRL + 5 }},
		{"patient limits off Table 7", func(s *kp.State) { s.Limits.MinLRL = 29 }},
	}
	if !k.Active.Mode.Dual() {
		cs = append(cs, Corruption{"AV delay running in a single-chamber mode", func(s *kp.State) { s.AVPending = true }})
	}
	return cs
}

// Corruption names a change of the kernel's state.
type Corruption struct {
	Label string
	Apply func(*kp.State)
}

// Probe is an input checked from a state without exploring its successor.
type Probe struct {
	Label string
	State State
	In    kp.Input
}

// Probes lists the inputs the model checks from every state (outside a
// blackout) without exploring what follows them: a clock that goes back by
// 1 ms and every memory corruption, each followed by a tick. Both lead to
// Fault, whose behaviour the watchdog and lead-fault inputs already
// explore.
func (m *System) Probes(s State) []Probe {
	if s.Blackout || s.Events >= m.PerTick {
		return nil
	}
	now := s.K.NowMs
	var ps []Probe
	if now > 0 {
		ps = append(ps, Probe{Label: fmt.Sprintf("t=%dms PROBE clock back 1 ms", now), State: s, In: kp.Input{Kind: kp.InTick, NowMs: now - 1}})
	}
	for _, c := range Corruptions(s.K) {
		cs := s
		c.Apply(&cs.K)
		cs.G.Corrupted = true
		ps = append(ps, Probe{Label: fmt.Sprintf("t=%dms PROBE corruption (%s), then tick", now, c.Label), State: cs, In: kp.Input{Kind: kp.InTick, NowMs: now}})
	}
	return ps
}

// Apply steps the kernel and the observer. A granted slot switch starts the
// blackout.
func (m *System) Apply(s State, in kp.Input) (State, []pacerinv.Violation) {
	k, outs := kp.Step(&m.Cfg, s.K, in)
	g := s.G
	vs := pacerinv.Observe(&m.Cfg, &g, s.K, in, outs, k)
	nxt := State{K: k, G: g}
	for _, o := range outs.All() {
		if o.Kind != kp.OutSwitch {
			continue
		}
		if m.Switches != nil {
			m.Switches[o.Reason]++
		}
		if o.Accepted {
			nxt.Blackout, nxt.ResumeAtMs = true, in.NowMs+in.SwitchMs
		}
	}
	return nxt, vs
}

// Check runs the exhaustive exploration.
func Check(m *System) (explore.Result, error) {
	return explore.Run[State](m, explore.Options{MaxStates: 5_000_000, StopAtFirst: m.StopAtFirst})
}
