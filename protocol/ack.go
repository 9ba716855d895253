package protocol

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/implantfhe/implantfhe/internal/dcbor"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/wire"
)

// AckKind is what an implant acknowledgement answers. It is also the ack
// envelope's Subkind, so a relay routes it without decoding the body.
type AckKind uint8

// Acknowledgement kinds (part of the format: append, never renumber).
const (
	AckNone     AckKind = iota
	AckDecision         // the kernel decided a command (Answers names it)
	AckRefused          // a frame was refused before the kernel (Refusal says why)
	AckStatus           // a status reply: the implant's time, in the envelope header
	AckUpdate           // an update event (Update)
	AckAnswer           // an answer to a query about one command (Answers)
	numAckKinds
)

var ackNames = [numAckKinds]string{"none", "decision", "refused", "status", "update", "answer"}

func (k AckKind) String() string {
	if k < numAckKinds {
		return ackNames[k]
	}
	return fmt.Sprintf("ack(%d)", uint8(k))
}

// CommandRef names one command: its counter and the SHA-256 of its signed
// header (wire.Header.HeaderDigest), which covers its device, kind, times,
// ciphertext digest and value commitment.
type CommandRef struct {
	Counter uint64 `cbor:"1,keyasint"`
	Digest  []byte `cbor:"2,keyasint"`
}

// RefOf is the reference of a command envelope's header.
func RefOf(h *wire.Header) (CommandRef, error) {
	d, err := h.HeaderDigest()
	if err != nil {
		return CommandRef{}, err
	}
	return CommandRef{Counter: h.Counter, Digest: d[:]}, nil
}

// Equal reports whether two references name the same command.
func (r *CommandRef) Equal(o *CommandRef) bool {
	return r != nil && o != nil && r.Counter == o.Counter && bytes.Equal(r.Digest, o.Digest)
}

// Ack is the body of an implant acknowledgement envelope (wire.KindAck).
// Only what the relay needs to route, log and drive an update is in clear:
// the kind, the command it answers, a refusal code for frames that never
// reached the kernel, and update metadata. The kernel's decision, its
// reason, the values, the deliveries, the alerts and the therapy mode are
// in Sealed, which only the clinic can open (SealPrivate).
type Ack struct {
	Kind    AckKind     `cbor:"1,keyasint"`
	Answers *CommandRef `cbor:"2,keyasint,omitempty"`
	Refusal Refusal     `cbor:"3,keyasint,omitempty"`
	Update  *UpdateInfo `cbor:"4,keyasint,omitempty"`
	Sealed  []byte      `cbor:"5,keyasint,omitempty"`
}

// Private is the sealed part of an acknowledgement: what only the clinic
// reads.
type Private struct {
	// Accepted and Reason: the kernel's decision (AckDecision, AckAnswer
	// with Known), or its slot-switch decision (AckUpdate).
	Accepted bool          `cbor:"1,keyasint,omitempty"`
	Reason   reason.Code   `cbor:"2,keyasint,omitempty"`
	Alerts   []reason.Code `cbor:"3,keyasint,omitempty"`
	// Values are the decrypted command values; Delivered what the step
	// asked the actuators for.
	Values    []int64 `cbor:"4,keyasint,omitempty"`
	Delivered []int64 `cbor:"5,keyasint,omitempty"`
	// Detail is the human-readable cause of a refusal.
	Detail string `cbor:"6,keyasint,omitempty"`
	// Mode is the kernel's mode (status replies).
	Mode string `cbor:"7,keyasint,omitempty"`
	// LastCounter is the highest command counter the implant has consumed;
	// LogSeq its log head.
	LastCounter uint64 `cbor:"8,keyasint,omitempty"`
	LogSeq      uint64 `cbor:"9,keyasint,omitempty"`
	// Known (AckAnswer): the implant holds a decision for that command.
	Known bool `cbor:"10,keyasint,omitempty"`
}

// MaxAck bounds an acknowledgement body.
const MaxAck = 4096

// ErrAck: an acknowledgement body that does not decode or is not
// well-formed for its kind.
var ErrAck = errors.New("protocol: malformed acknowledgement")

var ackDec = dcbor.NewDecoder(dcbor.Limits{MaxNested: 4, MaxArray: 64, MaxMap: 16})

// EncodeAck encodes an acknowledgement body.
func EncodeAck(a *Ack) ([]byte, error) {
	b, err := dcbor.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode ack: %w", err)
	}
	return b, nil
}

// DecodeAck parses an untrusted acknowledgement body: bounded, canonical,
// and with the fields its kind has.
func DecodeAck(b []byte) (*Ack, error) {
	if len(b) > MaxAck {
		return nil, fmt.Errorf("%w: %d bytes", ErrAck, len(b))
	}
	var a Ack
	if err := ackDec.UnmarshalCanonical(b, &a); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAck, err)
	}
	if a.Answers != nil && len(a.Answers.Digest) != sha256.Size {
		return nil, fmt.Errorf("%w: command digest of %d bytes", ErrAck, len(a.Answers.Digest))
	}
	ok := false
	switch a.Kind {
	case AckDecision, AckAnswer:
		ok = a.Answers != nil && a.Refusal == RefusedNone && a.Update == nil && len(a.Sealed) > 0
	case AckRefused:
		ok = a.Refusal != RefusedNone && a.Update == nil && len(a.Sealed) > 0
	case AckStatus:
		ok = a.Answers == nil && a.Refusal == RefusedNone && a.Update == nil && len(a.Sealed) > 0
	case AckUpdate:
		ok = a.Answers == nil && a.Refusal == RefusedNone && a.Update != nil
	}
	if !ok {
		return nil, fmt.Errorf("%w: kind %s with the wrong fields", ErrAck, a.Kind)
	}
	return &a, nil
}

// MaxQuery bounds a query about one command (link.TypeQuery): a
// CommandRef, encoded.
const MaxQuery = 64

var queryDec = dcbor.NewDecoder(dcbor.Limits{MaxNested: 2, MaxArray: 4, MaxMap: 4})

// EncodeQuery encodes a query about one command.
func EncodeQuery(ref CommandRef) ([]byte, error) { return dcbor.Marshal(&ref) }

// DecodeQuery parses an untrusted query: bounded, canonical, a full digest.
func DecodeQuery(b []byte) (CommandRef, error) {
	var ref CommandRef
	if len(b) > MaxQuery {
		return ref, fmt.Errorf("%w: query of %d bytes", ErrAck, len(b))
	}
	if err := queryDec.UnmarshalCanonical(b, &ref); err != nil {
		return ref, fmt.Errorf("%w: query: %w", ErrAck, err)
	}
	if len(ref.Digest) != sha256.Size {
		return ref, fmt.Errorf("%w: query digest of %d bytes", ErrAck, len(ref.Digest))
	}
	return ref, nil
}
