package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/implantfhe/implantfhe/internal/dcbor"
	"github.com/implantfhe/implantfhe/kernel/guard"
)

// Version is the envelope format version this package writes and accepts.
const Version = 1

// Size limits for untrusted input.
const (
	// MaxFrame is the largest frame accepted on a link that carries
	// controller ciphertexts (a fresh LogN=14 ciphertext is a few MB).
	MaxFrame = 16 << 20
	// MaxRadioFrame is the largest frame the implant accepts over its radio.
	MaxRadioFrame = 64 << 10
	// MaxDeviceID bounds the device ID.
	MaxDeviceID = 32
	// KeyIDSize is the size of a key ID: the first bytes of SHA-256(public key).
	KeyIDSize = 8
)

// Kind is what an envelope carries.
type Kind uint8

// Kinds.
const (
	KindCommand   Kind = 1 // clinician → implant, body: CKKS command ciphertext
	KindVerdict   Kind = 2 // relay → implant, body: radio ciphertext (values + verdict)
	KindTelemetry Kind = 3 // implant → clinic, body: CKKS telemetry ciphertext
	KindAck       Kind = 4 // implant → controller, body: decision record
	KindUpdate    Kind = 5 // manufacturer → implant (reserved for the update path)
	maxKind       Kind = 5
)

func (k Kind) String() string {
	switch k {
	case KindCommand:
		return "command"
	case KindVerdict:
		return "verdict"
	case KindTelemetry:
		return "telemetry"
	case KindAck:
		return "ack"
	case KindUpdate:
		return "update"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// SignerRole is the only role whose keys may sign envelopes of kind k.
func SignerRole(k Kind) guard.Role {
	switch k {
	case KindCommand:
		return guard.RoleClinician
	case KindVerdict:
		return guard.RoleRelay
	case KindTelemetry, KindAck:
		return guard.RoleImplant
	case KindUpdate:
		return guard.RoleManufacturer
	}
	return guard.RoleNone
}

// Header is the fixed, signed part of an envelope. Times are milliseconds on
// the implant's monotonic timeline.
type Header struct {
	Version     uint8  `cbor:"1,keyasint"`
	Kind        Kind   `cbor:"2,keyasint"`
	DeviceID    string `cbor:"3,keyasint"`
	Counter     uint64 `cbor:"4,keyasint"`
	IssuedAtMs  int64  `cbor:"5,keyasint"`
	ExpiresAtMs int64  `cbor:"6,keyasint"`
	KeyID       []byte `cbor:"7,keyasint"`
	// Subkind is the public command kind (the relay must know which limits
	// to compare against; it never learns the values).
	Subkind uint8 `cbor:"8,keyasint"`
	// BodyDigest is SHA-256 of the body.
	BodyDigest []byte `cbor:"9,keyasint"`
	// Bind ties the envelope to another: for a command, a commitment to the
	// plaintext values that only the implant can check; for a verdict, the
	// SHA-256 of the command envelope's signed header it answers.
	Bind []byte `cbor:"10,keyasint,omitempty"`
}

// Envelope is a signed frame. Body is nil in detached form.
type Envelope struct {
	Header Header `cbor:"1,keyasint"`
	Body   []byte `cbor:"2,keyasint,omitempty"`
	Sig    []byte `cbor:"3,keyasint"`
}

// sigContext separates envelope signatures from any other Ed25519 use.
const sigContext = "implantfhe/envelope/v1\x00"

// envDec decodes untrusted envelopes and bundles.
var envDec = dcbor.NewDecoder(dcbor.Limits{MaxNested: 4, MaxArray: 16, MaxMap: 16})

// Typed errors; Verify wraps them with context.
var (
	ErrTooLarge    = errors.New("wire: frame too large")
	ErrMalformed   = errors.New("wire: malformed frame")
	ErrVersion     = errors.New("wire: unsupported version")
	ErrKind        = errors.New("wire: unexpected kind")
	ErrDevice      = errors.New("wire: wrong device")
	ErrUnknownKey  = errors.New("wire: key not in trust list")
	ErrRole        = errors.New("wire: key role not allowed for this kind")
	ErrSignature   = errors.New("wire: bad signature")
	ErrBodyDigest  = errors.New("wire: body does not match its digest")
	ErrReplay      = errors.New("wire: counter not above the last accepted")
	ErrCounterJump = errors.New("wire: counter too far above the last accepted")
	ErrExpired     = errors.New("wire: outside validity window")
	ErrKeyMaterial = errors.New("wire: invalid key material")
)

// SignedBytes are the bytes a signature covers.
func (h *Header) SignedBytes() ([]byte, error) {
	hb, err := dcbor.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("wire: encode header: %w", err)
	}
	return append([]byte(sigContext), hb...), nil
}

// HeaderDigest is SHA-256 of the signed header bytes: what a verdict binds to.
func (h *Header) HeaderDigest() ([32]byte, error) {
	b, err := h.SignedBytes()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// Seal fills the header's version, key ID and body digest, and signs.
func Seal(h Header, body []byte, key *SigningKey) (*Envelope, error) {
	if key == nil || len(key.Private) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("seal: %w", ErrKeyMaterial)
	}
	if SignerRole(h.Kind) != key.Role {
		return nil, fmt.Errorf("seal %s with a %d key: %w", h.Kind, key.Role, ErrRole)
	}
	h.Version = Version
	h.KeyID = append([]byte(nil), key.ID[:]...)
	d := sha256.Sum256(body)
	h.BodyDigest = d[:]
	msg, err := h.SignedBytes()
	if err != nil {
		return nil, err
	}
	return &Envelope{Header: h, Body: body, Sig: ed25519.Sign(key.Private, msg)}, nil
}

// Detached returns a copy without the body (the signature still verifies).
func (e *Envelope) Detached() *Envelope {
	c := *e
	c.Body = nil
	return &c
}

// Marshal encodes the envelope as a deterministic CBOR frame.
func (e *Envelope) Marshal() ([]byte, error) {
	b, err := dcbor.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("wire: encode envelope: %w", err)
	}
	return b, nil
}

// Decode parses a frame of at most maxSize bytes, within the decode limits,
// and refuses any encoding that is not the canonical one. It checks
// structure only: Verify checks authenticity.
func Decode(frame []byte, maxSize int) (*Envelope, error) {
	if len(frame) > maxSize {
		return nil, fmt.Errorf("%w: %d > %d bytes", ErrTooLarge, len(frame), maxSize)
	}
	var e Envelope
	if err := envDec.UnmarshalCanonical(frame, &e); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	h := &e.Header
	switch {
	case len(h.DeviceID) == 0 || len(h.DeviceID) > MaxDeviceID:
		return nil, fmt.Errorf("%w: device ID length %d", ErrMalformed, len(h.DeviceID))
	case len(h.KeyID) != KeyIDSize:
		return nil, fmt.Errorf("%w: key ID length %d", ErrMalformed, len(h.KeyID))
	case len(h.BodyDigest) != sha256.Size:
		return nil, fmt.Errorf("%w: body digest length %d", ErrMalformed, len(h.BodyDigest))
	case len(e.Sig) != ed25519.SignatureSize:
		return nil, fmt.Errorf("%w: signature length %d", ErrMalformed, len(e.Sig))
	case len(h.Bind) > 64:
		return nil, fmt.Errorf("%w: bind length %d", ErrMalformed, len(h.Bind))
	}
	return &e, nil
}

// Freshness is what the receiver knows about time and counters.
type Freshness struct {
	// LastCounter is the highest counter accepted from this sender stream.
	LastCounter uint64
	// NowMs is the receiver's monotonic time.
	NowMs int64
	// MaxValidityMs bounds ExpiresAtMs − IssuedAtMs (computed exactly); a
	// negative bound admits nothing.
	MaxValidityMs int64
	// MaxCounterStep bounds Counter − LastCounter (CMD-COUNTER-STEP; the
	// implant's kernel uses guard.MaxCounterStep). 0: no bound, for streams
	// the receiver does not track.
	MaxCounterStep uint64
}

// Verifier checks frames addressed to one device.
type Verifier struct {
	DeviceID string
	Trust    *TrustList
	MaxFrame int
}

// Verify runs every check of the package doc, in order, on a frame of kind
// want. A detached envelope (no body) is accepted when allowDetached is set;
// otherwise the body must be present and match its digest. On success it
// returns the envelope and the signer's role.
func (v *Verifier) Verify(frame []byte, want Kind, fresh Freshness, allowDetached bool) (*Envelope, guard.Role, error) {
	e, err := Decode(frame, v.MaxFrame)
	if err != nil {
		return nil, guard.RoleNone, err
	}
	role, err := v.VerifyEnvelope(e, want, fresh, allowDetached)
	if err != nil {
		return nil, guard.RoleNone, err
	}
	return e, role, nil
}

// VerifyEnvelope is Verify on an already decoded envelope.
func (v *Verifier) VerifyEnvelope(e *Envelope, want Kind, fresh Freshness, allowDetached bool) (guard.Role, error) {
	h := &e.Header
	if h.Version != Version {
		return guard.RoleNone, fmt.Errorf("%w: %d", ErrVersion, h.Version)
	}
	if h.Kind != want {
		return guard.RoleNone, fmt.Errorf("%w: got %s, want %s", ErrKind, h.Kind, want)
	}
	if h.DeviceID != v.DeviceID {
		return guard.RoleNone, fmt.Errorf("%w: %q", ErrDevice, h.DeviceID)
	}
	var id KeyID
	copy(id[:], h.KeyID)
	k, ok := v.Trust.Lookup(id)
	if !ok {
		return guard.RoleNone, fmt.Errorf("%w: %x", ErrUnknownKey, id)
	}
	if k.Role != SignerRole(want) {
		return guard.RoleNone, fmt.Errorf("%w: key %x has role %d for %s", ErrRole, id, k.Role, want)
	}
	msg, err := h.SignedBytes()
	if err != nil {
		return guard.RoleNone, err
	}
	if !ed25519.Verify(k.Public, msg, e.Sig) {
		return guard.RoleNone, fmt.Errorf("%w: %s counter %d", ErrSignature, want, h.Counter)
	}
	if e.Body != nil || !allowDetached {
		d := sha256.Sum256(e.Body)
		if !bytes.Equal(d[:], h.BodyDigest) {
			return guard.RoleNone, fmt.Errorf("%w: %s counter %d", ErrBodyDigest, want, h.Counter)
		}
	}
	if err := checkFresh(h, fresh); err != nil {
		return guard.RoleNone, err
	}
	return k.Role, nil
}

// checkFresh is the freshness part of VerifyEnvelope: the counter above the
// last accepted (CMD-REPLAY) by at most MaxCounterStep when one is set
// (CMD-COUNTER-STEP), and now within a window [issued, expires) at most
// MaxValidityMs long (CMD-EXPIRY). All of it is exact for every int64 and
// uint64 value: once Counter > LastCounter their difference is exact in
// uint64, and once ExpiresAtMs > IssuedAtMs so is theirs (it can exceed
// math.MaxInt64, and would wrap to a negative length in int64).
func checkFresh(h *Header, fresh Freshness) error {
	if h.Counter <= fresh.LastCounter {
		return fmt.Errorf("%w: %d ≤ %d", ErrReplay, h.Counter, fresh.LastCounter)
	}
	if fresh.MaxCounterStep > 0 && h.Counter-fresh.LastCounter > fresh.MaxCounterStep {
		return fmt.Errorf("%w: %d is more than %d above %d", ErrCounterJump, h.Counter, fresh.MaxCounterStep, fresh.LastCounter)
	}
	if h.ExpiresAtMs <= h.IssuedAtMs || fresh.MaxValidityMs < 0 ||
		uint64(h.ExpiresAtMs)-uint64(h.IssuedAtMs) > uint64(fresh.MaxValidityMs) ||
		fresh.NowMs < h.IssuedAtMs || fresh.NowMs >= h.ExpiresAtMs {
		return fmt.Errorf("%w: now %d, window [%d, %d), at most %d ms", ErrExpired, fresh.NowMs, h.IssuedAtMs, h.ExpiresAtMs, fresh.MaxValidityMs)
	}
	return nil
}
