package firmware

import (
	"errors"
	"fmt"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

// Typed errors for frames refused before the kernel (besides wire's).
var (
	ErrNoVerdict   = errors.New("firmware: command needs a verdict and none came")
	ErrBinding     = errors.New("firmware: verdict does not answer this command")
	ErrCommitment  = errors.New("firmware: decrypted values do not match the clinician's commitment")
	ErrDecrypt     = errors.New("firmware: verdict packet did not decrypt to valid values")
	ErrUnsupported = errors.New("firmware: command kind not supported over the radio")
	ErrLog         = errors.New("firmware: log append failed; nothing actuated")
)

// Keys are the implant's secrets and trust anchors.
type Keys struct {
	FHE     *fhe.SecretKeys  // sk_I: opens radio packets
	Signer  *wire.SigningKey // signs acknowledgements and telemetry
	Trust   *wire.TrustList  // clinician and relay keys
	BindKey []byte           // shared with the clinician: value commitments
	Clinic  *fhe.PublicKey   // pk_C: telemetry is encrypted to the clinic
}

// Config is fixed for a device.
type Config struct {
	DeviceID string
	Pump     pump.Config
	// LogName is the log's name in storage.
	LogName string
	// Update is the firmware-update path; nil: this build takes no updates.
	Update *UpdateConfig
}

// Implant is the running firmware.
type Implant struct {
	cfg      Config
	keys     Keys
	board    hal.Board
	log      *implog.Log
	verifier wire.Verifier
	st       pump.State
	offset   units.Millis
	// verdictCtr is the last relay verdict counter accepted; ackCtr the last
	// counter the implant signed.
	verdictCtr uint64
	ackCtr     uint64
	// Interrupted is set at boot when the log ends with a delivery request
	// whose actuation was not confirmed (power cut in between).
	Interrupted bool
	Recovery    implog.Recovery
	readings    []int64
	upd         *updater
	// Image is what the bootloader booted (zero without an update path).
	Image update.BootInfo
}

// Schema returns the homomorphically compared parameters of a pump command
// kind, or false if it carries none.
func Schema(k pump.CommandKind) (fhe.Schema, bool) { return PumpSchema(uint8(k)) }

// PumpSchema is Schema by the envelope's subkind byte.
func PumpSchema(sub uint8) (fhe.Schema, bool) {
	switch pump.CommandKind(sub) {
	case pump.CmdBolus:
		return fhe.Schema{{Quantity: fhe.BolusCentiUnits, Relation: fhe.AtMost}}, true
	case pump.CmdSetBasal:
		return fhe.Schema{{Quantity: fhe.BasalCentiUnitsPerHour, Relation: fhe.AtMost}}, true
	}
	return nil, false
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
	im := &Implant{cfg: cfg, keys: keys, board: board, log: lg, st: pump.NewState(), Recovery: rec,
		verifier: wire.Verifier{DeviceID: cfg.DeviceID, Trust: keys.Trust, MaxFrame: wire.MaxRadioFrame}}
	pendingActuation := false
	for r, err := range lg.Records() {
		if err != nil {
			return nil, fmt.Errorf("firmware boot: read log: %w", err)
		}
		d, err := DecodeRecord(r.Payload)
		if err != nil {
			return nil, fmt.Errorf("firmware boot: record %d: %w", r.Seq, err)
		}
		if d.State != nil {
			st, err := decodeState(d.State)
			if err != nil {
				return nil, fmt.Errorf("firmware boot: record %d: %w", r.Seq, err)
			}
			im.st, im.verdictCtr, im.ackCtr = st, d.VerdictCtr, d.AckCtr
		}
		switch d.Type {
		case RecStep:
			pendingActuation = len(d.Deliver) > 0
		case RecActuated:
			pendingActuation = false
		}
	}
	im.Interrupted = pendingActuation
	if now := board.Clock.Now(); now < im.st.NowMs {
		// The board's monotonic clock restarts at power-on; the kernel's
		// timeline continues from the last persisted instant.
		im.offset = im.st.NowMs - now
	}
	boot := &Record{Type: RecBoot, NowMs: int64(im.now())}
	if im.Interrupted {
		boot.Alerts = []string{"delivery-interrupted-by-power-loss"}
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

func (im *Implant) now() units.Millis { return im.board.Clock.Now() + im.offset }

// Now is the kernel's timeline now (the board clock plus the offset that
// carries the timeline across power cycles).
func (im *Implant) Now() units.Millis { return im.now() }

// State is the kernel state (for tests and status).
func (im *Implant) State() pump.State { return im.st }

// Head is the log's head (sequence number and hash).
func (im *Implant) Head() (uint64, implog.Hash) { return im.log.Head() }

func (im *Implant) persist(r *Record, withState bool) error {
	if withState {
		b, err := encodeState(im.st)
		if err != nil {
			return err
		}
		r.State, r.VerdictCtr, r.AckCtr = b, im.verdictCtr, im.ackCtr
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
func (im *Implant) step(in pump.Input, input string, values []int64) (pump.Outputs, error) {
	prevMode := im.st.Mode
	nxt, outs := pump.Step(&im.cfg.Pump, im.st, in)
	im.st = nxt
	rec := &Record{Type: RecStep, NowMs: int64(in.NowMs), Input: input, Values: values}
	summarise(rec, &outs)
	interesting := prevMode != nxt.Mode || in.Kind == pump.InCommand
	for _, o := range outs.All() {
		if o.Kind != pump.OutEvent {
			interesting = true
		}
	}
	if !interesting {
		return outs, nil
	}
	if err := im.persist(rec, true); err != nil {
		// Nothing is actuated without its record; stop the motor to be safe.
		_ = im.board.Pump.Stop()
		return outs, err
	}
	seq, _ := im.log.Head()
	actuated := false
	for _, o := range outs.All() {
		switch o.Kind {
		case pump.OutStop:
			_ = im.board.Pump.Stop()
		case pump.OutActuate:
			actuated = true
			if err := im.board.Pump.Deliver(o.Amount); err != nil {
				// The kernel already counted the full amount.
				if err := im.halFault(err); err != nil {
					return outs, err
				}
			}
		}
	}
	if actuated {
		if err := im.persist(&Record{Type: RecActuated, NowMs: int64(in.NowMs), Of: seq}, false); err != nil {
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
		_, e := im.step(pump.Input{Kind: pump.InHAL, NowMs: im.now(), HAL: pump.HALReservoir, ReservoirCU: 0}, "hal reservoir-empty", nil)
		return e
	default:
		k = pump.HALMotorFault
	}
	_, e := im.step(pump.Input{Kind: pump.InHAL, NowMs: im.now(), HAL: k}, "hal "+k.String(), nil)
	return e
}

// Tick reads the sensors, kicks the watchdog and advances the kernel's time.
func (im *Implant) Tick() error {
	now := im.now()
	if im.board.Watchdog != nil && im.board.Watchdog.Expired() {
		if _, err := im.step(pump.Input{Kind: pump.InHAL, NowMs: now, HAL: pump.HALWatchdog}, "hal watchdog", nil); err != nil {
			return err
		}
	}
	if im.board.Glucose != nil {
		if g, at, err := im.board.Glucose.Read(); err == nil {
			im.remember(int64(g))
			if _, err := im.step(pump.Input{Kind: pump.InGlucose, NowMs: now, Glucose: g, GlucoseAtMs: at + im.offset}, "glucose", []int64{int64(g)}); err != nil {
				return err
			}
		}
	}
	if r, err := im.board.Pump.Reservoir(); err == nil {
		if _, err := im.step(pump.Input{Kind: pump.InHAL, NowMs: now, HAL: pump.HALReservoir, ReservoirCU: r}, "hal reservoir", []int64{int64(r)}); err != nil {
			return err
		}
	}
	if _, err := im.step(pump.Input{Kind: pump.InTick, NowMs: now}, "tick", nil); err != nil {
		return err
	}
	if im.board.Watchdog != nil {
		return im.board.Watchdog.Kick()
	}
	return nil
}

// DeliveryDone tells the kernel the pump finished the bolus in progress.
func (im *Implant) DeliveryDone() error {
	_, err := im.step(pump.Input{Kind: pump.InHAL, NowMs: im.now(), HAL: pump.HALDeliveryDone}, "hal delivery-done", nil)
	return err
}

// HandleProgram gives the kernel a program-limits command authenticated
// out of band at provisioning (the radio protocol carries no limits in this
// version: limits would have to be sealed to the implant, not only compared).
func (im *Implant) HandleProgram(c pump.Command) (Outcome, pump.Outputs, error) {
	outs, err := im.step(pump.Input{Kind: pump.InCommand, NowMs: im.now(), Cmd: c}, "provisioning", nil)
	o := Outcome{Counter: c.Header.Counter}
	for _, x := range outs.All() {
		if x.Kind == pump.OutDecision {
			o.Accepted, o.Reason = x.Accepted, x.Reason
		}
	}
	return o, outs, err
}

// HandleFrame processes one radio frame (a wire.Bundle) and returns what
// happened and the signed acknowledgement to send back. A frame refused
// before the kernel is logged (without state) and acknowledged with its
// error; it changes nothing else.
func (im *Implant) HandleFrame(frame []byte) (Outcome, []byte, error) {
	now := im.now()
	cmd, values, err := im.open(frame, now)
	if err != nil {
		if perr := im.persist(&Record{Type: RecRefused, NowMs: int64(now), Error: err.Error()}, false); perr != nil {
			return Outcome{Refused: err}, nil, perr
		}
		ack, aerr := im.ack(&Record{Type: RecRefused, NowMs: int64(now), Error: err.Error()})
		return Outcome{Refused: err}, ack, aerr
	}
	outs, err := im.step(pump.Input{Kind: pump.InCommand, NowMs: now, Cmd: cmd}, "command", values)
	if err != nil {
		return Outcome{}, nil, err
	}
	o := Outcome{Counter: cmd.Header.Counter, Values: values, Delivered: outs.Delivered()}
	rec := &Record{Type: RecStep, NowMs: int64(now), Values: values}
	summarise(rec, &outs)
	for _, x := range outs.All() {
		switch x.Kind {
		case pump.OutDecision:
			o.Accepted, o.Reason = x.Accepted, x.Reason
		case pump.OutAlert:
			o.Alerts = append(o.Alerts, x.Reason)
		}
	}
	ack, err := im.ack(rec)
	return o, ack, err
}

func (im *Implant) ack(r *Record) ([]byte, error) {
	return sealAck(r, im.keys.Signer, im.cfg.DeviceID, &im.ackCtr, im.now(), im.cfg.Pump.MaxCommandValidityMs)
}

// sealAck signs a record as the implant's acknowledgement with the next
// outgoing counter; every device kind acknowledges the same way.
func sealAck(r *Record, signer *wire.SigningKey, device string, ctr *uint64, now, validity units.Millis) ([]byte, error) {
	body, err := EncodeRecord(r)
	if err != nil {
		return nil, err
	}
	*ctr++
	env, err := wire.Seal(wire.Header{Kind: wire.KindAck, DeviceID: device, Counter: *ctr,
		IssuedAtMs: int64(now), ExpiresAtMs: int64(now + validity)}, body, signer)
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}

// open runs every check on a bundle before and around decryption and
// returns the kernel command.
func (im *Implant) open(frame []byte, now units.Millis) (pump.Command, []int64, error) {
	o, err := openBundle(&im.verifier, im.keys, im.cfg.DeviceID, frame, now, im.st.Guard.LastCounter, &im.verdictCtr,
		int64(im.cfg.Pump.MaxCommandValidityMs), PumpSchema, pumpNoValues)
	if err != nil {
		return pump.Command{}, nil, err
	}
	cmd := pump.Command{Kind: pump.CommandKind(o.header.Subkind), Header: o.guardHeader(), Verdict: o.verdict}
	switch cmd.Kind {
	case pump.CmdBolus:
		cmd.Amount = units.CentiUnits(o.values[0])
	case pump.CmdSetBasal:
		cmd.Rate = units.CentiUnitsPerHour(o.values[0])
	}
	return cmd, o.values, nil
}

func pumpNoValues(sub uint8) bool {
	switch pump.CommandKind(sub) {
	case pump.CmdSuspend, pump.CmdResume, pump.CmdAckAlarm, pump.CmdCancelTempBasal:
		return true
	}
	return false
}
