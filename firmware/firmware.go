package firmware

import (
	"errors"
	"fmt"
	"time"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
)

// Config is fixed for a device.
type Config struct {
	DeviceID string
	Pump     pump.Config
	// LogName is the log's name in storage.
	LogName string
	// Update is the firmware-update path; nil: this build takes no updates.
	Update *UpdateConfig
}

// Implant is the running firmware of an insulin pump.
type Implant struct {
	core
	cfg Config
	st  pump.State
	// Interrupted is set at boot when the log ends with a delivery request
	// whose actuation was not confirmed (power cut in between).
	Interrupted bool
	Recovery    implog.Recovery
	readings    []int64
	upd         *updater
}

// Boot opens the log, resumes from its last persisted state and records the
// boot. A log that does not verify is an error: the caller must not run
// therapy on it.
func Boot(cfg Config, keys Keys, board hal.Board) (*Implant, error) {
	if err := cfg.Pump.Validate(); err != nil {
		return nil, fmt.Errorf("firmware boot: %w", err)
	}
	if cfg.LogName == "" {
		cfg.LogName = "implant.log"
	}
	lg, rec, err := implog.Open(board.Storage, cfg.LogName)
	if err != nil {
		return nil, fmt.Errorf("firmware boot: %w", err)
	}
	c, err := newCore(cfg.DeviceID, keys, board, lg, cfg.Pump.MaxCommandValidityMs)
	if err != nil {
		return nil, fmt.Errorf("firmware boot: %w", err)
	}
	im := &Implant{core: c, cfg: cfg, st: pump.NewState(), Recovery: rec}
	pendingActuation := false
	for r, err := range lg.Records() {
		if err != nil {
			return nil, fmt.Errorf("firmware boot: read log: %w", err)
		}
		d, err := protocol.DecodeRecord(r.Payload)
		if err != nil {
			return nil, fmt.Errorf("firmware boot: record %d: %w", r.Seq, err)
		}
		if d.State != nil {
			st, err := decodeState[pump.State](d.State)
			if err != nil {
				return nil, fmt.Errorf("firmware boot: record %d: %w", r.Seq, err)
			}
			im.st = st
		}
		im.replay(d)
		switch d.Type {
		case protocol.RecStep:
			pendingActuation = len(d.Deliver) > 0
		case protocol.RecActuated:
			pendingActuation = false
		}
	}
	// CMD-REPLAY across a log cut back to a record boundary: the counter
	// store, not the log, is the floor of the command counter.
	im.st.Guard.LastCounter = max(im.st.Guard.LastCounter, im.resume())
	im.Interrupted = pendingActuation
	if now := board.Clock.Now(); now < im.st.NowMs {
		// The board's monotonic clock restarts at power-on; the kernel's
		// timeline continues from the last persisted instant.
		im.offset = im.st.NowMs - now
	}
	boot := &protocol.LogRecord{Type: protocol.RecBoot, NowMs: int64(im.now()), Input: "power-on"}
	if im.Interrupted {
		boot.Input = "power-on: delivery interrupted by power loss"
	}
	if err := im.persist(boot, true); err != nil {
		return nil, fmt.Errorf("firmware boot: %w", err)
	}
	if im.upd, err = newUpdater(cfg.Update, im); err != nil {
		return nil, fmt.Errorf("firmware boot: %w", err)
	}
	if im.upd != nil {
		if im.Image, err = im.upd.boot(); err != nil {
			return nil, fmt.Errorf("firmware boot: %w", err)
		}
	}
	return im, nil
}

// Now is the kernel's timeline now (the board clock plus the offset that
// carries the timeline across power cycles).
func (im *Implant) Now() units.Millis { return im.now() }

// State is the kernel state (for tests and status).
func (im *Implant) State() pump.State { return im.st }

// Head is the log's head (sequence number and hash).
func (im *Implant) Head() (uint64, implog.Hash) { return im.log.Head() }

func (im *Implant) persist(r *protocol.LogRecord, withState bool) error {
	if !withState {
		return im.append(r)
	}
	b, err := encodeState(&im.st)
	if err != nil {
		return err
	}
	return im.persistState(r, b, im.st.Guard.LastCounter)
}

// Outcome is what happened to one received frame.
type Outcome struct {
	// Refused is set when the frame never reached the kernel.
	Refused error
	// Decision is the kernel's decision when it did.
	Accepted  bool
	Reason    reason.Code
	Delivered units.CentiUnits
	Alerts    []reason.Code
	Counter   uint64
	Values    []int64
}

// step runs the kernel, persists, then actuates. The persisted state is the
// one after the step: if power fails after persisting and before the motor
// runs, the delivery is counted (never repeated) and flagged at boot.
func (im *Implant) step(in pump.Input, input string, values []int64, ref *protocol.CommandRef) (pump.Outputs, error) {
	prevMode := im.st.Mode
	nxt, outs := pump.Step(&im.cfg.Pump, im.st, in)
	im.st = nxt
	rec := &protocol.LogRecord{Type: protocol.RecStep, NowMs: int64(in.NowMs), Input: input, Values: values}
	if ref != nil {
		rec.CmdDigest = ref.Digest
	}
	summarise(rec, &outs)
	if !pumpMustSync(prevMode, &in, &nxt, &outs) {
		return outs, nil
	}
	if err := im.persist(rec, true); err != nil {
		// Nothing is actuated without its record; stop the motor to be safe.
		_ = im.board.Pump.Stop()
		return outs, err
	}
	seq, _ := im.log.Head()
	acts := pumpActions(&outs)
	actuated := false
	for _, a := range acts {
		actuated = actuated || a.kind == actDeliver
	}
	if _, herr := carryOut(im.board, acts, func() bool { return pumpHalted(im.st.Mode) }); herr != nil {
		// The kernel already counted the full amount; the rest of this
		// batch is dropped and only the fault step's outputs are carried out.
		if err := im.halFault(herr); err != nil {
			return outs, err
		}
	}
	if actuated {
		if err := im.persist(&protocol.LogRecord{Type: protocol.RecActuated, NowMs: int64(in.NowMs), Of: seq}, false); err != nil {
			return outs, err
		}
	}
	return outs, nil
}

// halFault turns an actuator error into the kernel's HAL event.
func (im *Implant) halFault(err error) error {
	var k pump.HALKind
	switch {
	case errors.Is(err, hal.ErrOcclusion):
		k = pump.HALOcclusion
	case errors.Is(err, hal.ErrReservoirEmpty):
		_, e := im.step(pump.Input{Kind: pump.InHAL, NowMs: im.now(), HAL: pump.HALReservoir, ReservoirCU: 0}, "hal reservoir-empty", nil, nil)
		return e
	default:
		k = pump.HALMotorFault
	}
	_, e := im.step(pump.Input{Kind: pump.InHAL, NowMs: im.now(), HAL: k}, "hal "+k.String(), nil, nil)
	return e
}

// Tick reads the sensors, kicks the watchdog and advances the kernel's time.
func (im *Implant) Tick() error {
	now := im.now()
	if im.board.Watchdog != nil && im.board.Watchdog.Expired() {
		if _, err := im.step(pump.Input{Kind: pump.InHAL, NowMs: now, HAL: pump.HALWatchdog}, "hal watchdog", nil, nil); err != nil {
			return err
		}
	}
	if im.board.Glucose != nil {
		if g, at, err := im.board.Glucose.Read(); err == nil {
			im.remember(int64(g))
			if _, err := im.step(pump.Input{Kind: pump.InGlucose, NowMs: now, Glucose: g, GlucoseAtMs: at + im.offset}, "glucose", []int64{int64(g)}, nil); err != nil {
				return err
			}
		}
	}
	if r, err := im.board.Pump.Reservoir(); err == nil {
		if _, err := im.step(pump.Input{Kind: pump.InHAL, NowMs: now, HAL: pump.HALReservoir, ReservoirCU: r}, "hal reservoir", []int64{int64(r)}, nil); err != nil {
			return err
		}
	}
	if _, err := im.step(pump.Input{Kind: pump.InTick, NowMs: now}, "tick", nil, nil); err != nil {
		return err
	}
	if im.board.Watchdog != nil {
		return im.board.Watchdog.Kick()
	}
	return nil
}

// DeliveryDone tells the kernel the pump finished the bolus in progress.
func (im *Implant) DeliveryDone() error {
	_, err := im.step(pump.Input{Kind: pump.InHAL, NowMs: im.now(), HAL: pump.HALDeliveryDone}, "hal delivery-done", nil, nil)
	return err
}

// HandleProgram gives the kernel a program-limits command authenticated
// out of band at provisioning (the radio protocol carries no limits in this
// version: limits would have to be sealed to the implant, not only compared).
func (im *Implant) HandleProgram(c pump.Command) (Outcome, pump.Outputs, error) {
	outs, err := im.step(pump.Input{Kind: pump.InCommand, NowMs: im.now(), Cmd: c}, "provisioning", nil, nil)
	o := Outcome{Counter: c.Header.Counter}
	for _, x := range outs.All() {
		if x.Kind == pump.OutDecision {
			o.Accepted, o.Reason = x.Accepted, x.Reason
		}
	}
	return o, outs, err
}

// HandleFrame processes one radio frame (a wire.Bundle) and returns what
// happened and the signed acknowledgement to send back, which names the
// command it answers. A frame refused before the kernel is logged (without
// state) and acknowledged with its refusal; it changes nothing else.
func (im *Implant) HandleFrame(frame []byte) (Outcome, []byte, error) {
	now := im.now()
	cmd, op, err := im.open(frame, now)
	if err != nil {
		ack, aerr := im.refuse(frame, err)
		return Outcome{Refused: err}, ack, aerr
	}
	ref, err := protocol.RefOf(&op.header)
	if err != nil {
		return Outcome{}, nil, err
	}
	outs, err := im.step(pump.Input{Kind: pump.InCommand, NowMs: now, Cmd: cmd}, "command", op.values, &ref)
	if err != nil {
		return Outcome{}, nil, err
	}
	o := Outcome{Counter: cmd.Header.Counter, Values: op.values, Delivered: outs.Delivered()}
	p := protocol.Private{Values: op.values}
	for _, x := range outs.All() {
		switch x.Kind {
		case pump.OutDecision:
			o.Accepted, o.Reason = x.Accepted, x.Reason
		case pump.OutAlert:
			o.Alerts = append(o.Alerts, x.Reason)
		case pump.OutActuate:
			p.Delivered = append(p.Delivered, int64(x.Amount))
		}
	}
	p.Accepted, p.Reason, p.Alerts = o.Accepted, o.Reason, o.Alerts
	ack, err := im.decided(ref, p)
	return o, ack, err
}

// Answer serves a query about one command (link.TypeQuery): the signed
// decision, or a signed "no decision on record" with the last counter.
func (im *Implant) Answer(payload []byte) ([]byte, error) {
	return im.answer(payload, im.st.Guard.LastCounter)
}

// Status is a signed acknowledgement carrying the implant's time (header)
// and, sealed, its mode, last command counter and log head, so that the
// controller can date its commands on the implant's timeline.
func (im *Implant) Status() ([]byte, error) {
	return im.status(im.st.Mode.String(), im.st.Guard.LastCounter)
}

// open runs every check on a bundle before and around decryption and
// returns the kernel command.
func (im *Implant) open(frame []byte, now units.Millis) (pump.Command, opened, error) {
	o, err := openBundle(&im.verifier, im.keys, im.device, frame, now, im.st.Guard.LastCounter, &im.verdictCtr,
		int64(im.cfg.Pump.MaxCommandValidityMs), protocol.KindPump)
	if err != nil {
		return pump.Command{}, o, err
	}
	cmd := pump.Command{Kind: pump.CommandKind(o.header.Subkind), Header: o.guardHeader(), Verdict: o.verdict}
	switch cmd.Kind {
	case pump.CmdBolus:
		cmd.Amount = units.CentiUnits(o.values[0])
	case pump.CmdSetBasal:
		cmd.Rate = units.CentiUnitsPerHour(o.values[0])
	}
	return cmd, o, nil
}

// Service is one tick of the firmware loop: sensors, watchdog, the kernel's
// time, and the end of a bolus (Deliver is synchronous, so a bolus asked
// for is done by the next tick).
func (im *Implant) Service() error {
	if err := im.Tick(); err != nil {
		return err
	}
	if im.st.Mode == pump.ModeDelivering {
		return im.DeliveryDone()
	}
	return nil
}

// Until: the pump is stepped every loop period.
func (im *Implant) Until() time.Duration { return time.Hour }
