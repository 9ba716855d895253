package protocol

import (
	"fmt"

	"github.com/implantfhe/implantfhe/internal/dcbor"
	"github.com/implantfhe/implantfhe/kernel/reason"
)

// RecordType is the type of an implant log record. Values are part of the
// log format: append, never renumber.
type RecordType uint8

// Record types in the implant log.
const (
	RecNone     RecordType = iota
	RecBoot                // power-on: the state resumed from
	RecStep                // a kernel Step with its decision and actuation requests
	RecRefused             // a frame refused before the kernel (wire or crypto check)
	RecActuated            // the actuations of the previous step were carried out
	RecUpdate              // an update event (Update)
	numRecordTypes
)

var recordNames = [numRecordTypes]string{"none", "boot", "step", "refused", "actuated", "update"}

func (t RecordType) String() string {
	if t < numRecordTypes {
		return recordNames[t]
	}
	return fmt.Sprintf("record(%d)", uint8(t))
}

// LogRecord is one entry of the implant's own hash-chained log (the CBOR
// payload of an implog record). It stays on the implant: it holds the
// plaintext values and the kernel state, and is read back at boot and by
// an auditor with the device in hand. What leaves the implant is an Ack.
type LogRecord struct {
	Type  RecordType `cbor:"1,keyasint"`
	NowMs int64      `cbor:"2,keyasint"`
	// Input says what fed the step (for people reading the log).
	Input string `cbor:"3,keyasint,omitempty"`
	// Cmd and Ctr: the command subkind and counter a step decided;
	// CmdDigest the SHA-256 of its signed header (what an Ack answers).
	Cmd       Subkind `cbor:"4,keyasint,omitempty"`
	Ctr       uint64  `cbor:"5,keyasint,omitempty"`
	CmdDigest []byte  `cbor:"6,keyasint,omitempty"`
	Values    []int64 `cbor:"7,keyasint,omitempty"`
	// Accepted and Reason: the kernel's decision for a command or a slot
	// switch (Switch set).
	Accepted bool        `cbor:"8,keyasint,omitempty"`
	Reason   reason.Code `cbor:"9,keyasint,omitempty"`
	Switch   bool        `cbor:"10,keyasint,omitempty"`
	// Deliver lists the actuations the step asks for (pump: 0.01 U each;
	// pacer: the number of paces).
	Deliver []int64       `cbor:"11,keyasint,omitempty"`
	Stop    bool          `cbor:"12,keyasint,omitempty"`
	Alerts  []reason.Code `cbor:"13,keyasint,omitempty"`
	// Refusal and Error: why a frame never reached the kernel.
	Refusal Refusal `cbor:"14,keyasint,omitempty"`
	Error   string  `cbor:"15,keyasint,omitempty"`
	// State is the kernel state after the step; VerdictCtr and AckCtr the
	// implant's other counters at that point.
	State      []byte `cbor:"16,keyasint,omitempty"`
	VerdictCtr uint64 `cbor:"17,keyasint,omitempty"`
	AckCtr     uint64 `cbor:"18,keyasint,omitempty"`
	// Of is the seq of the step record an actuated record completes.
	Of uint64 `cbor:"19,keyasint,omitempty"`
	// Update is an update event's state (RecUpdate).
	Update *UpdateInfo `cbor:"20,keyasint,omitempty"`
}

// A record is read back from the implant's own storage; unknown keys are
// refused (a record this firmware did not write).
var recDec = dcbor.NewDecoder(dcbor.Limits{MaxNested: 4, MaxArray: 64, MaxMap: 32})

// EncodeRecord encodes a log record.
func EncodeRecord(r *LogRecord) ([]byte, error) {
	b, err := dcbor.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode record: %w", err)
	}
	return b, nil
}

// DecodeRecord decodes a log record (the implant at boot, auditors).
func DecodeRecord(b []byte) (*LogRecord, error) {
	var r LogRecord
	if err := recDec.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("protocol: decode record: %w", err)
	}
	return &r, nil
}
