package firmware

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/implantfhe/implantfhe/kernel/pump"
)

// encodeState serialises the kernel state in a fixed binary layout.
func encodeState(s pump.State) ([]byte, error) {
	var b bytes.Buffer
	if err := binary.Write(&b, binary.BigEndian, &s); err != nil {
		return nil, fmt.Errorf("firmware: encode state: %w", err)
	}
	return b.Bytes(), nil
}

// decodeState is the inverse of encodeState; the kernel's own corruption
// check (FAULT-SAFE) judges the values at the next Step.
func decodeState(b []byte) (pump.State, error) {
	var s pump.State
	if len(b) != binary.Size(&s) {
		return s, fmt.Errorf("firmware: state record of %d bytes, want %d", len(b), binary.Size(&s))
	}
	if err := binary.Read(bytes.NewReader(b), binary.BigEndian, &s); err != nil {
		return s, fmt.Errorf("firmware: decode state: %w", err)
	}
	return s, nil
}

// DecodeState decodes the kernel state stored in a log record (auditors
// and crash tests read counters and totals from it).
func DecodeState(b []byte) (pump.State, error) { return decodeState(b) }
