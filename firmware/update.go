package firmware

import (
	"errors"
	"fmt"

	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/update"
)

// UpdateConfig is the update path of a device. The firmware opens the slots
// (update.Open) at every boot, as a bootloader reads its state from flash,
// and gates slot switches with its kernel.
type UpdateConfig struct {
	Slots update.Config
	// SwitchMs is the declared blackout of a slot switch, given to the
	// kernel with each switch request.
	SwitchMs units.Millis
	// SelfTest runs on a trial boot with the test-booted image (digest just
	// verified); nil error confirms it, anything else reverts.
	SelfTest func(image []byte) error
}

// UpdateOutcome is what one update request did.
type UpdateOutcome struct {
	Event protocol.Event
	Err   error
	// Reboot: the staged image is pending and the kernel granted the
	// switch; the caller reboots now (Implant.Reboot).
	Reboot bool
}

// updateHost is what the update path needs of a device's firmware.
type updateHost interface {
	now() units.Millis
	// persistUpdate appends an update record with the kernel state.
	persistUpdate(r *protocol.LogRecord) error
	// gateSwitch asks the kernel whether a slot switch of switchMs is safe
	// now; the decision is logged with the kernel state.
	gateSwitch(switchMs units.Millis) (bool, reason.Code, error)
	// ackUpdate signs an update acknowledgement (p, if any, sealed).
	ackUpdate(info *protocol.UpdateInfo, p *protocol.Private) ([]byte, error)
}

// updater is the device-independent update path.
type updater struct {
	cfg   *UpdateConfig
	slots *update.Slots
	h     updateHost
	// last is the last update event logged since power-on; offered the
	// last offer's event (the image a later refusal concerns).
	last, offered *protocol.UpdateInfo
}

func newUpdater(cfg *UpdateConfig, h updateHost) (*updater, error) {
	if cfg == nil {
		return nil, nil
	}
	s, err := update.Open(cfg.Slots)
	if err != nil {
		return nil, fmt.Errorf("update slots: %w", err)
	}
	return &updater{cfg: cfg, slots: s, h: h}, nil
}

func (u *updater) info(ev protocol.Event, err error) *protocol.UpdateInfo {
	st := u.slots.State()
	r := &protocol.UpdateInfo{Event: ev, Slot: st.Active.String(), Phase: st.Phase.String(),
		Confirmed: st.ConfirmedCounter, RootVersion: st.Root.Version}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// log persists an update event; a failure to log is the caller's error.
func (u *updater) log(r *protocol.UpdateInfo) error {
	if err := u.h.persistUpdate(&protocol.LogRecord{Type: protocol.RecUpdate, NowMs: int64(u.h.now()), Update: r}); err != nil {
		return fmt.Errorf("update event %s: %w", r.Event, err)
	}
	u.last = r
	return nil
}

// serveUpdate is HandleUpdate for any device: the request goes to u, or,
// on firmware built without an update path, gets a signed "unavailable".
func serveUpdate(u *updater, h updateHost, payload []byte) (UpdateOutcome, []byte, error) {
	if u == nil {
		ack, err := h.ackUpdate(&protocol.UpdateInfo{Event: protocol.EvUnavailable, Error: ErrNoUpdatePath.Error()}, nil)
		return UpdateOutcome{Event: protocol.EvUnavailable, Err: ErrNoUpdatePath}, ack, err
	}
	return u.handle(payload)
}

// handle serves one update request and returns the reply payload: a signed
// acknowledgement of the resulting event (a chunk that staged gets an empty
// reply: the final "staged" event is what counts).
func (u *updater) handle(payload []byte) (UpdateOutcome, []byte, error) {
	req, err := protocol.DecodeUpdateRequest(payload)
	if err != nil {
		return u.refuse(err)
	}
	switch req.Op {
	case protocol.UpdStatus:
		r := u.info(protocol.EvStatus, nil)
		r.Missing = uint64(len(u.slots.Missing()))
		if st := u.slots.State(); st.Images[st.Active].Valid {
			r.Version = st.Images[st.Active].Version // the running image
		}
		if u.last != nil {
			// The last update event since power-on, and why.
			r.Last, r.Error, r.SecCtr = u.last.Event, u.last.Error, u.last.SecCtr
		}
		ack, err := u.h.ackUpdate(r, nil)
		return UpdateOutcome{Event: protocol.EvStatus}, ack, err
	case protocol.UpdOffer:
		offered := u.info(protocol.EvOffered, nil)
		if m, derr := update.DecodeManifest(req.Manifest); derr == nil {
			offered.Version, offered.SecCtr = m.Body.Version, m.Body.SecurityCounter
		}
		if err := u.log(offered); err != nil {
			return UpdateOutcome{}, nil, err
		}
		u.offered = offered
		if err := u.slots.Begin(req.Manifest); err != nil {
			return u.refuse(err)
		}
		r := u.info(protocol.EvDownloading, nil)
		r.Version, r.SecCtr = offered.Version, offered.SecCtr
		missing := u.slots.Missing()
		r.Missing = uint64(len(missing))
		if err := u.log(r); err != nil {
			return UpdateOutcome{}, nil, err
		}
		// The acknowledgement also says which chunks to send (the log keeps
		// only their number).
		withMap := *r
		withMap.MissingMap = protocol.MissingBitmap(missing)
		ack, err := u.h.ackUpdate(&withMap, nil)
		return UpdateOutcome{Event: protocol.EvDownloading}, ack, err
	case protocol.UpdRoot:
		if err := u.slots.RotateRoot(req.Root); err != nil {
			// Not about an image: no version in the record.
			return u.logAck(UpdateOutcome{Event: protocol.EvRefused, Err: err}, u.info(protocol.EvRefused, err), nil)
		}
		return u.logAck(UpdateOutcome{Event: protocol.EvRootRotated}, u.info(protocol.EvRootRotated, nil), nil)
	case protocol.UpdChunk:
		if err := u.slots.WriteChunk(int(req.Index), req.Chunk); err != nil {
			return u.refuse(err)
		}
		return UpdateOutcome{Event: protocol.EvChunkStaged}, nil, nil
	default: // UpdFinish
		if err := u.slots.Verify(); err != nil {
			return u.refuse(err)
		}
		// The switch is the kernel's decision, asked as a step of its own
		// (logged with the kernel state) between verifying and switching.
		ok, why, err := u.h.gateSwitch(u.cfg.SwitchMs)
		if err != nil {
			return UpdateOutcome{}, nil, err
		}
		if !ok {
			err := fmt.Errorf("finish: %w: kernel: %s", update.ErrSwitchRefused, why)
			// The kernel said not now: a typed event the relay retries on;
			// the kernel's reason says what the therapy is doing, so only
			// the clinic reads it (the implant's own log keeps it too).
			r := u.info(protocol.EvSwitchRefused, nil)
			if u.offered != nil {
				r.Version, r.SecCtr = u.offered.Version, u.offered.SecCtr
			}
			if lerr := u.h.persistUpdate(&protocol.LogRecord{Type: protocol.RecUpdate, NowMs: int64(u.h.now()), Update: r,
				Reason: why, Error: err.Error()}); lerr != nil {
				return UpdateOutcome{}, nil, lerr
			}
			u.last = r
			ack, aerr := u.h.ackUpdate(r, &protocol.Private{Reason: why, Detail: err.Error()})
			return UpdateOutcome{Event: protocol.EvSwitchRefused, Err: err}, ack, aerr
		}
		if err := u.slots.MarkPending(); err != nil {
			return u.refuse(err)
		}
		st := u.slots.State()
		r := u.info(protocol.EvStaged, nil)
		if p := st.Images[st.Active.Other()]; p.Valid {
			r.Version, r.SecCtr = p.Version, p.SecurityCounter
		}
		return u.logAck(UpdateOutcome{Event: protocol.EvStaged, Reboot: st.Phase == update.PhasePending}, r, nil)
	}
}

func (u *updater) refuse(cause error) (UpdateOutcome, []byte, error) {
	r := u.info(protocol.EvRefused, cause)
	if u.offered != nil {
		r.Version, r.SecCtr = u.offered.Version, u.offered.SecCtr
	}
	return u.logAck(UpdateOutcome{Event: protocol.EvRefused, Err: cause}, r, nil)
}

func (u *updater) logAck(o UpdateOutcome, r *protocol.UpdateInfo, p *protocol.Private) (UpdateOutcome, []byte, error) {
	if err := u.log(r); err != nil {
		return o, nil, err
	}
	ack, err := u.h.ackUpdate(r, p)
	return o, ack, err
}

// boot is the bootloader's part at power-on, after the kernel state is
// restored: test-boot a pending image if the kernel allows, run the
// self-test on it, and confirm or revert. Every outcome is logged.
func (u *updater) boot() (update.BootInfo, error) {
	before := u.slots.State()
	allow, why := false, reason.OK
	if u.slots.PendingSwitch() {
		var err error
		if allow, why, err = u.h.gateSwitch(u.cfg.SwitchMs); err != nil {
			return update.BootInfo{}, err
		}
	}
	info, err := u.slots.Boot(allow)
	if err != nil {
		return info, fmt.Errorf("bootloader: %w", err)
	}
	switch {
	case info.Reverted:
		why := errors.New("trial image never confirmed (self-test failed, hung or lost power)")
		if before.Phase == update.PhasePending {
			why = errors.New("staged image rolled back or damaged")
		}
		r := u.info(protocol.EvReverted, why)
		r.Version, r.SecCtr = before.Images[before.Active.Other()].Version, before.Images[before.Active.Other()].SecurityCounter
		return info, u.log(r)
	case before.Phase == update.PhasePending && !info.Trial:
		r := u.info(protocol.EvDeferred, nil)
		if err := u.h.persistUpdate(&protocol.LogRecord{Type: protocol.RecUpdate, NowMs: int64(u.h.now()), Update: r, Reason: why}); err != nil {
			return info, fmt.Errorf("update event %s: %w", r.Event, err)
		}
		u.last = r
		return info, nil
	case !info.Trial:
		return info, nil
	}
	r := u.info(protocol.EvTrial, nil)
	r.Version, r.SecCtr = info.Version, info.SecurityCounter
	if err := u.log(r); err != nil {
		return info, err
	}
	img, err := u.slots.ReadImage(info.Slot)
	if err == nil && u.cfg.SelfTest != nil {
		err = u.cfg.SelfTest(img)
	} else if err == nil {
		err = errors.New("no self-test configured")
	}
	if err != nil {
		if _, rerr := u.slots.Revert(); rerr != nil {
			return info, fmt.Errorf("bootloader: revert after failed self-test (%v): %w", err, rerr)
		}
		r := u.info(protocol.EvReverted, fmt.Errorf("self-test: %w", err))
		r.Version, r.SecCtr = info.Version, info.SecurityCounter
		st := u.slots.State()
		act := st.Images[st.Active]
		return update.BootInfo{Slot: st.Active, Version: act.Version, SecurityCounter: act.SecurityCounter, Reverted: true}, u.log(r)
	}
	if err := u.slots.Confirm(); err != nil {
		return info, fmt.Errorf("bootloader: %w", err)
	}
	info.Trial = false // confirmed: no longer on trial
	r = u.info(protocol.EvConfirmed, nil)
	r.Version, r.SecCtr = info.Version, info.SecurityCounter
	return info, u.log(r)
}
