package firmware

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/implantfhe/implantfhe/kernel/pump"
)

// Record types in the implant log.
const (
	RecBoot     = "boot"     // power-on: the state resumed from
	RecStep     = "step"     // a kernel Step with its decision and actuation requests
	RecRefused  = "refused"  // a frame refused before the kernel (wire or crypto check)
	RecActuated = "actuated" // the actuations of the previous step were carried out
)

// Record is one entry of the implant log (CBOR payload of an implog record).
type Record struct {
	Type   string  `cbor:"1,keyasint"`
	NowMs  int64   `cbor:"2,keyasint"`
	Input  string  `cbor:"3,keyasint,omitempty"`
	Cmd    string  `cbor:"4,keyasint,omitempty"`
	Ctr    uint64  `cbor:"5,keyasint,omitempty"`
	Values []int64 `cbor:"6,keyasint,omitempty"`
	// Accepted and Reason: the kernel's decision for a command.
	Accepted bool   `cbor:"7,keyasint,omitempty"`
	Reason   string `cbor:"8,keyasint,omitempty"`
	// Deliver lists the insulin the step asks for, in 0.01 U.
	Deliver []int64  `cbor:"9,keyasint,omitempty"`
	Stop    bool     `cbor:"10,keyasint,omitempty"`
	Alerts  []string `cbor:"11,keyasint,omitempty"`
	Error   string   `cbor:"12,keyasint,omitempty"`
	// State is the kernel state after the step; VerdictCtr and AckCtr the
	// implant's other counters.
	State      []byte `cbor:"13,keyasint,omitempty"`
	VerdictCtr uint64 `cbor:"14,keyasint,omitempty"`
	AckCtr     uint64 `cbor:"15,keyasint,omitempty"`
	// Seq of the step record an actuated record completes.
	Of uint64 `cbor:"16,keyasint,omitempty"`
	// Update events (RecUpdate): the event, the image it concerns (version
	// and security counter), the active slot and update phase after it, the
	// chunks still missing, the confirmed security counter and the trust
	// root's version.
	Event     string `cbor:"17,keyasint,omitempty"`
	Version   uint64 `cbor:"18,keyasint,omitempty"`
	SecCtr    uint64 `cbor:"19,keyasint,omitempty"`
	Slot      string `cbor:"20,keyasint,omitempty"`
	Phase     string `cbor:"21,keyasint,omitempty"`
	Missing   uint64 `cbor:"22,keyasint,omitempty"`
	Confirmed uint64 `cbor:"23,keyasint,omitempty"`
	// RootVersion is the version of the manufacturer trust root in force.
	RootVersion uint64 `cbor:"24,keyasint,omitempty"`
	// MissingMap (a "downloading" event) has bit i set (byte i/8, bit i%8)
	// when chunk i still has to be sent: a resumed download sends only those.
	MissingMap []byte `cbor:"25,keyasint,omitempty"`
}

var (
	recEnc cbor.EncMode
	recDec cbor.DecMode
)

func init() {
	var err error
	if recEnc, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	if recDec, err = (cbor.DecOptions{MaxNestedLevels: 4, MaxArrayElements: 64, MaxMapPairs: 32,
		DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden}).DecMode(); err != nil {
		panic(err)
	}
}

// EncodeRecord encodes a log record.
func EncodeRecord(r *Record) ([]byte, error) {
	b, err := recEnc.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("firmware: encode record: %w", err)
	}
	return b, nil
}

// DecodeRecord decodes a log record (auditors read the log with it).
func DecodeRecord(b []byte) (*Record, error) {
	var r Record
	if err := recDec.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("firmware: decode record: %w", err)
	}
	return &r, nil
}

// summarise fills the decision fields of a step record from kernel outputs.
func summarise(r *Record, outs *pump.Outputs) {
	for _, o := range outs.All() {
		switch o.Kind {
		case pump.OutActuate:
			r.Deliver = append(r.Deliver, int64(o.Amount))
		case pump.OutStop:
			r.Stop = true
		case pump.OutAlert:
			r.Alerts = append(r.Alerts, o.Reason.String())
		case pump.OutDecision:
			r.Cmd, r.Ctr, r.Accepted, r.Reason = o.Cmd.String(), o.Counter, o.Accepted, o.Reason.String()
		case pump.OutSwitch:
			r.Cmd, r.Accepted, r.Reason = SwitchDecision, o.Accepted, o.Reason.String()
		}
	}
}
