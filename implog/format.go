package implog

import (
	"iter"

	"github.com/implantfhe/implantfhe/logchain"
)

// The record format lives in package logchain (auditors verify a log image
// without linking the implant's storage code); these names stay here for
// the implant's own use.
const (
	Tag        = logchain.Tag
	HeaderSize = logchain.HeaderSize
	HashSize   = logchain.HashSize
	Overhead   = logchain.Overhead
	MaxPayload = logchain.MaxPayload
)

type (
	// Hash is a record hash, the link of the chain.
	Hash = logchain.Hash
	// Record is one decoded log record.
	Record = logchain.Record
	// ChainError locates the first record that does not verify.
	ChainError = logchain.ChainError
)

// Errors of the record format (see logchain).
var (
	ErrChainBroken     = logchain.ErrChainBroken
	ErrTornTail        = logchain.ErrTornTail
	ErrPayloadTooLarge = logchain.ErrPayloadTooLarge
	ErrNeedsRecovery   = logchain.ErrNeedsRecovery
)

// Verify checks a whole log image offline (logchain.Verify).
func Verify(data []byte) (uint64, Hash, error) { return logchain.Verify(data) }

// Decode yields the records of a log image in order (logchain.Decode).
func Decode(data []byte) iter.Seq2[Record, error] { return logchain.Decode(data) }
