package update

import "errors"

// Typed errors. Callers branch on them with errors.Is; the package wraps them
// with what failed (which key, which chunk, which values).
var (
	// ErrMalformed: bytes that are not a canonical, well-formed manifest,
	// root or state record, or a chunk index out of range.
	ErrMalformed = errors.New("update: malformed")
	// ErrSignature: a signature does not verify under the key it names.
	ErrSignature = errors.New("update: bad signature")
	// ErrThreshold: fewer distinct trusted keys signed than the root requires.
	ErrThreshold = errors.New("update: signature threshold not met")
	// ErrVendor: the manifest is for another vendor.
	ErrVendor = errors.New("update: wrong vendor")
	// ErrClass: the manifest is for another device class.
	ErrClass = errors.New("update: wrong device class")
	// ErrRollback: the image version is not above the running one, the
	// security counter is below the confirmed one, or a trust root version
	// does not increase.
	ErrRollback = errors.New("update: rollback refused")
	// ErrDigest: the staged image does not hash to the manifest's digest.
	ErrDigest = errors.New("update: image digest mismatch")
	// ErrSize: an image, chunk or manifest of the wrong size.
	ErrSize = errors.New("update: wrong size")
	// ErrDecrypt: a chunk or a wrapped content key failed authentication, or
	// the manifest holds no key for this device.
	ErrDecrypt = errors.New("update: decryption failed")
	// ErrState: the call is not allowed in the current update phase.
	ErrState = errors.New("update: not allowed in this phase")
	// ErrSwitchRefused: the safety kernel said a slot switch is not safe now;
	// nothing was switched (the firmware returns it).
	ErrSwitchRefused = errors.New("update: slot switch not allowed now")
	// ErrCorrupt: persisted update state or a slot image is damaged.
	ErrCorrupt = errors.New("update: persisted state corrupt")
	// ErrNotProvisioned: no update state exists on this storage.
	ErrNotProvisioned = errors.New("update: not provisioned")
)
