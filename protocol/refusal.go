package protocol

import (
	"errors"

	"github.com/implantfhe/implantfhe/wire"
)

// Errors of the implant's receive path for frames refused before the kernel
// (besides wire's), typed so that every party can branch on them.
var (
	ErrNoVerdict   = errors.New("protocol: command needs a verdict and none came")
	ErrBinding     = errors.New("protocol: verdict does not answer this command")
	ErrCommitment  = errors.New("protocol: decrypted values do not match the clinician's commitment")
	ErrDecrypt     = errors.New("protocol: verdict packet did not decrypt to valid values")
	ErrUnsupported = errors.New("protocol: command kind not supported over the radio")
)

// Refusal is why a frame was refused before it reached the kernel. Values
// are part of the log and acknowledgement format: append, never renumber.
type Refusal uint8

// Refusals.
const (
	RefusedNone Refusal = iota
	RefusedMalformed
	RefusedTooLarge
	RefusedVersion
	RefusedKind
	RefusedDevice
	RefusedUnknownKey
	RefusedRole
	RefusedSignature
	RefusedBodyDigest
	RefusedReplay
	RefusedExpired
	RefusedNoVerdict
	RefusedBinding
	RefusedCommitment
	RefusedDecrypt
	RefusedUnsupported
	RefusedCounterJump
	RefusedOther
	numRefusals
)

var refusalNames = [numRefusals]string{"none", "malformed", "too-large", "version", "kind", "device", "unknown-key", "role",
	"signature", "body-digest", "replay", "expired", "no-verdict", "binding", "commitment", "decrypt", "unsupported",
	"counter-jump", "other"}

func (r Refusal) String() string {
	if r < numRefusals {
		return refusalNames[r]
	}
	return "invalid"
}

var refusalOf = []struct {
	err error
	r   Refusal
}{
	{wire.ErrMalformed, RefusedMalformed}, {wire.ErrTooLarge, RefusedTooLarge}, {wire.ErrVersion, RefusedVersion},
	{wire.ErrKind, RefusedKind}, {wire.ErrDevice, RefusedDevice}, {wire.ErrUnknownKey, RefusedUnknownKey},
	{wire.ErrRole, RefusedRole}, {wire.ErrSignature, RefusedSignature}, {wire.ErrBodyDigest, RefusedBodyDigest},
	{wire.ErrReplay, RefusedReplay}, {wire.ErrCounterJump, RefusedCounterJump}, {wire.ErrExpired, RefusedExpired},
	{ErrNoVerdict, RefusedNoVerdict}, {ErrBinding, RefusedBinding}, {ErrCommitment, RefusedCommitment},
	{ErrDecrypt, RefusedDecrypt}, {ErrUnsupported, RefusedUnsupported},
}

// RefusalOf classifies a receive-path error.
func RefusalOf(err error) Refusal {
	if err == nil {
		return RefusedNone
	}
	for _, e := range refusalOf {
		if errors.Is(err, e.err) {
			return e.r
		}
	}
	return RefusedOther
}
