// Package dcbor is the project's one deterministic-CBOR codec: every signed
// or logged structure (wire envelopes, update manifests and roots, the
// implant's log records and acknowledgements, update requests) is encoded
// with Core Deterministic Encoding (RFC 8949 §4.2.1) and decoded from
// untrusted bytes under explicit limits.
//
// It must never accept an encoding other than the one it writes where the
// caller asks for canonical decoding: signed bytes are exactly the bytes
// read, so no two encodings of one value can carry one signature.
package dcbor

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// ErrNotCanonical: the input decodes, but is not the deterministic encoding
// of what it decodes to.
var ErrNotCanonical = errors.New("dcbor: not in canonical form")

var enc = mustEnc()

func mustEnc() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err) // fixed options: a programming error
	}
	return m
}

// Marshal encodes v with Core Deterministic Encoding.
func Marshal(v any) ([]byte, error) { return enc.Marshal(v) }

// Limits bound what a Decoder accepts; zero fields take the library's
// defaults only where documented here.
type Limits struct {
	// MaxNested, MaxArray and MaxMap bound nesting depth, array length and
	// map size (each must be > 0: untrusted input gets explicit bounds).
	MaxNested, MaxArray, MaxMap int
	// AllowUnknown accepts map keys the target struct does not have
	// (records read by newer firmware); off, they are an error.
	AllowUnknown bool
}

// Decoder decodes untrusted CBOR: no duplicate keys, no indefinite lengths,
// no tags, and the Limits.
type Decoder struct{ dm cbor.DecMode }

// NewDecoder builds a decoder; invalid limits are a programming error and
// panic (decoders are package-level values built at init).
func NewDecoder(l Limits) Decoder {
	if l.MaxNested <= 0 || l.MaxArray <= 0 || l.MaxMap <= 0 {
		panic(fmt.Sprintf("dcbor: limits must be positive: %+v", l))
	}
	o := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  max(l.MaxNested, 4), // the library's minimum
		MaxArrayElements: max(l.MaxArray, 16),
		MaxMapPairs:      max(l.MaxMap, 16),
	}
	if !l.AllowUnknown {
		o.ExtraReturnErrors = cbor.ExtraDecErrorUnknownField
	}
	dm, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return Decoder{dm: dm}
}

// Unmarshal decodes b into v within the decoder's limits.
func (d Decoder) Unmarshal(b []byte, v any) error { return d.dm.Unmarshal(b, v) }

// UnmarshalCanonical is Unmarshal, and then refuses b unless it is exactly
// the deterministic encoding of the decoded value (ErrNotCanonical).
func (d Decoder) UnmarshalCanonical(b []byte, v any) error {
	if err := d.dm.Unmarshal(b, v); err != nil {
		return err
	}
	again, err := enc.Marshal(v)
	if err != nil || !bytes.Equal(again, b) {
		return ErrNotCanonical
	}
	return nil
}
