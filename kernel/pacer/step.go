package pacer

import (
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// maxPacesPerPass bounds the timing loop: at most an atrial and a
// ventricular pulse per pass, plus a parameter change between them.
const maxPacesPerPass = 4

// Step is the kernel: the next state and the outputs for one input. It is a
// pure function of its arguments: no I/O, no clock, no allocation.
//
// Order within a Step: time advances to the input's time first (pacing
// whatever fell due under the parameters then in force), then the input is
// handled, then the timing runs again at the same time (for parameters that
// changed at once), and last the next wake-up is computed.
func Step(cfg *Config, s State, in Input) (State, Outputs) {
	var out Outputs
	// PACE-FAULT-SAFE: a corrupted state or a clock that runs backwards is a
	// fault: safe backup pacing and an alert.
	if !s.valid(cfg) {
		s = faultState(s)
		out.add(Output{Kind: OutAlert, Reason: reason.StateCorrupt})
		refuseSwitch(in, &out, reason.StateCorrupt)
		s.wake(&out)
		return s, out
	}
	if in.NowMs < s.NowMs {
		s.enterFault(&out, reason.ClockWentBack)
		s.pace(cfg, &out)
		refuseSwitch(in, &out, reason.ClockWentBack)
		s.wake(&out)
		return s, out
	}
	s.advance(cfg, in.NowMs, &out)
	switch in.Kind {
	case InTick:
	case InSense:
		s.sense(cfg, in.Chamber, &out)
	case InCommand:
		s.command(cfg, in.Cmd, &out)
	case InHAL:
		s.hal(in.HAL, &out)
	case InSwitchRequest:
		why := s.switchSafe(cfg, in.SwitchMs)
		out.add(Output{Kind: OutSwitch, Accepted: why == reason.OK, Reason: why})
	default:
		out.add(Output{Kind: OutEvent, Reason: reason.InvalidReading})
	}
	s.pace(cfg, &out)
	s.wake(&out)
	return s, out
}

// switchSafe is the PACE-UPDATE-SWITCH rule: whether the firmware may switch
// to the staged slot now, with a switch-over blackout of switchMs during which
// it neither paces nor steps the kernel. It returns OK or the reason for
// refusing, and changes nothing: a grant is only an answer.
//
// Granted iff the declared blackout is in (0, MaxSwitchMs], the kernel is
// not in Fault, pacing is on, and the blackout ends no later than the
// lower-rate deadline of the rate chamber (escapeDeadline: the last event
// there plus the lower-rate interval in force, magnet and temporary rates
// included). The first Step after the blackout then paces whatever fell due
// (a late atrial pace in a dual-chamber mode shortens that one AV delay),
// and the rate chamber's pace is never later than its deadline. PACE-LRL
// therefore holds across the switch; model/pacer checks it by simulating
// the blackout after every grant.
//   - Off: refused. No escape interval bounds the blackout, and the kernel
//     cannot tell a patient who needs no pacing from one paced externally
//     in clinic; the conservative answer is to program a pacing mode (any
//     lower rate) first, which then bounds the switch.
//   - Fault: refused; the safe backup setting stays for good, and after a
//     lead fault, a watchdog or a corrupted state the device is not updated
//     but replaced.
func (s *State) switchSafe(cfg *Config, switchMs units.Millis) reason.Code {
	switch {
	case switchMs <= 0 || switchMs > cfg.MaxSwitchMs:
		return reason.SwitchDurationOutOfRange
	case s.Op == OpFault:
		return reason.Faulted
	case s.Active.Mode == ModeOff:
		return reason.SwitchPacingOff
	}
	if deadline, ok := s.escapeDeadline(); !ok || s.NowMs+switchMs+plantedSwitchSlackMs > deadline {
		return reason.SwitchEscapeDeadline
	}
	return reason.OK
}

// refuseSwitch answers a switch request that Step did not get to decide
// (corrupted state, clock gone back): every request gets its answer.
func refuseSwitch(in Input, out *Outputs, why reason.Code) {
	if in.Kind == InSwitchRequest {
		out.add(Output{Kind: OutSwitch, Reason: why})
	}
}

// faultState is the safe state of a state that cannot be trusted: Fault,
// safe backup pacing, a new cycle starting now. The counter is kept so that
// a fault cannot reopen replay.
func faultState(s State) State {
	f := NewState()
	f.Op = OpFault
	f.Active = f.activeFor(OpFault)
	f.Guard = s.Guard
	f.NowMs = max(s.NowMs, 0)
	f.LastVMs, f.LastAMs, f.LastAPaceMs = f.NowMs, f.NowMs, f.NowMs
	// The patient's limits survive if they are sound and admit the nominal
	// program the fault state keeps; a fault accepts no command anyway.
	if limitsCheck(s.Limits) == reason.OK && withinLimits(&f.Perm, s.Limits) {
		f.Limits = s.Limits
	}
	return f
}

// enterFault drops any pending program and switches to the safe backup
// setting at once, with an alert. PACE-FAULT-SAFE.
func (s *State) enterFault(out *Outputs, why reason.Code) {
	to, _ := next(s.Op, evFault)
	s.HavePending = false
	s.setOp(to)
	out.add(Output{Kind: OutAlert, Reason: why})
}

// setOp moves to operating state o and puts its parameters in force.
func (s *State) setOp(o Op) {
	s.Op = o
	s.setActive(s.activeFor(o))
}

// setActive puts p in force. When the rate chamber changes (or pacing starts
// from Off) the new chamber's cycle starts now; the AV delay survives only
// between dual-chamber modes.
func (s *State) setActive(p Params) {
	oc, nc := s.Active.Mode.RateChamber(), p.Mode.RateChamber()
	s.Active = p
	if oc != nc {
		switch nc {
		case ChamberAtrium:
			s.LastAMs = s.NowMs
		case ChamberVentricle:
			s.LastVMs = s.NowMs
		}
		s.AVPending = false
	}
	if !p.Mode.Dual() {
		s.AVPending = false
	}
}

// advance moves time to now and paces whatever fell due.
func (s *State) advance(cfg *Config, now units.Millis, out *Outputs) {
	s.NowMs = now
	// A temporary program ends at the next safe point after its time.
	if s.Op == OpTemporary && now >= s.TempUntilMs && !s.HavePending {
		s.HavePending, s.Pending, s.PendingEv, s.PendingDurationMs = true, s.Perm, evEndTemporary, 0
	}
	s.pace(cfg, out)
}

// pace delivers every pulse due at NowMs. A pulse that fell due between two
// Steps is delivered at once (the firmware steps the kernel at WakeAtMs, so
// this happens only when it was late).
func (s *State) pace(cfg *Config, out *Outputs) {
	for i := 0; i < maxPacesPerPass; i++ {
		if s.Active.Mode == ModeOff {
			// PACE-SAFE-POINT: with pacing off there is no cycle to break.
			if !s.applyPending(out) {
				return
			}
			continue
		}
		if at, ok := s.atrialDue(); ok && at <= s.NowMs {
			s.paceAtrium(out)
			continue
		}
		if at, ok := s.ventricularDue(); ok && at <= s.NowMs {
			s.paceVentricle(out)
			continue
		}
		return
	}
}

func (s *State) paceAtrium(out *Outputs) {
	out.add(Output{Kind: OutPace, Chamber: ChamberAtrium, Amplitude: s.Active.AAmp, Width: s.Active.APulse})
	s.LastAMs, s.LastAPaceMs, s.HaveAPace = s.NowMs, s.NowMs, true
	if s.Active.Mode.Dual() {
		s.AVPending = true
		return
	}
	s.applyPending(out) // PACE-SAFE-POINT: a new atrial-rate cycle starts
}

func (s *State) paceVentricle(out *Outputs) {
	out.add(Output{Kind: OutPace, Chamber: ChamberVentricle, Amplitude: s.Active.VAmp, Width: s.Active.VPulse})
	s.LastVMs, s.AVPending = s.NowMs, false
	s.applyPending(out) // PACE-SAFE-POINT: a new ventricular cycle starts
}

// applyPending puts a pending program in force. It is called only at safe
// points: right after the event that starts a new cycle in the rate chamber
// (no AV delay, refractory period or escape interval is half-way under the
// old parameters), or while pacing is Off. PACE-SAFE-POINT.
func (s *State) applyPending(out *Outputs) bool {
	if !s.HavePending {
		return false
	}
	to, ok := next(s.Op, s.PendingEv)
	if !ok {
		return false // e.g. under a magnet: waits until it is removed
	}
	switch s.PendingEv {
	case evProgram:
		s.Perm = s.Pending
	case evTemporary:
		s.Temp = s.Pending
		s.TempUntilMs = s.NowMs + s.PendingDurationMs
	}
	s.HavePending = false
	s.setOp(to)
	out.add(Output{Kind: OutApplied, Reason: reason.OK})
	return true
}

// wake reports the earliest time something is scheduled after NowMs.
func (s *State) wake(out *Outputs) {
	out.HaveWake = false
	consider := func(t units.Millis, ok bool) {
		if ok && (!out.HaveWake || t < out.WakeAtMs) {
			out.WakeAtMs, out.HaveWake = t, true
		}
	}
	if s.Active.Mode != ModeOff {
		consider(s.atrialDue())
		consider(s.ventricularDue())
	}
	consider(s.TempUntilMs, s.Op == OpTemporary && !s.HavePending && s.TempUntilMs > s.NowMs)
}

// sense handles a sensed event. PACE-REFRACTORY: a sense in a chamber the
// mode does not sense, or inside a refractory or blanking period, changes
// nothing; it neither inhibits nor triggers.
func (s *State) sense(cfg *Config, c Chamber, out *Outputs) {
	p := &s.Active
	now := s.NowMs
	switch c {
	case ChamberVentricle:
		if !p.Mode.SensesVentricle() {
			out.add(Output{Kind: OutEvent, Chamber: c, Reason: reason.ModeForbids})
			return
		}
		// PACE-REFRACTORY: VRP after a ventricular event; blanking after an atrial pace.
		if now-s.LastVMs < p.VRPMs || p.Mode.Dual() && s.HaveAPace && now-s.LastAPaceMs < cfg.VBlankMs {
			out.add(Output{Kind: OutEvent, Chamber: c, Reason: reason.PacerRefractory})
			return
		}
		out.add(Output{Kind: OutEvent, Chamber: c, Reason: reason.OK})
		s.LastVMs, s.AVPending = now, false // inhibits
		s.applyPending(out)                 // PACE-SAFE-POINT
	case ChamberAtrium:
		if !p.Mode.SensesAtrium() {
			out.add(Output{Kind: OutEvent, Chamber: c, Reason: reason.ModeForbids})
			return
		}
		// PACE-REFRACTORY: ARP after an atrial event; in DDD also the AV
		// delay and PVARP after a ventricular event.
		if now-s.LastAMs < p.ARPMs || p.Mode == ModeDDD && (s.AVPending || now-s.LastVMs < p.PVARPMs) {
			out.add(Output{Kind: OutEvent, Chamber: c, Reason: reason.PacerRefractory})
			return
		}
		out.add(Output{Kind: OutEvent, Chamber: c, Reason: reason.OK})
		s.LastAMs = now
		if p.Mode.Dual() {
			s.AVPending = true // triggers: tracks the atrium after the AV delay
			return
		}
		s.applyPending(out) // inhibits (AAI); PACE-SAFE-POINT
	default:
		out.add(Output{Kind: OutEvent, Chamber: c, Reason: reason.InvalidReading})
	}
}

func (s *State) decide(out *Outputs, c Command, why reason.Code) {
	out.add(Output{Kind: OutDecision, Cmd: c.Kind, Counter: c.Header.Counter, Accepted: why == reason.OK, Reason: why})
}

// needsVerdict: programs are pre-checked by the relay against the patient's
// encrypted limits.
func needsVerdict(k CommandKind) bool { return k == CmdProgram || k == CmdProgramTemporary }

// exactCheck is the kernel's own exact version of the comparison the relay
// made homomorphically: the program's LRL and URL against the patient's
// limits, nothing more (the relay cannot check Table 7 increments or
// cross-parameter rules; paramsCheck does that after the verdict rule). A
// malformed command is refused before any verdict is weighed.
// PACE-PATIENT-LIMITS, CMD-VERDICT.
func exactCheck(cfg *Config, lim Limits, c *Command) (within bool, why reason.Code) {
	if c.Kind == CmdProgramTemporary && (c.DurationMs <= 0 || c.DurationMs > cfg.MaxTemporaryMs) {
		return false, reason.ParamOutOfRange
	}
	return withinLimits(&c.Params, lim), reason.OK // PACE-PATIENT-LIMITS
}

func (s *State) command(cfg *Config, c Command, out *Outputs) {
	// CMD-AUTH, CMD-REPLAY, CMD-COUNTER-STEP, CMD-EXPIRY: admission first,
	// so that any authenticated counter within the step is consumed whatever
	// the command turns out to be (a refused jump is not).
	if why := guard.Admit(&s.Guard, c.Header, guard.RoleClinician, s.NowMs, cfg.MaxCommandValidityMs); why != reason.OK {
		s.decide(out, c, why)
		return
	}
	if c.Kind == CmdNone || c.Kind >= numCommandKinds {
		s.decide(out, c, reason.UnknownCommand)
		return
	}
	if s.Op == OpFault {
		s.decide(out, c, reason.Faulted) // PACE-FAULT-SAFE: the backup setting stays
		return
	}
	if needsVerdict(c.Kind) {
		exact, why := exactCheck(cfg, s.Limits, &c)
		if why != reason.OK {
			s.decide(out, c, why)
			return
		}
		// CMD-VERDICT: the verdict and the exact limits check must agree;
		// within both, or OverLimit (outside the patient's limits) when
		// both say outside. Only a disagreement is an alert.
		why, alert := guard.ApplyVerdict(c.Verdict, exact)
		if alert {
			out.add(Output{Kind: OutAlert, Reason: why})
		}
		if why != reason.OK {
			s.decide(out, c, why)
			return
		}
		// Then the kernel's own rules, which the relay cannot evaluate: a
		// refusal here is no disagreement with the verdict, so no alert.
		if why := paramsCheck(c.Params); why != reason.OK { // PACE-PARAM-PROGRAMMABLE, PACE-CROSS-PARAM
			s.decide(out, c, why)
			return
		}
	}
	s.decide(out, c, s.execute(cfg, c, out))
}

// setLimits puts new patient limits in force at once, or refuses them: out
// of Table 7's rate ranges, MinLRL not below MaxURL, or excluding a stored
// program (the kernel never changes therapy on its own to fit new limits).
// They change no pacing parameter. PACE-PATIENT-LIMITS.
func (s *State) setLimits(l Limits) reason.Code {
	if why := limitsCheck(l); why != reason.OK {
		return why
	}
	if !s.storedWithin(l) {
		return reason.PacerLimitsExcludeCurrent
	}
	s.Limits = l
	return reason.OK
}

// execute carries out an admitted command whose parameters passed.
func (s *State) execute(cfg *Config, c Command, out *Outputs) reason.Code {
	ev := evProgram
	switch c.Kind {
	case CmdSetLimits:
		return s.setLimits(c.Limits)
	case CmdPaceNow:
		// Pace-Now is the emergency exception to PACE-SAFE-POINT: it goes
		// to the safe setting at once, dropping any pending program.
		to, ok := next(s.Op, evPaceNow)
		if !ok {
			return reason.ModeForbids
		}
		s.HavePending = false
		s.setOp(to)
		return reason.OK
	case CmdProgramTemporary:
		ev = evTemporary
	case CmdEndTemporary:
		if s.Op != OpTemporary {
			return reason.ModeForbids
		}
		ev = evEndTemporary
	}
	if _, ok := next(s.Op, ev); !ok && s.Op != OpMagnet {
		return reason.ModeForbids
	}
	// PACE-SAFE-POINT: accepted now, in force at the next cycle start.
	s.HavePending, s.PendingEv, s.PendingDurationMs = true, ev, 0
	switch c.Kind {
	case CmdEndTemporary:
		s.Pending = s.Perm
	case CmdProgramTemporary:
		s.Pending, s.PendingDurationMs = c.Params, c.DurationMs
	default:
		s.Pending = c.Params
	}
	if s.Active.Mode != ModeOff {
		out.add(Output{Kind: OutEvent, Reason: reason.PacerUnsafePoint})
	}
	return reason.OK
}

func (s *State) hal(k HALKind, out *Outputs) {
	out.add(Output{Kind: OutEvent, HAL: k})
	switch k {
	case HALLeadFault, HALBatteryDepleted:
		s.enterFault(out, reason.PacerFault) // PACE-FAULT-SAFE
	case HALWatchdog:
		s.enterFault(out, reason.Watchdog) // PACE-FAULT-SAFE
	case HALMagnetOn, HALMagnetOff:
		ev := evMagnetOn
		if k == HALMagnetOff {
			ev = evMagnetOff
		}
		// A magnet acts at once: it is the clinic's and the patient's
		// asynchronous-pacing override, not a programming command.
		if to, ok := next(s.Op, ev); ok {
			s.setOp(to)
		}
	default:
		out.add(Output{Kind: OutEvent, Reason: reason.InvalidReading})
	}
}
