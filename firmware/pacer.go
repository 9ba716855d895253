package firmware

import (
	"errors"
	"fmt"
	"time"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
)

// PacerImplant is the pacemaker's firmware: the same receive path as the
// pump's, the pacer kernel, and the pacing output through hal.Pacer.
type PacerImplant struct {
	core
	cfg      pacer.Config
	st       pacer.State
	wakeAt   units.Millis
	Recovery implog.Recovery
	upd      *updater
	updCfg   *UpdateConfig
}

// BootPacer opens the log, resumes from its last persisted state and, with
// an update path (upd non-nil), runs the bootloader step (see Boot).
func BootPacer(device string, cfg pacer.Config, keys Keys, board hal.Board, upd *UpdateConfig) (*PacerImplant, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pacer boot: %w", err)
	}
	lg, rec, err := implog.Open(board.Storage, "implant.log")
	if err != nil {
		return nil, fmt.Errorf("pacer boot: %w", err)
	}
	c, err := newCore(device, keys, board, lg, cfg.MaxCommandValidityMs)
	if err != nil {
		return nil, fmt.Errorf("pacer boot: %w", err)
	}
	im := &PacerImplant{core: c, cfg: cfg, st: pacer.NewState(), Recovery: rec, updCfg: upd}
	for r, err := range lg.Records() {
		if err != nil {
			return nil, fmt.Errorf("pacer boot: read log: %w", err)
		}
		d, err := protocol.DecodeRecord(r.Payload)
		if err != nil {
			return nil, fmt.Errorf("pacer boot: record %d: %w", r.Seq, err)
		}
		if d.State != nil {
			st, err := decodeState[pacer.State](d.State)
			if err != nil {
				return nil, fmt.Errorf("pacer boot: record %d: %w", r.Seq, err)
			}
			im.st = st
		}
		im.replay(d)
	}
	im.st.Guard.LastCounter = max(im.st.Guard.LastCounter, im.resume())
	if now := board.Clock.Now(); now < im.st.NowMs {
		im.offset = im.st.NowMs - now
	}
	if err := im.persist(&protocol.LogRecord{Type: protocol.RecBoot, NowMs: int64(im.now()), Input: "power-on"}, true); err != nil {
		return nil, err
	}
	if im.upd, err = newUpdater(upd, im); err != nil {
		return nil, fmt.Errorf("pacer boot: %w", err)
	}
	if im.upd != nil {
		if im.Image, err = im.upd.boot(); err != nil {
			return nil, fmt.Errorf("pacer boot: %w", err)
		}
	}
	return im, nil
}

func (im *PacerImplant) persistUpdate(r *protocol.LogRecord) error { return im.persist(r, true) }

// gateSwitch asks the pacer kernel (PACE-UPDATE-SWITCH) whether a slot
// switch with a blackout of switchMs keeps backup pacing within the
// lower-rate interval; the decision is logged with the kernel state. Any
// pace the step itself asks for is delivered first.
func (im *PacerImplant) gateSwitch(switchMs units.Millis) (bool, reason.Code, error) {
	outs, err := im.step(pacer.Input{Kind: pacer.InSwitchRequest, NowMs: im.now(), SwitchMs: switchMs}, "switch-request", nil, nil)
	if err != nil {
		return false, 0, err
	}
	for _, o := range outs.All() {
		if o.Kind == pacer.OutSwitch {
			return o.Accepted, o.Reason, nil
		}
	}
	return false, reason.UnknownCommand, errors.New("firmware: the pacer kernel gave no switch decision")
}

// HandleUpdate serves one update request, as the pump's does.
func (im *PacerImplant) HandleUpdate(payload []byte) (UpdateOutcome, []byte, error) {
	return serveUpdate(im.upd, im, payload)
}

// Reboot restarts the firmware from storage, as the pump's does.
func (im *PacerImplant) Reboot() error {
	nim, err := BootPacer(im.device, im.cfg, im.keys, im.board, im.updCfg)
	if err != nil {
		return err
	}
	*im = *nim
	if im.upd != nil {
		im.upd.h = im
	}
	return nil
}

// Now is the kernel's timeline now.
func (im *PacerImplant) Now() units.Millis { return im.now() }

// State is the kernel state.
func (im *PacerImplant) State() pacer.State { return im.st }

func (im *PacerImplant) persist(r *protocol.LogRecord, withState bool) error {
	if !withState {
		return im.append(r)
	}
	b, err := encodeState(&im.st)
	if err != nil {
		return err
	}
	return im.persistState(r, b, im.st.Guard.LastCounter)
}

// step runs the kernel, persists what matters, then paces.
func (im *PacerImplant) step(in pacer.Input, input string, values []int64, ref *protocol.CommandRef) (pacer.Outputs, error) {
	prev := im.st.Op
	nxt, outs := pacer.Step(&im.cfg, im.st, in)
	im.st = nxt
	if outs.HaveWake {
		im.wakeAt = outs.WakeAtMs
	}
	rec := &protocol.LogRecord{Type: protocol.RecStep, NowMs: int64(in.NowMs), Input: input, Values: values}
	if ref != nil {
		rec.CmdDigest = ref.Digest
	}
	paces, applied := 0, false
	for _, o := range outs.All() {
		switch o.Kind {
		case pacer.OutPace:
			paces++
		case pacer.OutAlert:
			rec.Alerts = append(rec.Alerts, o.Reason)
		case pacer.OutDecision:
			rec.Cmd, rec.Ctr, rec.Accepted, rec.Reason = uint8(o.Cmd), o.Counter, o.Accepted, o.Reason
		case pacer.OutApplied:
			applied = true
		case pacer.OutSwitch:
			rec.Switch, rec.Accepted, rec.Reason = true, o.Accepted, o.Reason
		}
	}
	if applied {
		rec.Input += " (program applied)"
	}
	withState := pacerMustSync(prev, &in, &nxt, len(rec.Alerts) > 0 || applied)
	if withState || paces > 0 {
		if paces > 0 {
			rec.Deliver = []int64{int64(paces)}
		}
		if err := im.persist(rec, withState); err != nil {
			return outs, err
		}
	}
	if _, herr := carryOut(im.board, pacerActions(&outs), func() bool { return false }); herr != nil {
		// Stop this batch; the kernel's answer to the lead fault (backup
		// pacing) is what is carried out next.
		if _, e := im.step(pacer.Input{Kind: pacer.InHAL, NowMs: im.now(), HAL: pacer.HALLeadFault}, "hal lead-fault", nil, nil); e != nil {
			return outs, e
		}
	}
	return outs, nil
}

// Tick steps the kernel when its announced wake-up time has come.
//
// First the intrinsic beats the sensing channel reported since the last
// tick (hal.CardiacSense), each at the time it was sensed and in order,
// with any wake-up of the kernel that fell before a beat stepped first: so
// a heart beating above the lower rate inhibits the pace the kernel would
// otherwise deliver. A beat lost to a sensing dropout is no beat (the
// kernel then paces: the safe side). Then the kernel's own wake-up, if due.
func (im *PacerImplant) Tick() error {
	if im.board.Cardiac != nil {
		// On a dropout the beats that did arrive still count; missed ones
		// can only make the kernel pace (the safe side).
		events, _ := im.board.Cardiac.Poll()
		for _, ev := range events {
			t := max(ev.At+im.offset, im.st.NowMs)
			if im.wakeAt != 0 && im.wakeAt <= t {
				if _, err := im.step(pacer.Input{Kind: pacer.InTick, NowMs: max(im.wakeAt, im.st.NowMs)}, "tick", nil, nil); err != nil {
					return err
				}
			}
			ch := pacer.ChamberVentricle
			if ev.Chamber == hal.ChamberAtrium {
				ch = pacer.ChamberAtrium
			}
			if _, err := im.step(pacer.Input{Kind: pacer.InSense, NowMs: max(t, im.st.NowMs), Chamber: ch}, "sense "+ch.String(), nil, nil); err != nil {
				return err
			}
		}
	}
	now := im.now()
	if now < im.wakeAt && im.wakeAt != 0 {
		return nil
	}
	_, err := im.step(pacer.Input{Kind: pacer.InTick, NowMs: now}, "tick", nil, nil)
	return err
}

// WakeAt is when the kernel next needs a tick on the kernel's timeline (0:
// none announced); Until is how long that is from now.
func (im *PacerImplant) WakeAt() units.Millis { return im.wakeAt }

// Until is the time from now to the kernel's announced wake-up (0 if due).
func (im *PacerImplant) Until() time.Duration {
	if im.wakeAt == 0 {
		return time.Hour
	}
	return time.Duration(max(im.wakeAt-im.now(), 0)) * time.Millisecond
}

// HandleProgram gives the kernel a command authenticated out of band at
// provisioning (the patient's limits are never sent over the radio).
func (im *PacerImplant) HandleProgram(c pacer.Command) (Outcome, error) {
	outs, err := im.step(pacer.Input{Kind: pacer.InCommand, NowMs: im.now(), Cmd: c}, "provisioning", nil, nil)
	return pacerOutcome(outs, c.Header.Counter, nil), err
}

func pacerOutcome(outs pacer.Outputs, ctr uint64, values []int64) Outcome {
	o := Outcome{Counter: ctr, Values: values}
	for _, x := range outs.All() {
		switch x.Kind {
		case pacer.OutDecision:
			o.Accepted, o.Reason = x.Accepted, x.Reason
		case pacer.OutAlert:
			o.Alerts = append(o.Alerts, x.Reason)
		}
	}
	return o
}

// HandleFrame processes one radio bundle, as the pump's does.
func (im *PacerImplant) HandleFrame(frame []byte) (Outcome, []byte, error) {
	now := im.now()
	op, err := openBundle(&im.verifier, im.keys, im.device, frame, now, im.st.Guard.LastCounter, &im.verdictCtr,
		int64(im.cfg.MaxCommandValidityMs), protocol.KindPacer)
	if err != nil {
		ack, aerr := im.refuse(frame, err)
		return Outcome{Refused: err}, ack, aerr
	}
	ref, err := protocol.RefOf(&op.header)
	if err != nil {
		return Outcome{}, nil, err
	}
	cmd := pacer.Command{Kind: pacer.CommandKind(op.header.Subkind), Header: op.guardHeader(), Verdict: op.verdict}
	if cmd.Kind == pacer.CmdProgram {
		// A rate change: the permanent program with the new LRL and URL.
		cmd.Params = im.st.Perm
		cmd.Params.LRL, cmd.Params.URL = pacer.PPM(op.values[0]), pacer.PPM(op.values[1])
	}
	outs, err := im.step(pacer.Input{Kind: pacer.InCommand, NowMs: now, Cmd: cmd}, "command", op.values, &ref)
	if err != nil {
		return Outcome{}, nil, err
	}
	o := pacerOutcome(outs, cmd.Header.Counter, op.values)
	ack, err := im.decided(ref, protocol.Private{Accepted: o.Accepted, Reason: o.Reason, Alerts: o.Alerts, Values: op.values})
	return o, ack, err
}

// Answer serves a query about one command, as the pump's does.
func (im *PacerImplant) Answer(payload []byte) ([]byte, error) {
	return im.answer(payload, im.st.Guard.LastCounter)
}

// Status is a signed acknowledgement with the implant's time.
func (im *PacerImplant) Status() ([]byte, error) {
	return im.status(im.st.Op.String(), im.st.Guard.LastCounter)
}

// Service is one tick of the firmware loop: the senses since the last
// tick, then the kernel's time.
func (im *PacerImplant) Service() error { return im.Tick() }

// Telemetry: this pacemaker build sends none.
func (im *PacerImplant) Telemetry() ([]byte, error) {
	return nil, errors.New("firmware: the pacemaker sends no telemetry in this version")
}
