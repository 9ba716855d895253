package update

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/implantfhe/implantfhe/internal/dcbor"
	"github.com/implantfhe/implantfhe/objstore"
)

// SlotID names one of the two image slots.
type SlotID uint8

// Slots.
const (
	SlotA SlotID = 0
	SlotB SlotID = 1
)

// Other is the other slot.
func (s SlotID) Other() SlotID { return 1 - s }

func (s SlotID) String() string {
	if s == SlotA {
		return "A"
	}
	return "B"
}

// Phase is where an update stands. The pending slot is always the inactive
// one (Active.Other()).
type Phase uint8

// Phases.
const (
	// PhaseIdle: no update in progress; the active slot boots.
	PhaseIdle Phase = 0
	// PhaseDownloading: a verified manifest is accepted and chunks are being
	// staged into the inactive slot; the active slot boots.
	PhaseDownloading Phase = 1
	// PhasePending: the staged image verified; the next Boot test-boots it.
	PhasePending Phase = 2
	// PhaseTrying: the staged image was test-booted (the "tried" flag); it
	// becomes active on Confirm, and the next Boot without a Confirm reverts.
	PhaseTrying Phase = 3
)

func (p Phase) String() string {
	switch p {
	case PhaseIdle:
		return "idle"
	case PhaseDownloading:
		return "downloading"
	case PhasePending:
		return "pending"
	case PhaseTrying:
		return "trying"
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// ImageInfo describes the image a slot holds. Valid is set only once the
// image's digest has been verified in that slot.
type ImageInfo struct {
	Valid           bool   `cbor:"1,keyasint,omitempty"`
	Version         uint64 `cbor:"2,keyasint,omitempty"`
	SecurityCounter uint64 `cbor:"3,keyasint,omitempty"`
	Size            uint64 `cbor:"4,keyasint,omitempty"`
	ChunkSize       uint32 `cbor:"5,keyasint,omitempty"`
	Digest          []byte `cbor:"6,keyasint,omitempty"`
}

// State is the implant's persisted update state.
type State struct {
	Active SlotID `cbor:"1,keyasint"`
	Phase  Phase  `cbor:"2,keyasint"`
	// Images[s] describes slot s.
	Images []ImageInfo `cbor:"3,keyasint"`
	// Manifest is the digest (ManifestBody.Digest) of the manifest being
	// downloaded; set in PhaseDownloading only.
	Manifest []byte `cbor:"4,keyasint,omitempty"`
	// ConfirmedCounter is the highest security counter of a confirmed image;
	// it never decreases.
	ConfirmedCounter uint64    `cbor:"5,keyasint"`
	Root             TrustRoot `cbor:"6,keyasint"`
}

func (s *State) clone() State {
	c := *s
	c.Images = make([]ImageInfo, len(s.Images))
	for i, im := range s.Images {
		c.Images[i] = im
		c.Images[i].Digest = bytes.Clone(im.Digest)
	}
	c.Manifest = bytes.Clone(s.Manifest)
	c.Root = s.Root.clone()
	return c
}

// check validates the invariants of a state.
func (s *State) check() error {
	switch {
	case s.Active > SlotB:
		return fmt.Errorf("%w: active slot %d", ErrMalformed, s.Active)
	case s.Phase > PhaseTrying:
		return fmt.Errorf("%w: phase %d", ErrMalformed, s.Phase)
	case len(s.Images) != 2:
		return fmt.Errorf("%w: %d slot records", ErrMalformed, len(s.Images))
	case (s.Phase == PhaseDownloading) != (len(s.Manifest) == sha256.Size):
		return fmt.Errorf("%w: manifest digest of %d bytes in phase %s", ErrMalformed, len(s.Manifest), s.Phase)
	case !s.Images[s.Active].Valid:
		return fmt.Errorf("%w: active slot %s holds no verified image", ErrMalformed, s.Active)
	}
	for i, im := range s.Images {
		if !im.Valid {
			if im.Version != 0 || im.SecurityCounter != 0 || im.Size != 0 || im.ChunkSize != 0 || im.Digest != nil {
				return fmt.Errorf("%w: slot %d invalid but described", ErrMalformed, i)
			}
			continue
		}
		if len(im.Digest) != sha256.Size || im.Size == 0 || im.Size > MaxImageSize ||
			im.ChunkSize < MinChunkSize || im.ChunkSize > MaxChunkSize {
			return fmt.Errorf("%w: slot %d image record", ErrMalformed, i)
		}
	}
	if s.Phase >= PhasePending && !s.Images[s.Active.Other()].Valid {
		return fmt.Errorf("%w: phase %s without a verified staged image", ErrMalformed, s.Phase)
	}
	if s.Phase == PhaseDownloading && s.Images[s.Active.Other()].Valid {
		return fmt.Errorf("%w: downloading over a valid image", ErrMalformed)
	}
	if err := s.Root.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// The state lives in two copies, <prefix>.state.a and .b, written
// alternately like implog/counter: generation g goes to copy g mod 2, so a
// write only touches the copy that does not hold the newest valid record and
// a torn write leaves the previous state intact. Each copy, integers
// big-endian:
//
//	offset  size  field
//	0       4     magic "IUS1"
//	4       8     generation (≥ 1)
//	12      4     body length n
//	16      n     State, deterministic CBOR
//	16+n    4     CRC-32C of bytes 0..15+n
const (
	stateMagic   = "IUS1"
	stateHdrSize = 16
	// MaxStateRecord bounds one state copy.
	MaxStateRecord = 4 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeStateRecord frames a state as one copy of generation gen.
func EncodeStateRecord(gen uint64, s *State) ([]byte, error) {
	body, err := dcbor.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("update: encode state: %w", err)
	}
	b := make([]byte, 0, stateHdrSize+len(body)+4)
	b = append(b, stateMagic...)
	b = binary.BigEndian.AppendUint64(b, gen)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	if len(b) > MaxStateRecord {
		return nil, fmt.Errorf("update: state record of %d bytes: %w", len(b), ErrSize)
	}
	return b, nil
}

// DecodeStateRecord parses one state copy: framing, checksum, canonical
// CBOR within the decode limits, and the state invariants. A torn or damaged
// copy is ErrCorrupt; a checksummed copy that fails decoding is ErrMalformed.
func DecodeStateRecord(b []byte) (uint64, *State, error) {
	if len(b) < stateHdrSize+4 || len(b) > MaxStateRecord || !bytes.Equal(b[:4], []byte(stateMagic)) {
		return 0, nil, fmt.Errorf("%w: state record framing", ErrCorrupt)
	}
	n := binary.BigEndian.Uint32(b[12:16])
	if uint64(n) != uint64(len(b)-stateHdrSize-4) {
		return 0, nil, fmt.Errorf("%w: state record length", ErrCorrupt)
	}
	end := len(b) - 4
	if crc32.Checksum(b[:end], castagnoli) != binary.BigEndian.Uint32(b[end:]) {
		return 0, nil, fmt.Errorf("%w: state record checksum", ErrCorrupt)
	}
	gen := binary.BigEndian.Uint64(b[4:12])
	if gen == 0 {
		return 0, nil, fmt.Errorf("%w: state generation 0", ErrCorrupt)
	}
	var s State
	if err := decodeCanonical(b[stateHdrSize:end], &s); err != nil {
		return 0, nil, fmt.Errorf("decode state: %w", err)
	}
	if err := s.check(); err != nil {
		return 0, nil, fmt.Errorf("decode state: %w", err)
	}
	return gen, &s, nil
}

func stateCopy(prefix string, gen uint64) string {
	if gen%2 == 1 {
		return prefix + ".state.b"
	}
	return prefix + ".state.a"
}

// loadState reads both copies and returns the valid one with the higher
// generation. Neither copy present is ErrNotProvisioned; copies present but
// none valid is ErrCorrupt (never a silent reset: that would reset the
// security counter and the trust root).
func loadState(st objstore.Storage, prefix string) (uint64, *State, error) {
	var best *State
	var bestGen uint64
	present := false
	var lastErr error
	for _, name := range []string{prefix + ".state.a", prefix + ".state.b"} {
		data, err := st.ReadAll(name)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, nil, fmt.Errorf("update: read %q: %w", name, err)
		}
		present = true
		gen, s, err := DecodeStateRecord(data)
		if err != nil {
			lastErr = err
			continue
		}
		if gen > bestGen {
			best, bestGen = s, gen
		}
	}
	switch {
	case best != nil:
		return bestGen, best, nil
	case present:
		return 0, nil, fmt.Errorf("update: load state %q: %w (%w)", prefix, ErrCorrupt, lastErr)
	}
	return 0, nil, fmt.Errorf("update: load state %q: %w", prefix, ErrNotProvisioned)
}
