package firmware

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

// PacerSchema: a pacing program's rates are compared homomorphically with
// the patient's limits: LRL at least the minimum, URL at most the maximum.
func PacerSchema(sub uint8) (fhe.Schema, bool) {
	switch pacer.CommandKind(sub) {
	case pacer.CmdProgram:
		return fhe.Schema{{Quantity: fhe.PacingRatePPM, Relation: fhe.AtLeast}, {Quantity: fhe.PacingRatePPM, Relation: fhe.AtMost}}, true
	}
	return nil, false
}

func pacerNoValues(sub uint8) bool {
	switch pacer.CommandKind(sub) {
	case pacer.CmdEndTemporary, pacer.CmdPaceNow:
		return true
	}
	return false
}

// PacerImplant is the pacemaker's firmware: the same receive path as the
// pump's, the pacer kernel, and the pacing output through hal.Pacer.
type PacerImplant struct {
	cfg        pacer.Config
	device     string
	keys       Keys
	board      hal.Board
	log        *implog.Log
	verifier   wire.Verifier
	st         pacer.State
	offset     units.Millis
	verdictCtr uint64
	ackCtr     uint64
	wakeAt     units.Millis
	Recovery   implog.Recovery
	upd        *updater
	updCfg     *UpdateConfig
	// Image is what the bootloader booted (zero without an update path).
	Image update.BootInfo
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
	im := &PacerImplant{cfg: cfg, device: device, keys: keys, board: board, log: lg, st: pacer.NewState(), Recovery: rec, updCfg: upd,
		verifier: wire.Verifier{DeviceID: device, Trust: keys.Trust, MaxFrame: wire.MaxRadioFrame}}
	for r, err := range lg.Records() {
		if err != nil {
			return nil, fmt.Errorf("pacer boot: read log: %w", err)
		}
		d, err := DecodeRecord(r.Payload)
		if err != nil {
			return nil, fmt.Errorf("pacer boot: record %d: %w", r.Seq, err)
		}
		if d.State != nil {
			var st pacer.State
			if len(d.State) != binary.Size(&st) {
				return nil, fmt.Errorf("pacer boot: record %d: state of %d bytes", r.Seq, len(d.State))
			}
			if err := binary.Read(bytes.NewReader(d.State), binary.BigEndian, &st); err != nil {
				return nil, fmt.Errorf("pacer boot: record %d: %w", r.Seq, err)
			}
			im.st, im.verdictCtr, im.ackCtr = st, d.VerdictCtr, d.AckCtr
		}
	}
	if now := board.Clock.Now(); now < im.st.NowMs {
		im.offset = im.st.NowMs - now
	}
	if err := im.persist(&Record{Type: RecBoot, NowMs: int64(im.now())}, true); err != nil {
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

func (im *PacerImplant) persistUpdate(r *Record) error { return im.persist(r, true) }

// gateSwitch asks the pacer kernel (PACE-UPDATE-SWITCH) whether a slot
// switch with a blackout of switchMs keeps backup pacing within the
// lower-rate interval; the decision is logged with the kernel state. Any
// pace the step itself asks for is delivered first.
func (im *PacerImplant) gateSwitch(switchMs units.Millis) (bool, string, error) {
	outs, err := im.step(pacer.Input{Kind: pacer.InSwitchRequest, NowMs: im.now(), SwitchMs: switchMs}, "switch-request", nil)
	if err != nil {
		return false, "", err
	}
	for _, o := range outs.All() {
		if o.Kind == pacer.OutSwitch {
			return o.Accepted, o.Reason.String(), nil
		}
	}
	return false, "no decision from the kernel", nil
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

func (im *PacerImplant) now() units.Millis { return im.board.Clock.Now() + im.offset }

// Now is the kernel's timeline now.
func (im *PacerImplant) Now() units.Millis { return im.now() }

// State is the kernel state.
func (im *PacerImplant) State() pacer.State { return im.st }

func (im *PacerImplant) persist(r *Record, withState bool) error {
	if withState {
		var b bytes.Buffer
		if err := binary.Write(&b, binary.BigEndian, &im.st); err != nil {
			return fmt.Errorf("pacer: encode state: %w", err)
		}
		r.State, r.VerdictCtr, r.AckCtr = b.Bytes(), im.verdictCtr, im.ackCtr
	}
	b, err := EncodeRecord(r)
	if err != nil {
		return err
	}
	if _, err := im.log.Append(b); err != nil {
		return fmt.Errorf("%w: %w", ErrLog, err)
	}
	return nil
}

// step runs the kernel, persists what matters, then paces.
func (im *PacerImplant) step(in pacer.Input, input string, values []int64) (pacer.Outputs, error) {
	prev := im.st.Op
	nxt, outs := pacer.Step(&im.cfg, im.st, in)
	im.st = nxt
	if outs.HaveWake {
		im.wakeAt = outs.WakeAtMs
	}
	rec := &Record{Type: RecStep, NowMs: int64(in.NowMs), Input: input, Values: values}
	paces := 0
	for _, o := range outs.All() {
		switch o.Kind {
		case pacer.OutPace:
			paces++
		case pacer.OutAlert:
			rec.Alerts = append(rec.Alerts, o.Reason.String())
		case pacer.OutDecision:
			rec.Cmd, rec.Ctr, rec.Accepted, rec.Reason = o.Cmd.String(), o.Counter, o.Accepted, o.Reason.String()
		case pacer.OutApplied:
			rec.Alerts = append(rec.Alerts, "applied")
		case pacer.OutSwitch:
			rec.Cmd, rec.Accepted, rec.Reason = SwitchDecision, o.Accepted, o.Reason.String()
		}
	}
	withState := prev != nxt.Op || in.Kind == pacer.InCommand || in.Kind == pacer.InSwitchRequest || len(rec.Alerts) > 0
	if withState || paces > 0 {
		if paces > 0 {
			rec.Deliver = []int64{int64(paces)}
		}
		if err := im.persist(rec, withState); err != nil {
			return outs, err
		}
	}
	for _, o := range outs.All() {
		if o.Kind == pacer.OutPace && im.board.Pacer != nil {
			ch := hal.ChamberVentricle
			if o.Chamber == pacer.ChamberAtrium {
				ch = hal.ChamberAtrium
			}
			// 0.1 V → mV, 0.01 ms → µs.
			if err := im.board.Pacer.Pace(ch, hal.MilliVolts(o.Amplitude)*100, hal.Microseconds(o.Width)*10); err != nil {
				if _, e := im.step(pacer.Input{Kind: pacer.InHAL, NowMs: im.now(), HAL: pacer.HALLeadFault}, "hal lead-fault", nil); e != nil {
					return outs, e
				}
			}
		}
	}
	return outs, nil
}

// Tick steps the kernel when its announced wake-up time has come.
func (im *PacerImplant) Tick() error {
	now := im.now()
	if now < im.wakeAt && im.wakeAt != 0 {
		return nil
	}
	_, err := im.step(pacer.Input{Kind: pacer.InTick, NowMs: now}, "tick", nil)
	return err
}

// HandleProgram gives the kernel a command authenticated out of band at
// provisioning (the patient's limits are never sent over the radio).
func (im *PacerImplant) HandleProgram(c pacer.Command) (Outcome, error) {
	outs, err := im.step(pacer.Input{Kind: pacer.InCommand, NowMs: im.now(), Cmd: c}, "provisioning", nil)
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
		int64(im.cfg.MaxCommandValidityMs), PacerSchema, pacerNoValues)
	if err != nil {
		rec := &Record{Type: RecRefused, NowMs: int64(now), Error: err.Error()}
		if perr := im.persist(rec, false); perr != nil {
			return Outcome{Refused: err}, nil, perr
		}
		ack, aerr := im.ack(rec)
		return Outcome{Refused: err}, ack, aerr
	}
	cmd := pacer.Command{Kind: pacer.CommandKind(op.header.Subkind), Header: op.guardHeader(), Verdict: op.verdict}
	if cmd.Kind == pacer.CmdProgram {
		// A rate change: the permanent program with the new LRL and URL.
		cmd.Params = im.st.Perm
		cmd.Params.LRL, cmd.Params.URL = pacer.PPM(op.values[0]), pacer.PPM(op.values[1])
	}
	outs, err := im.step(pacer.Input{Kind: pacer.InCommand, NowMs: now, Cmd: cmd}, "command", op.values)
	if err != nil {
		return Outcome{}, nil, err
	}
	o := pacerOutcome(outs, cmd.Header.Counter, op.values)
	rec := &Record{Type: RecStep, NowMs: int64(now), Values: op.values, Cmd: cmd.Kind.String(), Ctr: cmd.Header.Counter,
		Accepted: o.Accepted, Reason: o.Reason.String()}
	for _, a := range o.Alerts {
		rec.Alerts = append(rec.Alerts, a.String())
	}
	ack, err := im.ack(rec)
	return o, ack, err
}

func (im *PacerImplant) ack(r *Record) ([]byte, error) {
	return sealAck(r, im.keys.Signer, im.device, &im.ackCtr, im.now(), im.cfg.MaxCommandValidityMs)
}

// Status is a signed acknowledgement with the implant's time.
func (im *PacerImplant) Status() ([]byte, error) {
	seq, _ := im.log.Head()
	return im.ack(&Record{Type: "status", NowMs: int64(im.now()), Of: seq, Reason: im.st.Op.String()})
}
