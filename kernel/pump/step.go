package pump

import (
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// Step is the kernel: the next state and the outputs for one input. It is a
// pure function of its arguments: no I/O, no clock, no allocation.
func Step(cfg *Config, s State, in Input) (State, Outputs) {
	var out Outputs
	// FAULT-SAFE: a corrupted state or a clock that runs backwards is a fault.
	if !s.valid(cfg) {
		s = faultState(s)
		out.add(Output{Kind: OutStop})
		out.add(Output{Kind: OutAlert, Reason: reason.StateCorrupt})
		refuseSwitch(in, &out, reason.StateCorrupt)
		return s, out
	}
	if in.NowMs < s.NowMs {
		s.enterFault(&out, reason.ClockWentBack)
		refuseSwitch(in, &out, reason.ClockWentBack)
		return s, out
	}
	s.runBasal(cfg, in.NowMs, &out)
	switch in.Kind {
	case InTick:
	case InCommand:
		s.command(cfg, in.Cmd, &out)
	case InGlucose:
		s.glucose(in, &out)
	case InHAL:
		s.hal(in, &out)
	case InSwitchRequest:
		why := s.switchSafe(cfg, in.SwitchMs)
		out.add(Output{Kind: OutSwitch, Accepted: why == reason.OK, Reason: why})
	default:
		out.add(Output{Kind: OutEvent, Reason: reason.InvalidReading})
	}
	return s, out
}

// switchSafe is the PUMP-UPDATE-SWITCH rule: whether the firmware may switch
// to the staged slot now, with a switch-over blackout of switchMs during which
// the kernel is not stepped. It returns OK or the reason for refusing, and
// changes nothing: a grant is only an answer.
//
// Granted iff the declared blackout is in (0, MaxSwitchMs] and no bolus is
// running, in every mode but Delivering and Fault (Step has already run the
// FAULT-SAFE corruption and clock checks):
//   - Delivering: refused, a bolus is in progress; a reboot would cut the
//     motor's run short and leave the dose delivered unknown.
//   - Fault: refused; the pump is out of service for good, and after a
//     watchdog or a corrupted state its state cannot be trusted to be
//     restored across a reboot.
//   - Idle: granted. Basal is delivered in discrete pulses, each carried out
//     within its Step (OutSwitch is the Step's last output); basal accrues
//     over the blackout and the first Step after it delivers it under every
//     delivery rule, as after any gap between Steps.
//   - Init, Suspended, Alarm: granted. Nothing is programmed (Init) or the
//     motor was stopped on entry (OutStop) and stays stopped until a resume
//     or an acknowledgement, a command that cannot arrive during the
//     blackout; the restored state keeps the mode, so an alarm is not lost.
func (s *State) switchSafe(cfg *Config, switchMs units.Millis) reason.Code {
	switch {
	case switchMs <= 0 || switchMs > cfg.MaxSwitchMs:
		return reason.SwitchDurationOutOfRange
	case s.Mode == ModeFault:
		return reason.Faulted
	case s.Mode == ModeDelivering:
		return reason.SwitchBolusInProgress
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

// faultState is the safe state of a state that cannot be trusted: Fault mode,
// no temporary basal, no reservoir credit. The counter is kept so that a
// fault cannot reopen replay.
func faultState(s State) State {
	f := NewState()
	f.Mode = ModeFault
	f.Guard = s.Guard
	f.NowMs = s.NowMs
	f.Epoch = s.Epoch
	f.Ring = s.Ring
	if f.NowMs < 0 || f.Epoch < 0 {
		f.NowMs, f.Epoch = 0, 0
	}
	for i := range f.Ring {
		if f.Ring[i] < 0 {
			f.Ring[i] = 0
		}
	}
	return f
}

// enterFault stops delivery for good and raises an alert. FAULT-SAFE.
func (s *State) enterFault(out *Outputs, why reason.Code) {
	to, _ := next(s.Mode, evFault)
	s.Mode = to
	s.TempActive = false
	s.BasalAccum = 0
	out.add(Output{Kind: OutStop})
	out.add(Output{Kind: OutAlert, Reason: why})
}

// enterAlarm stops delivery until acknowledged. PUMP-FAULT-STOP, PUMP-ALARM-ACK.
func (s *State) enterAlarm(out *Outputs, why reason.Code) {
	out.add(Output{Kind: OutStop})
	out.add(Output{Kind: OutAlert, Reason: why})
	if to, ok := next(s.Mode, evAlarm); ok {
		s.Mode = to
		s.BasalAccum = 0
	}
}

// runBasal advances time to now, delivering the basal that accrued since the
// last Step if every delivery rule allows it.
func (s *State) runBasal(cfg *Config, now units.Millis, out *Outputs) {
	from := s.NowMs
	s.advanceTo(cfg, now)
	if s.Mode != ModeIdle && s.Mode != ModeDelivering {
		s.BasalAccum = 0
		return
	}
	// Accrue the temporary rate up to its end, the scheduled rate after.
	elapsed := min(now-from, cfg.WindowMs)
	start := now - elapsed
	if s.TempActive {
		tempEnd := min(max(s.TempUntilMs, start), now)
		s.BasalAccum += int64(s.TempRate) * int64(tempEnd-start)
		start = tempEnd
		if now >= s.TempUntilMs {
			s.TempActive = false
		}
	}
	s.BasalAccum += int64(s.Limits.ScheduledBasal) * int64(now-start)
	pulse := units.CentiUnits(s.BasalAccum / msPerHour)
	s.BasalAccum %= msPerHour
	if pulse == 0 {
		return
	}
	if why := s.deliveryAllowed(cfg, pulse); why != reason.OK {
		// Withheld basal is dropped, not owed: it is never delivered later in a
		// lump. Alert once per change of cause.
		if why != s.LastWithheld {
			out.add(Output{Kind: OutAlert, Reason: why})
		}
		s.LastWithheld = why
		return
	}
	s.LastWithheld = reason.OK
	s.record(cfg, pulse)
	out.add(Output{Kind: OutActuate, Actuation: ActBasal, Amount: pulse})
}

func (s *State) decide(out *Outputs, c Command, why reason.Code) {
	out.add(Output{Kind: OutDecision, Cmd: c.Kind, Counter: c.Header.Counter, Accepted: why == reason.OK, Reason: why})
}

// needsVerdict: therapy that raises delivery is pre-checked by the relay.
func needsVerdict(k CommandKind) bool {
	return k == CmdBolus || k == CmdSetBasal || k == CmdTempBasal
}

func (s *State) command(cfg *Config, c Command, out *Outputs) {
	// CMD-AUTH, CMD-REPLAY, CMD-COUNTER-STEP, CMD-EXPIRY. Admission comes
	// first, so that any authenticated counter within the step is consumed
	// whatever the command turns out to be (a refused jump is not).
	if why := guard.Admit(&s.Guard, c.Header, guard.RoleClinician, s.NowMs, cfg.MaxCommandValidityMs); why != reason.OK {
		s.decide(out, c, why)
		return
	}
	if c.Kind == CmdNone || c.Kind >= numCommandKinds {
		s.decide(out, c, reason.UnknownCommand)
		return
	}
	if needsVerdict(c.Kind) {
		exact, why := s.exactCheck(cfg, c)
		if why != reason.OK {
			s.decide(out, c, why)
			return
		}
		// CMD-VERDICT.
		why, alert := guard.ApplyVerdict(c.Verdict, exact)
		if why == reason.OverLimit {
			why = s.overLimitReason(c.Kind)
		}
		if alert {
			out.add(Output{Kind: OutAlert, Reason: why})
		}
		if why != reason.OK {
			s.decide(out, c, why)
			return
		}
	}
	s.decide(out, c, s.execute(cfg, c, out))
}

func (s *State) overLimitReason(k CommandKind) reason.Code {
	if k == CmdBolus {
		return reason.BolusOverMax
	}
	return reason.BasalOverMax
}

// exactCheck is the kernel's own exact comparison of the plaintext parameters
// against its limits: the comparison the relay made homomorphically. A value
// outside its representable range is refused before any verdict is weighed.
func (s *State) exactCheck(cfg *Config, c Command) (within bool, why reason.Code) {
	if s.Mode == ModeInit {
		return false, reason.ModeForbids
	}
	switch c.Kind {
	case CmdBolus:
		if c.Amount <= 0 {
			return false, reason.ParamOutOfRange
		}
		return c.Amount <= bolusCap(cfg, s.Limits), reason.OK // PUMP-MAX-BOLUS
	case CmdSetBasal:
		if c.Rate < 0 {
			return false, reason.ParamOutOfRange
		}
		return c.Rate <= basalCap(cfg, s.Limits), reason.OK // PUMP-MAX-BASAL
	case CmdTempBasal:
		// PUMP-TEMP-DURATION: a temporary basal runs for a duration within
		// [MinTempBasalMs, MaxTempBasalMs], so no temporary rate is ever in
		// force longer than MaxTempBasalMs.
		if c.Rate < 0 || c.DurationMs < cfg.MinTempBasalMs || c.DurationMs > cfg.MaxTempBasalMs {
			return false, reason.ParamOutOfRange
		}
		return c.Rate <= tempBasalCap(cfg, s.Limits), reason.OK // PUMP-MAX-BASAL
	}
	return false, reason.UnknownCommand
}

// execute applies an admitted command whose parameters passed the exact check.
func (s *State) execute(cfg *Config, c Command, out *Outputs) reason.Code {
	switch c.Kind {
	case CmdBolus:
		if s.Mode != ModeIdle {
			return s.haltReason()
		}
		if why := s.bolusSpacing(); why != reason.OK {
			return why
		}
		if why := s.deliveryAllowed(cfg, c.Amount); why != reason.OK {
			return why
		}
		to, ok := next(s.Mode, evBolus)
		if !ok {
			return reason.ModeForbids
		}
		s.Mode = to
		s.record(cfg, c.Amount)
		s.HaveBolus, s.LastBolusAtMs = true, s.NowMs
		out.add(Output{Kind: OutActuate, Actuation: ActBolus, Amount: c.Amount})
		return reason.OK
	case CmdSetBasal:
		if s.Mode != ModeIdle && s.Mode != ModeDelivering && s.Mode != ModeSuspended {
			return s.haltReason()
		}
		s.Limits.ScheduledBasal = c.Rate
		// A temporary rate above the new clamp ends now.
		if s.TempActive && s.TempRate > tempBasalCap(cfg, s.Limits) {
			s.TempActive = false
		}
		return reason.OK
	case CmdTempBasal:
		if s.Mode != ModeIdle && s.Mode != ModeDelivering {
			return s.haltReason()
		}
		s.TempActive, s.TempRate, s.TempUntilMs = true, c.Rate, s.NowMs+c.DurationMs
		return reason.OK
	case CmdCancelTempBasal:
		s.TempActive = false
		return reason.OK
	case CmdSuspend:
		to, ok := next(s.Mode, evSuspend)
		if !ok {
			return reason.ModeForbids
		}
		s.Mode = to
		s.BasalAccum = 0
		out.add(Output{Kind: OutStop})
		return reason.OK
	case CmdResume:
		to, ok := next(s.Mode, evResume)
		if !ok {
			return reason.ModeForbids
		}
		s.Mode = to
		return reason.OK
	case CmdAckAlarm:
		// PUMP-ALARM-ACK: only an authenticated acknowledgement leaves Alarm.
		to, ok := next(s.Mode, evAck)
		if !ok {
			return reason.ModeForbids
		}
		s.Mode = to
		s.LastWithheld = reason.OK
		return reason.OK
	case CmdProgramLimits:
		// PUMP-LIMITS-RANGE.
		if !limitsInRange(cfg, c.Limits) {
			return reason.ParamOutOfRange
		}
		to, ok := next(s.Mode, evProgram)
		if !ok {
			return reason.ModeForbids
		}
		s.Mode = to
		s.Limits = c.Limits
		if s.TempActive && s.TempRate > tempBasalCap(cfg, s.Limits) {
			s.TempActive = false
		}
		return reason.OK
	}
	return reason.UnknownCommand
}

func (s *State) haltReason() reason.Code {
	switch s.Mode {
	case ModeSuspended:
		return reason.Suspended
	case ModeAlarm:
		return reason.AlarmActive
	case ModeFault:
		return reason.Faulted
	}
	return reason.ModeForbids
}

func (s *State) glucose(in Input, out *Outputs) {
	if in.GlucoseAtMs > s.NowMs || in.Glucose <= 0 || in.Glucose > 1000 {
		out.add(Output{Kind: OutEvent, Reason: reason.InvalidReading})
		return
	}
	if s.HaveGlucose && in.GlucoseAtMs < s.GlucoseAtMs {
		out.add(Output{Kind: OutEvent, Reason: reason.InvalidReading})
		return
	}
	wasLow := s.HaveGlucose && s.Glucose < s.Limits.SuspendBelow
	s.HaveGlucose, s.Glucose, s.GlucoseAtMs = true, in.Glucose, in.GlucoseAtMs
	out.add(Output{Kind: OutEvent, Reason: reason.OK})
	if s.Mode != ModeInit && in.Glucose < s.Limits.SuspendBelow && !wasLow {
		out.add(Output{Kind: OutAlert, Reason: reason.GlucoseLow})
	}
}

func (s *State) hal(in Input, out *Outputs) {
	out.add(Output{Kind: OutEvent, HAL: in.HAL})
	switch in.HAL {
	case HALDeliveryDone:
		if to, ok := next(s.Mode, evDone); ok {
			s.Mode = to
		}
	case HALOcclusion:
		// PUMP-FAULT-STOP.
		s.enterAlarm(out, reason.Occlusion)
	case HALMotorFault:
		// PUMP-FAULT-STOP.
		s.enterFault(out, reason.MotorFault)
	case HALWatchdog:
		// FAULT-SAFE.
		s.enterFault(out, reason.Watchdog)
	case HALReservoir:
		if in.ReservoirCU < 0 {
			out.add(Output{Kind: OutEvent, Reason: reason.InvalidReading})
			return
		}
		s.ReservoirCU = in.ReservoirCU
		// PUMP-RESERVOIR: an empty reservoir stops delivery and alarms.
		if in.ReservoirCU == 0 && (s.Mode == ModeIdle || s.Mode == ModeDelivering) {
			s.enterAlarm(out, reason.ReservoirEmpty)
		}
	default:
		out.add(Output{Kind: OutEvent, Reason: reason.InvalidReading})
	}
}
