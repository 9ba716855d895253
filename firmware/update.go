package firmware

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/update"
)

// Update operations carried over the radio (link.TypeUpdate). The manifest
// is signed by a threshold of manufacturer keys and each chunk is sealed
// under a content key only this device can unwrap, so the messages need no
// further signature; the kernel decides when a slot switch is safe.
const (
	UpdOffer  uint8 = 1 // Manifest: begin (or resume) a download
	UpdChunk  uint8 = 2 // Index, Chunk: one ciphertext chunk
	UpdFinish uint8 = 3 // verify the staged image, ask the kernel, mark it pending and switch
	UpdStatus uint8 = 4 // the update state, signed
	UpdRoot   uint8 = 5 // Root: a signed new trust root (manufacturer key rotation)
)

// Update events in the implant log (Record.Event of a RecUpdate record) and
// in the relay's log (the implant's signed acknowledgements).
const (
	EvOffered     = "offered"      // a manifest arrived (before any check)
	EvDownloading = "downloading"  // the manifest passed every check; chunks may come
	EvStaged      = "staged"       // the staged image verified and the kernel granted the switch: pending
	EvTrial       = "trial"        // the pending image is being test-booted
	EvConfirmed   = "confirmed"    // the trial image passed its self-test and is now active
	EvReverted    = "reverted"     // a trial or pending image was abandoned; Error says why
	EvRefused     = "refused"      // an offer, chunk or finish was refused; Error says why
	EvDeferred    = "deferred"     // a pending image was not switched to: the kernel said not now
	EvRootRotated = "root-rotated" // a signed new trust root replaced the old one
	EvStatus      = "status"       // a status reply (not logged)
	EvChunkOK     = "chunk-staged" // a chunk reply (not logged)
	EvUnavailable = "unavailable"  // this firmware has no update path configured
)

// RecUpdate is the log record type of update events.
const RecUpdate = "update"

// MaxUpdateRequest bounds an encoded update request.
const MaxUpdateRequest = update.MaxManifestSize + update.MaxChunkSize + update.TagSize + 64

// ErrUpdateRequest: an update request that does not decode or is not
// well-formed for its operation.
var ErrUpdateRequest = errors.New("firmware: malformed update request")

// UpdateRequest is one update message from the relay.
type UpdateRequest struct {
	Op       uint8  `cbor:"1,keyasint"`
	Manifest []byte `cbor:"2,keyasint,omitempty"`
	Index    uint32 `cbor:"3,keyasint,omitempty"`
	Chunk    []byte `cbor:"4,keyasint,omitempty"`
	Root     []byte `cbor:"5,keyasint,omitempty"`
}

var updDec cbor.DecMode

func init() {
	var err error
	if updDec, err = (cbor.DecOptions{MaxNestedLevels: 4, MaxArrayElements: 16, MaxMapPairs: 16,
		DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden, TagsMd: cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField}).DecMode(); err != nil {
		panic(err)
	}
}

// EncodeUpdateRequest encodes a request (deterministic CBOR).
func EncodeUpdateRequest(r *UpdateRequest) ([]byte, error) {
	b, err := recEnc.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("firmware: encode update request: %w", err)
	}
	return b, nil
}

// DecodeUpdateRequest parses an untrusted update request: bounded size,
// canonical CBOR, a known operation with exactly its fields.
func DecodeUpdateRequest(b []byte) (*UpdateRequest, error) {
	if len(b) > MaxUpdateRequest {
		return nil, fmt.Errorf("%w: %d bytes", ErrUpdateRequest, len(b))
	}
	var r UpdateRequest
	if err := updDec.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUpdateRequest, err)
	}
	if again, err := recEnc.Marshal(&r); err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrUpdateRequest)
	}
	ok := false
	switch r.Op {
	case UpdOffer:
		ok = len(r.Manifest) > 0 && len(r.Manifest) <= update.MaxManifestSize && r.Index == 0 && r.Chunk == nil && r.Root == nil
	case UpdChunk:
		ok = r.Manifest == nil && r.Root == nil && len(r.Chunk) > update.TagSize && len(r.Chunk) <= update.MaxChunkSize+update.TagSize
	case UpdFinish, UpdStatus:
		ok = r.Manifest == nil && r.Index == 0 && r.Chunk == nil && r.Root == nil
	case UpdRoot:
		ok = len(r.Root) > 0 && len(r.Root) <= update.MaxManifestSize && r.Manifest == nil && r.Index == 0 && r.Chunk == nil
	}
	if !ok {
		return nil, fmt.Errorf("%w: operation %d with the wrong fields", ErrUpdateRequest, r.Op)
	}
	return &r, nil
}

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
	Event string
	Err   error
	// Reboot: the staged image is pending and the kernel granted the
	// switch; the caller reboots now (Implant.Reboot).
	Reboot bool
}

// updateHost is what the update path needs of a device's firmware.
type updateHost interface {
	now() units.Millis
	// persistUpdate appends an update record with the kernel state.
	persistUpdate(r *Record) error
	// gateSwitch asks the kernel whether a slot switch of switchMs is safe
	// now; the decision is logged with the kernel state.
	gateSwitch(switchMs units.Millis) (bool, string, error)
	ack(r *Record) ([]byte, error)
}

// updater is the device-independent update path.
type updater struct {
	cfg   *UpdateConfig
	slots *update.Slots
	h     updateHost
	// why is the kernel's last refusal reason; gateErr a logging failure
	// inside the SwitchAllowed hook.
	why     string
	gateErr error
	// last is the last update event logged since power-on; offered the
	// last offer's record (the image a later refusal concerns).
	last, offered *Record
}

func newUpdater(cfg *UpdateConfig, h updateHost) (*updater, error) {
	if cfg == nil {
		return nil, nil
	}
	s, err := update.Open(cfg.Slots)
	if err != nil {
		return nil, fmt.Errorf("update slots: %w", err)
	}
	u := &updater{cfg: cfg, slots: s, h: h}
	s.SwitchAllowed = func() bool {
		ok, why, err := u.h.gateSwitch(cfg.SwitchMs)
		u.why = why
		if err != nil {
			u.gateErr = err
			return false
		}
		return ok
	}
	return u, nil
}

func (u *updater) record(ev string, err error) *Record {
	st := u.slots.State()
	r := &Record{Type: RecUpdate, NowMs: int64(u.h.now()), Event: ev, Slot: st.Active.String(),
		Phase: st.Phase.String(), Confirmed: st.ConfirmedCounter, RootVersion: st.Root.Version}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// log persists an update record; a failure to log is the caller's error.
func (u *updater) log(r *Record) error {
	if err := u.h.persistUpdate(r); err != nil {
		return fmt.Errorf("update event %s: %w", r.Event, err)
	}
	u.last = r
	return nil
}

// serveUpdate is HandleUpdate for any device: the request goes to u, or,
// on firmware built without an update path, gets a signed "unavailable".
func serveUpdate(u *updater, h updateHost, payload []byte) (UpdateOutcome, []byte, error) {
	if u == nil {
		ack, err := h.ack(&Record{Type: RecUpdate, NowMs: int64(h.now()), Event: EvUnavailable, Error: ErrNoUpdatePath.Error()})
		return UpdateOutcome{Event: EvUnavailable, Err: ErrNoUpdatePath}, ack, err
	}
	return u.handle(payload)
}

// handle serves one update request and returns the reply payload: a signed
// acknowledgement of the resulting event (a chunk that staged gets an empty
// reply: the final "staged" event is what counts).
func (u *updater) handle(payload []byte) (UpdateOutcome, []byte, error) {
	req, err := DecodeUpdateRequest(payload)
	if err != nil {
		return u.refuse(err)
	}
	switch req.Op {
	case UpdStatus:
		r := u.record(EvStatus, nil)
		r.Missing = uint64(len(u.slots.Missing()))
		if st := u.slots.State(); st.Images[st.Active].Valid {
			r.Version = st.Images[st.Active].Version // the running image
		}
		if u.last != nil {
			// The last update event since power-on, and why.
			r.Reason, r.Error, r.SecCtr = u.last.Event, u.last.Error, u.last.SecCtr
		}
		ack, err := u.h.ack(r)
		return UpdateOutcome{Event: EvStatus}, ack, err
	case UpdOffer:
		offered := u.record(EvOffered, nil)
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
		r := u.record(EvDownloading, nil)
		r.Version, r.SecCtr = offered.Version, offered.SecCtr
		missing := u.slots.Missing()
		r.Missing = uint64(len(missing))
		if err := u.log(r); err != nil {
			return UpdateOutcome{}, nil, err
		}
		// The acknowledgement also says which chunks to send (the log keeps
		// only their number).
		withMap := *r
		withMap.MissingMap = MissingBitmap(missing)
		ack, err := u.h.ack(&withMap)
		return UpdateOutcome{Event: EvDownloading}, ack, err
	case UpdRoot:
		if err := u.slots.RotateRoot(req.Root); err != nil {
			// Not about an image: no version in the record.
			return u.logAck(UpdateOutcome{Event: EvRefused, Err: err}, u.record(EvRefused, err))
		}
		return u.logAck(UpdateOutcome{Event: EvRootRotated}, u.record(EvRootRotated, nil))
	case UpdChunk:
		if err := u.slots.WriteChunk(int(req.Index), req.Chunk); err != nil {
			return u.refuse(err)
		}
		return UpdateOutcome{Event: EvChunkOK}, nil, nil
	default: // UpdFinish
		u.why, u.gateErr = "", nil
		err := u.slots.Finish()
		if u.gateErr != nil {
			return UpdateOutcome{}, nil, u.gateErr
		}
		if err != nil {
			if errors.Is(err, update.ErrSwitchRefused) && u.why != "" {
				err = fmt.Errorf("%w: kernel: %s", err, u.why)
			}
			return u.refuse(err)
		}
		st := u.slots.State()
		r := u.record(EvStaged, nil)
		if p := st.Images[st.Active.Other()]; p.Valid {
			r.Version, r.SecCtr = p.Version, p.SecurityCounter
		}
		return u.logAck(UpdateOutcome{Event: EvStaged, Reboot: st.Phase == update.PhasePending}, r)
	}
}

// MissingBitmap encodes chunk indices as a bitmap (bit i%8 of byte i/8);
// nil when none are missing.
func MissingBitmap(missing []int) []byte {
	if len(missing) == 0 {
		return nil
	}
	b := make([]byte, missing[len(missing)-1]/8+1)
	for _, i := range missing {
		b[i/8] |= 1 << (i % 8)
	}
	return b
}

// ChunkMissing reports whether a MissingMap marks chunk i as missing.
func ChunkMissing(bitmap []byte, i int) bool {
	return i/8 < len(bitmap) && bitmap[i/8]&(1<<(i%8)) != 0
}

func (u *updater) refuse(cause error) (UpdateOutcome, []byte, error) {
	r := u.record(EvRefused, cause)
	if u.offered != nil {
		r.Version, r.SecCtr = u.offered.Version, u.offered.SecCtr
	}
	return u.logAck(UpdateOutcome{Event: EvRefused, Err: cause}, r)
}

func (u *updater) logAck(o UpdateOutcome, r *Record) (UpdateOutcome, []byte, error) {
	if err := u.log(r); err != nil {
		return o, nil, err
	}
	ack, err := u.h.ack(r)
	return o, ack, err
}

// boot is the bootloader's part at power-on, after the kernel state is
// restored: test-boot a pending image if the kernel allows, run the
// self-test on it, and confirm or revert. Every outcome is logged.
func (u *updater) boot() (update.BootInfo, error) {
	u.why, u.gateErr = "", nil
	before := u.slots.State()
	info, err := u.slots.Boot()
	if u.gateErr != nil {
		return info, u.gateErr
	}
	if err != nil {
		return info, fmt.Errorf("bootloader: %w", err)
	}
	switch {
	case info.Reverted:
		why := errors.New("trial image never confirmed (self-test failed, hung or lost power)")
		if before.Phase == update.PhasePending {
			why = errors.New("staged image rolled back or damaged")
		}
		r := u.record(EvReverted, why)
		r.Version, r.SecCtr = before.Images[before.Active.Other()].Version, before.Images[before.Active.Other()].SecurityCounter
		return info, u.log(r)
	case before.Phase == update.PhasePending && !info.Trial:
		r := u.record(EvDeferred, fmt.Errorf("kernel: %s", u.why))
		return info, u.log(r)
	case !info.Trial:
		return info, nil
	}
	r := u.record(EvTrial, nil)
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
		r := u.record(EvReverted, fmt.Errorf("self-test: %w", err))
		r.Version, r.SecCtr = info.Version, info.SecurityCounter
		st := u.slots.State()
		act := st.Images[st.Active]
		return update.BootInfo{Slot: st.Active, Version: act.Version, SecurityCounter: act.SecurityCounter, Reverted: true}, u.log(r)
	}
	if err := u.slots.Confirm(); err != nil {
		return info, fmt.Errorf("bootloader: %w", err)
	}
	info.Trial = false // confirmed: no longer on trial
	r = u.record(EvConfirmed, nil)
	r.Version, r.SecCtr = info.Version, info.SecurityCounter
	return info, u.log(r)
}
