package update

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/implantfhe/implantfhe/objstore"
)

// Config says which device a Slots instance runs on.
type Config struct {
	Storage objstore.Storage
	// Prefix names the storage objects; "" means "update".
	Prefix string
	// VendorID and ClassID are this device's; manifests for others are
	// refused.
	VendorID uint32
	ClassID  uint32
	// DeviceKey is the device's X25519 key that content keys are wrapped for.
	DeviceKey *ecdh.PrivateKey
	// SlotSize bounds an image, in bytes; 0 means MaxImageSize.
	SlotSize uint64
}

func (c *Config) prefix() string {
	if c.Prefix == "" {
		return "update"
	}
	return c.Prefix
}

func (c *Config) slotSize() uint64 {
	if c.SlotSize == 0 || c.SlotSize > MaxImageSize {
		return MaxImageSize
	}
	return c.SlotSize
}

// BootInfo is what Boot decided.
type BootInfo struct {
	Slot            SlotID
	Version         uint64
	SecurityCounter uint64
	// Trial is set when Slot holds an unconfirmed image being test-booted:
	// the firmware runs its self-test and calls Confirm, or Revert.
	Trial bool
	// Reverted is set when this boot abandoned a staged or tried image.
	Reverted bool
}

// Slots is the implant side of the update path over objstore.Storage: two image
// slots and the persisted State. Every persisted change is one state write
// (see state.go), so a power cut at any point leaves the previous or the next
// state, and Boot only ever returns a slot whose image digest it just
// verified. Slots is safe for concurrent use.
//
// Slots never asks anyone whether a slot switch is safe: the caller does,
// as a step of its own between Verify and MarkPending, and before Boot
// (PendingSwitch says whether Boot would test-boot an image), passing the
// answer in. Slots holds no pointer to its caller.
type Slots struct {
	mu sync.Mutex
	// verified: the download in progress passed Verify (cleared with it).
	verified bool
	cfg      Config
	gen      uint64
	st       State
	broken   error

	// The download in progress (PhaseDownloading with its manifest loaded).
	m        *Manifest
	aead     cipher.AEAD
	ref      imageRef
	received []bool
}

func isNotFound(err error) bool { return errors.Is(err, objstore.ErrNotFound) }

func (s *Slots) manifestObject() string { return s.cfg.prefix() + ".manifest" }

// Provision installs the factory image in slot A and creates the update
// state with root as trust root and securityCounter as the confirmed
// counter. It refuses storage that already holds update state: re-provisioning
// in the field would reset the anti-rollback counter and the trust root.
func Provision(cfg Config, root *TrustRoot, image []byte, version, securityCounter uint64, chunkSize int) error {
	st, prefix := cfg.Storage, cfg.prefix()
	for _, name := range []string{prefix + ".state.a", prefix + ".state.b"} {
		if _, err := st.ReadAll(name); err == nil {
			return fmt.Errorf("provision: %w: %q exists", ErrState, name)
		} else if !isNotFound(err) {
			return fmt.Errorf("provision: %w", err)
		}
	}
	if err := root.check(); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	if chunkSize == 0 {
		chunkSize = DefaultChunkSize
	}
	if chunkSize < MinChunkSize || chunkSize > MaxChunkSize {
		return fmt.Errorf("provision: %w: chunk size %d", ErrMalformed, chunkSize)
	}
	if len(image) == 0 || uint64(len(image)) > cfg.slotSize() {
		return fmt.Errorf("provision: %w: image of %d bytes", ErrSize, len(image))
	}
	d := sha256.Sum256(image)
	ref := imageRef{digest: d[:], size: uint64(len(image)), chunkSize: uint32(chunkSize)}
	for i := range ref.chunks() {
		lo := i * chunkSize
		rec := encodeChunk(ref, i, image[lo:lo+ref.plainLen(i)])
		if err := st.Overwrite(chunkObject(prefix, SlotA, i), rec); err != nil {
			return fmt.Errorf("provision: chunk %d: %w", i, err)
		}
	}
	if err := hashSlot(st, prefix, SlotA, ref, nil); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	state := State{
		Active: SlotA,
		Images: []ImageInfo{
			{Valid: true, Version: version, SecurityCounter: securityCounter, Size: ref.size, ChunkSize: ref.chunkSize, Digest: ref.digest},
			{},
		},
		ConfirmedCounter: securityCounter,
		Root:             root.clone(),
	}
	if err := state.check(); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	rec, err := EncodeStateRecord(1, &state)
	if err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	if err := st.Overwrite(stateCopy(prefix, 1), rec); err != nil {
		return fmt.Errorf("provision: state: %w", err)
	}
	return nil
}

// Open loads the update state. A download in progress resumes: the accepted
// manifest is re-read and re-verified, and the chunks already staged are
// found again. If that manifest cannot be re-read, Begin with it again.
func Open(cfg Config) (*Slots, error) {
	if cfg.Storage == nil {
		return nil, errors.New("update: open: no storage configured")
	}
	s := &Slots{cfg: cfg}
	gen, st, err := loadState(cfg.Storage, cfg.prefix())
	if err != nil {
		return nil, err
	}
	s.gen, s.st = gen, *st
	if s.st.Phase == PhaseDownloading {
		if err := s.reloadDownload(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// reloadDownload re-reads the manifest of the download in progress. A
// missing, torn or no longer acceptable manifest leaves s.m nil: WriteChunk
// then refuses until Begin.
func (s *Slots) reloadDownload() error {
	s.dropDownload()
	data, err := s.cfg.Storage.ReadAll(s.manifestObject())
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("update: read manifest: %w", err)
	}
	m, err := DecodeManifest(data)
	if err != nil {
		return nil
	}
	d, err := m.Body.Digest()
	if err != nil || !bytes.Equal(d[:], s.st.Manifest) {
		return nil
	}
	aead, err := s.admit(m)
	if err != nil {
		return nil
	}
	return s.loadDownload(m, aead)
}

func (s *Slots) dropDownload() {
	s.m, s.aead, s.ref, s.received, s.verified = nil, nil, imageRef{}, nil, false
}

// loadDownload adopts m as the download in progress and finds the chunks
// already staged for its image.
func (s *Slots) loadDownload(m *Manifest, aead cipher.AEAD) error {
	s.m, s.aead, s.verified = m, aead, false
	s.ref = imageRef{digest: m.Body.ImageDigest, size: m.Body.ImageSize, chunkSize: m.Body.Encryption.ChunkSize}
	s.received = make([]bool, s.ref.chunks())
	return s.scan()
}

func (s *Slots) scan() error {
	for i := range s.received {
		_, ok, err := readChunk(s.cfg.Storage, s.cfg.prefix(), s.st.Active.Other(), s.ref, i)
		if err != nil {
			s.dropDownload()
			return err
		}
		s.received[i] = ok
	}
	return nil
}

// admit runs every check on a manifest, in order, before anything is
// written: signatures and threshold, vendor, class, version above the
// running image, security counter not below the confirmed one, size, and a
// content key for this device.
func (s *Slots) admit(m *Manifest) (cipher.AEAD, error) {
	if err := s.st.Root.VerifyManifest(m); err != nil {
		return nil, err
	}
	b := &m.Body
	if b.VendorID != s.cfg.VendorID {
		return nil, fmt.Errorf("%w: manifest for vendor %d, device is %d", ErrVendor, b.VendorID, s.cfg.VendorID)
	}
	if b.ClassID != s.cfg.ClassID {
		return nil, fmt.Errorf("%w: manifest for class %d, device is %d", ErrClass, b.ClassID, s.cfg.ClassID)
	}
	running := s.st.Images[s.st.Active]
	if b.Version <= running.Version {
		return nil, fmt.Errorf("%w: version %d ≤ running %d", ErrRollback, b.Version, running.Version)
	}
	if b.SecurityCounter < s.st.ConfirmedCounter {
		return nil, fmt.Errorf("%w: security counter %d < confirmed %d", ErrRollback, b.SecurityCounter, s.st.ConfirmedCounter)
	}
	if b.ImageSize > s.cfg.slotSize() {
		return nil, fmt.Errorf("%w: image of %d bytes > slot of %d", ErrSize, b.ImageSize, s.cfg.slotSize())
	}
	return b.OpenContentKey(s.cfg.DeviceKey)
}

// commit persists next as the new state (one copy write) and adopts it. On
// a storage error the state is re-read: it is either the old or next.
func (s *Slots) commit(next State) error {
	if err := next.check(); err != nil {
		return fmt.Errorf("update: refusing to persist an invalid state: %w", err)
	}
	gen := s.gen + 1
	rec, err := EncodeStateRecord(gen, &next)
	if err != nil {
		return err
	}
	name := stateCopy(s.cfg.prefix(), gen)
	if err := s.cfg.Storage.Overwrite(name, rec); err != nil {
		// Re-read rather than guess; never write the other copy on a guess,
		// it holds the only known-good state.
		if g, st, lerr := loadState(s.cfg.Storage, s.cfg.prefix()); lerr != nil {
			s.broken = lerr
		} else {
			s.gen, s.st = g, *st
			if s.st.Phase != PhaseDownloading || s.m == nil {
				s.dropDownload()
			}
		}
		return fmt.Errorf("update: write state generation %d: %w", gen, err)
	}
	s.gen, s.st = gen, next
	return nil
}

func (s *Slots) usable() error {
	if s.broken != nil {
		return fmt.Errorf("update: reopen needed: %w", s.broken)
	}
	return nil
}

// Begin accepts a manifest for download into the inactive slot. Every check
// (admit) runs before anything is written. Begin with the manifest already
// being downloaded, or already staged, is a no-op, so a caller can always
// start with Begin after a restart. A different manifest replaces a download
// in progress or a pending image; during a trial boot Begin is refused.
func (s *Slots) Begin(frame []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	m, err := DecodeManifest(frame)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	aead, err := s.admit(m)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	d, err := m.Body.Digest()
	if err != nil {
		return err
	}
	other := s.st.Active.Other()
	switch s.st.Phase {
	case PhaseTrying:
		return fmt.Errorf("begin: %w: image in slot %s is on trial", ErrState, other)
	case PhasePending:
		im := s.st.Images[other]
		if bytes.Equal(im.Digest, m.Body.ImageDigest) && im.Version == m.Body.Version && im.SecurityCounter == m.Body.SecurityCounter {
			return nil
		}
	case PhaseDownloading:
		if bytes.Equal(s.st.Manifest, d[:]) {
			if s.m != nil {
				return nil
			}
			// The state names this manifest but its copy was lost: the
			// object is unreferenced by anything valid, rewrite it.
			if err := s.cfg.Storage.Overwrite(s.manifestObject(), frame); err != nil {
				return fmt.Errorf("begin: write manifest: %w", err)
			}
			return s.loadDownload(m, aead)
		}
		// Abandon the other download first, so the manifest object is never
		// rewritten while the state still refers to it.
		idle := s.st.clone()
		idle.Phase, idle.Manifest = PhaseIdle, nil
		s.dropDownload()
		if err := s.commit(idle); err != nil {
			return fmt.Errorf("begin: abandon download: %w", err)
		}
	}
	if err := s.cfg.Storage.Overwrite(s.manifestObject(), frame); err != nil {
		return fmt.Errorf("begin: write manifest: %w", err)
	}
	next := s.st.clone()
	next.Phase, next.Manifest = PhaseDownloading, d[:]
	next.Images[other] = ImageInfo{}
	if err := s.commit(next); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return s.loadDownload(m, aead)
}

// WriteChunk authenticates and decrypts ciphertext chunk i and stages it in
// the inactive slot. Chunks may come in any order; a chunk already staged is
// authenticated and then skipped.
func (s *Slots) WriteChunk(i int, ct []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if s.st.Phase != PhaseDownloading || s.m == nil {
		return fmt.Errorf("write chunk %d: %w: phase %s, no manifest loaded (Begin)", i, ErrState, s.st.Phase)
	}
	pt, err := openChunk(s.aead, &s.m.Body, i, ct)
	if err != nil {
		return fmt.Errorf("write chunk: %w", err)
	}
	s.verified = false // the staged image changes: verify again
	if s.received[i] {
		return nil
	}
	name := chunkObject(s.cfg.prefix(), s.st.Active.Other(), i)
	if err := s.cfg.Storage.Overwrite(name, encodeChunk(s.ref, i, pt)); err != nil {
		return fmt.Errorf("write chunk %d: %w", i, err)
	}
	s.received[i] = true
	return nil
}

// Missing lists the chunk indices still to be written, or nil when no
// download is loaded.
func (s *Slots) Missing() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for i, ok := range s.received {
		if !ok {
			out = append(out, i)
		}
	}
	return out
}

// inDownload is the common entry of Verify and MarkPending (s.mu held):
// done when the image is pending already; an error unless a download with
// its manifest is in progress (and, when needVerified, has passed Verify).
func (s *Slots) inDownload(op string, needVerified bool) (done bool, err error) {
	if err := s.usable(); err != nil {
		return false, err
	}
	if s.st.Phase == PhasePending {
		return true, nil
	}
	if s.st.Phase != PhaseDownloading || s.m == nil || needVerified && !s.verified {
		return false, fmt.Errorf("%s: %w: phase %s, manifest loaded %v, verified %v", op, ErrState, s.st.Phase, s.m != nil, s.verified)
	}
	return false, nil
}

// Verify checks that every chunk of the download is staged and that the
// staged image is the one the manifest names (its digest). An image that
// authenticated chunk by chunk yet does not match is abandoned (its chunks
// erased). A verified download waits for MarkPending.
func (s *Slots) Verify() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if done, err := s.inDownload("finish", false); done || err != nil {
		return err
	}
	for i, ok := range s.received {
		if !ok {
			return fmt.Errorf("finish: %w: chunk %d (and maybe others) missing", ErrState, i)
		}
	}
	other := s.st.Active.Other()
	if err := hashSlot(s.cfg.Storage, s.cfg.prefix(), other, s.ref, nil); err != nil {
		if !errors.Is(err, ErrDigest) {
			return fmt.Errorf("finish: %w", err)
		}
		if serr := s.scan(); serr != nil {
			return fmt.Errorf("finish: %w (rescan: %w)", err, serr)
		}
		for _, ok := range s.received {
			if !ok { // a chunk went bad in storage: resend it
				return fmt.Errorf("finish: %w", err)
			}
		}
		// Every chunk authenticated yet the image is not the one the
		// manifest names (a faulty build). Erase the staged chunks before
		// abandoning: they carry the declared digest, and a later, correct
		// release of that image must not resume from them. A power cut here
		// leaves the download in progress with chunks missing, to be resent.
		for i := range s.received {
			if eerr := s.cfg.Storage.Overwrite(chunkObject(s.cfg.prefix(), other, i), nil); eerr != nil {
				return fmt.Errorf("finish: %w (erasing chunk %d: %w)", err, i, eerr)
			}
		}
		idle := s.st.clone()
		idle.Phase, idle.Manifest = PhaseIdle, nil
		s.dropDownload()
		if cerr := s.commit(idle); cerr != nil {
			return fmt.Errorf("finish: %w (abandoning: %w)", err, cerr)
		}
		return fmt.Errorf("finish: image abandoned: %w", err)
	}
	s.verified = true
	return nil
}

// MarkPending marks the verified image pending, so that the next Boot
// test-boots it. The caller asks its safety kernel first (ErrSwitchRefused
// is the caller's to return when the kernel says no; nothing changes).
func (s *Slots) MarkPending() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if done, err := s.inDownload("mark pending", true); done || err != nil {
		return err
	}
	other := s.st.Active.Other()
	b := &s.m.Body
	next := s.st.clone()
	next.Phase, next.Manifest = PhasePending, nil
	next.Images[other] = ImageInfo{
		Valid: true, Version: b.Version, SecurityCounter: b.SecurityCounter,
		Size: b.ImageSize, ChunkSize: b.Encryption.ChunkSize, Digest: append([]byte(nil), b.ImageDigest...),
	}
	if err := s.commit(next); err != nil {
		return fmt.Errorf("mark pending: %w", err)
	}
	s.dropDownload()
	return nil
}

// Finish is Verify then MarkPending with no safety kernel to ask (the
// manufacturer's tools and tests; firmware asks its kernel in between).
func (s *Slots) Finish() error {
	if err := s.Verify(); err != nil {
		return err
	}
	return s.MarkPending()
}

func refOf(im ImageInfo) imageRef {
	return imageRef{digest: im.Digest, size: im.Size, chunkSize: im.ChunkSize}
}

// abandonStaged persists PhaseIdle with the inactive slot's image dropped.
func (s *Slots) abandonStaged() error {
	next := s.st.clone()
	next.Phase, next.Manifest = PhaseIdle, nil
	next.Images[s.st.Active.Other()] = ImageInfo{}
	s.dropDownload()
	return s.commit(next)
}

// Boot is what the bootloader does at power-on. A pending image whose
// security counter is not below the confirmed one, and that verifies, is
// marked tried (persisted first) and test-booted, if allowTrial (the
// caller's safety kernel agreed: see PendingSwitch).
// An image that was tried and not confirmed is abandoned and the active
// image boots. The slot returned has just had its digest verified; if the
// active image does not verify, Boot fails with ErrDigest.
func (s *Slots) Boot(allowTrial bool) (BootInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return BootInfo{}, err
	}
	var info BootInfo
	other := s.st.Active.Other()
	switch s.st.Phase {
	case PhaseTrying:
		// The trial image ran and never confirmed (self-test failed, hung,
		// or lost power): back to the previous image.
		if err := s.abandonStaged(); err != nil {
			return BootInfo{}, fmt.Errorf("boot: revert: %w", err)
		}
		info.Reverted = true
	case PhasePending:
		im := s.st.Images[other]
		switch {
		case im.SecurityCounter < s.st.ConfirmedCounter:
			if err := s.abandonStaged(); err != nil {
				return BootInfo{}, fmt.Errorf("boot: drop rolled-back image: %w", err)
			}
			info.Reverted = true
		case !allowTrial:
			// Stay pending; boot the active image.
		case hashSlot(s.cfg.Storage, s.cfg.prefix(), other, refOf(im), nil) != nil:
			if err := s.abandonStaged(); err != nil {
				return BootInfo{}, fmt.Errorf("boot: drop damaged staged image: %w", err)
			}
			info.Reverted = true
		default:
			next := s.st.clone()
			next.Phase = PhaseTrying
			if err := s.commit(next); err != nil {
				return BootInfo{}, fmt.Errorf("boot: mark tried: %w", err)
			}
			return BootInfo{Slot: other, Version: im.Version, SecurityCounter: im.SecurityCounter, Trial: true}, nil
		}
	}
	act := s.st.Images[s.st.Active]
	if err := hashSlot(s.cfg.Storage, s.cfg.prefix(), s.st.Active, refOf(act), nil); err != nil {
		return BootInfo{}, fmt.Errorf("boot: active image: %w", err)
	}
	info.Slot, info.Version, info.SecurityCounter = s.st.Active, act.Version, act.SecurityCounter
	return info, nil
}

// PendingSwitch reports whether an image is pending: Boot would test-boot
// it (a slot switch) if allowed.
func (s *Slots) PendingSwitch() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Phase == PhasePending
}

// Confirm makes the image on trial the active one and raises the confirmed
// security counter to its own: the only place the counter moves. Call it
// after the new image's self-test passed.
func (s *Slots) Confirm() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if s.st.Phase != PhaseTrying {
		return fmt.Errorf("confirm: %w: phase %s", ErrState, s.st.Phase)
	}
	next := s.st.clone()
	next.Active = s.st.Active.Other()
	next.Phase = PhaseIdle
	next.ConfirmedCounter = max(next.ConfirmedCounter, next.Images[next.Active].SecurityCounter)
	if err := s.commit(next); err != nil {
		return fmt.Errorf("confirm: %w", err)
	}
	return nil
}

// Revert abandons the image on trial (its self-test failed) or pending, and
// returns the slot to reboot into.
func (s *Slots) Revert() (SlotID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return 0, err
	}
	if s.st.Phase != PhaseTrying && s.st.Phase != PhasePending {
		return 0, fmt.Errorf("revert: %w: phase %s", ErrState, s.st.Phase)
	}
	if err := s.abandonStaged(); err != nil {
		return 0, fmt.Errorf("revert: %w", err)
	}
	return s.st.Active, nil
}

// RotateRoot replaces the trust root with a signed new root (see
// TrustRoot.RotateRoot). A download in progress whose manifest the new root
// does not accept is abandoned; images already staged stay.
func (s *Slots) RotateRoot(frame []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	sr, err := DecodeSignedRoot(frame)
	if err != nil {
		return err
	}
	nr, err := s.st.Root.RotateRoot(&sr.Root, sr.Sigs)
	if err != nil {
		return err
	}
	next := s.st.clone()
	next.Root = *nr
	if next.Phase == PhaseDownloading && (s.m == nil || nr.VerifyManifest(s.m) != nil) {
		next.Phase, next.Manifest = PhaseIdle, nil
		s.dropDownload()
	}
	if err := s.commit(next); err != nil {
		return fmt.Errorf("rotate root: %w", err)
	}
	return nil
}

// State returns a copy of the persisted state.
func (s *Slots) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.clone()
}

// ReadImage returns the verified plaintext image in slot (what the
// bootloader loads).
func (s *Slots) ReadImage(slot SlotID) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slot > SlotB || !s.st.Images[slot].Valid {
		return nil, fmt.Errorf("read image: %w: slot %d holds no verified image", ErrState, slot)
	}
	im := s.st.Images[slot]
	out := make([]byte, 0, im.Size)
	if err := hashSlot(s.cfg.Storage, s.cfg.prefix(), slot, refOf(im), &out); err != nil {
		return nil, fmt.Errorf("read image: %w", err)
	}
	return out, nil
}
