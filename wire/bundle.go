package wire

import (
	"fmt"

	"github.com/implantfhe/implantfhe/internal/dcbor"
)

// Bundle is what the relay sends the implant over the radio for one
// command: the clinician's command envelope in detached form and the relay's
// verdict envelope, each an encoded frame in its own right.
type Bundle struct {
	Command []byte `cbor:"1,keyasint"`
	Verdict []byte `cbor:"2,keyasint,omitempty"`
}

// Marshal encodes the bundle as deterministic CBOR.
func (b *Bundle) Marshal() ([]byte, error) {
	out, err := dcbor.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("wire: encode bundle: %w", err)
	}
	return out, nil
}

// DecodeBundle parses a radio bundle of at most maxSize bytes, canonical
// form only. Its two frames are verified separately.
func DecodeBundle(frame []byte, maxSize int) (*Bundle, error) {
	if len(frame) > maxSize {
		return nil, fmt.Errorf("%w: bundle %d > %d bytes", ErrTooLarge, len(frame), maxSize)
	}
	var b Bundle
	if err := envDec.UnmarshalCanonical(frame, &b); err != nil {
		return nil, fmt.Errorf("%w: bundle: %w", ErrMalformed, err)
	}
	// A command that needs no verdict (suspend, resume, acknowledge) travels
	// alone; the implant decides which kinds need one.
	if len(b.Command) == 0 {
		return nil, fmt.Errorf("%w: bundle lacks its command", ErrMalformed)
	}
	return &b, nil
}
