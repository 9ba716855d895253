// Package guard is the command admission every kernel shares: who signed a
// command (CMD-AUTH), whether its counter is fresh (CMD-REPLAY), whether it is
// within its validity window (CMD-EXPIRY), and how the relay's homomorphic
// verdict combines with the kernel's exact check (CMD-VERDICT).
//
// Signatures are verified by the wire layer before anything is decrypted; the
// kernel receives the verified signer's role and refuses anything that is not
// from an authorised role. Guard is pure and allocation-free.
package guard

import (
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// Role is the role of the key whose signature the wire layer verified.
type Role uint8

// Roles. RoleNone means no valid signature from a trusted key.
const (
	RoleNone Role = iota
	RoleClinician
	RoleManufacturer
	RoleRelay
	RoleImplant
)

// Verdict is the relay's homomorphic pre-check of a command's parameters
// against the encrypted limits, as decrypted by the implant.
type Verdict uint8

// Verdicts.
const (
	VerdictAbsent Verdict = iota
	VerdictWithin
	VerdictOutside
)

// Header is the authenticated envelope information of a command, expressed on
// the implant's monotonic timeline.
type Header struct {
	Counter     uint64
	IssuedAtMs  units.Millis
	ExpiresAtMs units.Millis
	Signer      Role
}

// State is the admission state a kernel persists: the highest counter it has
// consumed.
type State struct {
	LastCounter uint64
}

// Admit decides whether an authenticated command may be considered at all.
// On success it consumes the counter, so that a command refused later (for a
// limit or a mode) can never be replayed once the state would allow it.
// An unauthenticated or replayed command leaves the state unchanged.
//
// CMD-AUTH, CMD-REPLAY, CMD-EXPIRY.
func Admit(st *State, h Header, want Role, now, maxValidity units.Millis) reason.Code {
	// CMD-AUTH: only a verified signature from the authorised role.
	if h.Signer == RoleNone {
		return reason.Unauthenticated
	}
	if h.Signer != want {
		return reason.WrongRole
	}
	// CMD-REPLAY: counters strictly increase.
	if h.Counter <= st.LastCounter {
		return reason.Replay
	}
	st.LastCounter = h.Counter
	// CMD-EXPIRY: within [issued, expires) and not valid for longer than allowed.
	return CheckExpiry(h, now, maxValidity)
}

// CheckExpiry is the CMD-EXPIRY rule alone.
func CheckExpiry(h Header, now, maxValidity units.Millis) reason.Code {
	if h.ExpiresAtMs <= h.IssuedAtMs || h.ExpiresAtMs-h.IssuedAtMs > maxValidity {
		return reason.ValidityTooLong
	}
	if now < h.IssuedAtMs {
		return reason.NotYetValid
	}
	if now >= h.ExpiresAtMs {
		return reason.Expired
	}
	return reason.OK
}

// ApplyVerdict is the CMD-VERDICT rule: a command that needs a verdict runs
// only when the verdict says "within" AND the kernel's exact check agrees.
// A verdict that disagrees with the exact check in either direction is refused
// and flagged as a tamper/fault alert; an absent verdict is refused. The exact
// check alone decides safety: a lying verdict can only delay therapy.
func ApplyVerdict(v Verdict, exactWithin bool) (code reason.Code, alert bool) {
	switch v {
	case VerdictWithin:
		if exactWithin {
			return reason.OK, false
		}
		return reason.VerdictMismatch, true
	case VerdictOutside:
		if exactWithin {
			return reason.VerdictMismatch, true
		}
		return reason.OverLimit, false
	default:
		return reason.NoVerdict, false
	}
}
