package protocol

import (
	"fmt"

	"github.com/implantfhe/implantfhe/internal/dcbor"
	"github.com/implantfhe/implantfhe/update"
)

// Update operations carried over the radio (link.TypeUpdate). The manifest
// is signed by a threshold of manufacturer keys and each chunk is sealed
// under a content key only the device can unwrap, so the messages need no
// further signature; the implant's kernel decides when a slot switch is safe.
const (
	UpdOffer  uint8 = 1 // Manifest: begin (or resume) a download
	UpdChunk  uint8 = 2 // Index, Chunk: one ciphertext chunk
	UpdFinish uint8 = 3 // verify the staged image, ask the kernel, mark it pending and switch
	UpdStatus uint8 = 4 // the update state, signed
	UpdRoot   uint8 = 5 // Root: a signed new trust root (manufacturer key rotation)
)

// Event is an update event, in the implant's log and in its signed
// acknowledgements. Values are part of the format: append, never renumber.
type Event uint8

// Update events.
const (
	EvNone        Event = iota
	EvOffered           // a manifest arrived (before any check)
	EvDownloading       // the manifest passed every check; chunks may come
	EvStaged            // the staged image verified and the kernel granted the switch: pending
	EvTrial             // the pending image is being test-booted
	EvConfirmed         // the trial image passed its self-test and is now active
	EvReverted          // a trial or pending image was abandoned; Error says why
	EvRefused           // an offer, chunk or finish was refused; Error says why
	EvDeferred          // a pending image was not switched to at boot: the kernel said not now
	EvRootRotated       // a signed new trust root replaced the old one
	EvStatus            // a status reply (not logged)
	EvChunkStaged       // a chunk reply (not logged)
	EvUnavailable       // this firmware has no update path configured
	// EvSwitchRefused: a finish whose staged image verified, but the kernel
	// refused the slot switch for now (its reason is sealed to the clinic:
	// it says what the therapy is doing); the relay asks again later.
	EvSwitchRefused
	// EvPublished is the relay's own first event of a push (the manifest
	// it logged); an implant never sends it.
	EvPublished
	numEvents
)

var eventNames = [numEvents]string{"none", "offered", "downloading", "staged", "trial", "confirmed", "reverted", "refused",
	"deferred", "root-rotated", "status", "chunk-staged", "unavailable", "switch-refused", "published"}

func (e Event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return fmt.Sprintf("event(%d)", uint8(e))
}

// MarshalText writes the event's name (JSON of the relay's responses).
func (e Event) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText reads an event name.
func (e *Event) UnmarshalText(b []byte) error {
	for i, n := range eventNames {
		if n == string(b) {
			*e = Event(i)
			return nil
		}
	}
	return fmt.Errorf("protocol: unknown update event %q", b)
}

// UpdateInfo is the state of the update path that an update event reports.
// It carries image metadata only (versions, slots, chunk bitmaps), never a
// therapy value, so it travels in clear: the relay needs it to drive the
// push (which chunks to send, whether to ask again).
type UpdateInfo struct {
	Event Event `cbor:"1,keyasint"`
	// Version and SecCtr: the image the event concerns (for a status, the
	// running image).
	Version uint64 `cbor:"2,keyasint,omitempty"`
	SecCtr  uint64 `cbor:"3,keyasint,omitempty"`
	// Slot and Phase after the event.
	Slot  string `cbor:"4,keyasint,omitempty"`
	Phase string `cbor:"5,keyasint,omitempty"`
	// Missing counts the chunks still to send; MissingMap (acknowledgements
	// of a download only, not logged) has bit i%8 of byte i/8 set for each.
	Missing    uint64 `cbor:"6,keyasint,omitempty"`
	MissingMap []byte `cbor:"7,keyasint,omitempty"`
	// Confirmed is the confirmed security counter; RootVersion the version
	// of the manufacturer trust root in force.
	Confirmed   uint64 `cbor:"8,keyasint,omitempty"`
	RootVersion uint64 `cbor:"9,keyasint,omitempty"`
	// Error says why an image was refused or reverted (image and signature
	// checks only: a kernel's reason is never here).
	Error string `cbor:"10,keyasint,omitempty"`
	// Last is, in a status reply, the last event since power-on.
	Last Event `cbor:"11,keyasint,omitempty"`
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
	return i >= 0 && i/8 < len(bitmap) && bitmap[i/8]&(1<<(i%8)) != 0
}

// MaxUpdateRequest bounds an encoded update request.
const MaxUpdateRequest = update.MaxManifestSize + update.MaxChunkSize + update.TagSize + 64

// ErrUpdateRequest: an update request that does not decode or is not
// well-formed for its operation.
var ErrUpdateRequest = fmt.Errorf("protocol: malformed update request")

// UpdateRequest is one update message from the relay.
type UpdateRequest struct {
	Op       uint8  `cbor:"1,keyasint"`
	Manifest []byte `cbor:"2,keyasint,omitempty"`
	Index    uint32 `cbor:"3,keyasint,omitempty"`
	Chunk    []byte `cbor:"4,keyasint,omitempty"`
	Root     []byte `cbor:"5,keyasint,omitempty"`
}

var updDec = dcbor.NewDecoder(dcbor.Limits{MaxNested: 4, MaxArray: 16, MaxMap: 16})

// EncodeUpdateRequest encodes a request (deterministic CBOR).
func EncodeUpdateRequest(r *UpdateRequest) ([]byte, error) {
	b, err := dcbor.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode update request: %w", err)
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
	if err := updDec.UnmarshalCanonical(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUpdateRequest, err)
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
