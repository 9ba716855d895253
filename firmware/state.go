package firmware

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/implantfhe/implantfhe/kernel/pump"
)

// A kernel state (pump.State, pacer.State) is a plain value of fixed size,
// stored in a log record in a fixed big-endian binary layout; the kernel's
// own corruption check (FAULT-SAFE) judges the values at the next Step.

// encodeState serialises a kernel state.
func encodeState[S any](s *S) ([]byte, error) {
	var b bytes.Buffer
	if err := binary.Write(&b, binary.BigEndian, s); err != nil {
		return nil, fmt.Errorf("firmware: encode state: %w", err)
	}
	return b.Bytes(), nil
}

// decodeState is the inverse of encodeState.
func decodeState[S any](b []byte) (S, error) {
	var s S
	if len(b) != binary.Size(&s) {
		return s, fmt.Errorf("firmware: state record of %d bytes, want %d", len(b), binary.Size(&s))
	}
	if err := binary.Read(bytes.NewReader(b), binary.BigEndian, &s); err != nil {
		return s, fmt.Errorf("firmware: decode state: %w", err)
	}
	return s, nil
}

// DecodeState decodes the pump state stored in a log record (auditors
// and crash tests read counters and totals from it).
func DecodeState(b []byte) (pump.State, error) { return decodeState[pump.State](b) }
