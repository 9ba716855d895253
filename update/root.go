package update

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/implantfhe/implantfhe/internal/dcbor"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/wire"
)

// MaxRootKeys bounds the keys of a trust root.
const MaxRootKeys = 16

// RootKey is a manufacturer Ed25519 public key and its ID (wire.IDOf).
type RootKey struct {
	ID     []byte `cbor:"1,keyasint"`
	Public []byte `cbor:"2,keyasint"`
}

// TrustRoot is the set of manufacturer keys an implant trusts for updates,
// and how many of them must sign (TUF-style threshold). It is persisted in
// the implant's update state and replaced only by RotateRoot.
type TrustRoot struct {
	Version   uint64    `cbor:"1,keyasint"`
	Threshold int       `cbor:"2,keyasint"`
	Keys      []RootKey `cbor:"3,keyasint"`
}

// SignedRoot is a new trust root with signatures over its SignedBytes.
type SignedRoot struct {
	Root TrustRoot   `cbor:"1,keyasint"`
	Sigs []Signature `cbor:"2,keyasint"`
}

// NewTrustRoot builds a root from manufacturer keys.
func NewTrustRoot(version uint64, threshold int, keys ...wire.TrustedKey) (*TrustRoot, error) {
	r := &TrustRoot{Version: version, Threshold: threshold}
	for _, k := range keys {
		if k.Role != guard.RoleManufacturer {
			return nil, fmt.Errorf("trust root: key %x has role %d, not manufacturer: %w", k.ID, k.Role, ErrMalformed)
		}
		r.Keys = append(r.Keys, RootKey{ID: append([]byte(nil), k.ID[:]...), Public: append([]byte(nil), k.Public...)})
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}

// check validates a root's structure: key sizes, IDs, no key twice, and
// 1 ≤ Threshold ≤ len(Keys).
func (r *TrustRoot) check() error {
	if len(r.Keys) == 0 || len(r.Keys) > MaxRootKeys {
		return fmt.Errorf("trust root: %w: %d keys", ErrMalformed, len(r.Keys))
	}
	if r.Threshold < 1 || r.Threshold > len(r.Keys) {
		return fmt.Errorf("trust root: %w: threshold %d of %d keys", ErrMalformed, r.Threshold, len(r.Keys))
	}
	seen := make(map[string]bool, len(r.Keys))
	for i, k := range r.Keys {
		if len(k.Public) != ed25519.PublicKeySize {
			return fmt.Errorf("trust root: %w: key %d size %d", ErrMalformed, i, len(k.Public))
		}
		id := wire.IDOf(k.Public)
		if !bytes.Equal(k.ID, id[:]) {
			return fmt.Errorf("trust root: %w: key %d ID does not match", ErrMalformed, i)
		}
		if seen[string(k.ID)] {
			return fmt.Errorf("trust root: %w: key %x listed twice", ErrMalformed, k.ID)
		}
		seen[string(k.ID)] = true
	}
	return nil
}

func (r *TrustRoot) clone() TrustRoot {
	c := TrustRoot{Version: r.Version, Threshold: r.Threshold, Keys: make([]RootKey, len(r.Keys))}
	for i, k := range r.Keys {
		c.Keys[i] = RootKey{ID: append([]byte(nil), k.ID...), Public: append([]byte(nil), k.Public...)}
	}
	return c
}

// SignedBytes are the bytes a root signature covers.
func (r *TrustRoot) SignedBytes() ([]byte, error) {
	enc, err := dcbor.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("update: encode trust root: %w", err)
	}
	return append([]byte(rootContext), enc...), nil
}

// verifyThreshold counts the distinct keys of r whose signature over msg
// verifies. Signatures by keys not in r are ignored, a key signing twice
// counts once, and an invalid signature does not count (TUF: a valid
// threshold is enough; extra bad signatures do not spoil it). Too few valid
// signatures is ErrThreshold, and also ErrSignature when some were invalid.
func (r *TrustRoot) verifyThreshold(what string, msg []byte, sigs []Signature) error {
	valid := make(map[string]bool, len(sigs))
	bad := 0
	for _, s := range sigs {
		for _, k := range r.Keys {
			if !bytes.Equal(k.ID, s.KeyID) {
				continue
			}
			if ed25519.Verify(ed25519.PublicKey(k.Public), msg, s.Sig) {
				valid[string(k.ID)] = true
			} else {
				bad++
			}
		}
	}
	if len(valid) >= r.Threshold {
		return nil
	}
	if bad > 0 {
		return fmt.Errorf("%s: %w (%d invalid): %w: %d of %d (root v%d)", what, ErrSignature, bad, ErrThreshold, len(valid), r.Threshold, r.Version)
	}
	return fmt.Errorf("%s: %w: %d of %d valid signatures (root v%d)", what, ErrThreshold, len(valid), r.Threshold, r.Version)
}

// VerifyManifest checks that a threshold of r's keys signed m's body.
func (r *TrustRoot) VerifyManifest(m *Manifest) error {
	msg, err := m.Body.SignedBytes()
	if err != nil {
		return err
	}
	return r.verifyThreshold(fmt.Sprintf("manifest v%d", m.Body.Version), msg, m.Sigs)
}

// RotateRoot checks a proposed new root and returns it: its version must be
// above r's, a threshold of r's keys must have signed it (the current root
// authorises the change), and a threshold of its own keys too (TUF §5.3.4:
// the new key holders prove they hold their keys, so a typo cannot brick
// the fleet's update path).
func (r *TrustRoot) RotateRoot(newRoot *TrustRoot, sigs []Signature) (*TrustRoot, error) {
	if err := newRoot.check(); err != nil {
		return nil, fmt.Errorf("rotate root: %w", err)
	}
	if err := checkSigs(sigs); err != nil {
		return nil, fmt.Errorf("rotate root: %w", err)
	}
	if newRoot.Version <= r.Version {
		return nil, fmt.Errorf("rotate root: %w: version %d ≤ current %d", ErrRollback, newRoot.Version, r.Version)
	}
	msg, err := newRoot.SignedBytes()
	if err != nil {
		return nil, err
	}
	if err := r.verifyThreshold(fmt.Sprintf("root v%d by current root", newRoot.Version), msg, sigs); err != nil {
		return nil, fmt.Errorf("rotate root: %w", err)
	}
	if err := newRoot.verifyThreshold(fmt.Sprintf("root v%d by its own keys", newRoot.Version), msg, sigs); err != nil {
		return nil, fmt.Errorf("rotate root: %w", err)
	}
	c := newRoot.clone()
	return &c, nil
}

// SignRoot signs root with each key.
func SignRoot(root *TrustRoot, keys ...*wire.SigningKey) (*SignedRoot, error) {
	msg, err := root.SignedBytes()
	if err != nil {
		return nil, err
	}
	sigs, err := signAll(msg, keys)
	if err != nil {
		return nil, fmt.Errorf("sign root: %w", err)
	}
	return &SignedRoot{Root: root.clone(), Sigs: sigs}, nil
}

// Marshal encodes a signed root as deterministic CBOR.
func (s *SignedRoot) Marshal() ([]byte, error) {
	b, err := dcbor.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("update: encode signed root: %w", err)
	}
	return b, nil
}

// DecodeSignedRoot parses an untrusted signed root (structure only).
func DecodeSignedRoot(b []byte) (*SignedRoot, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: root of %d bytes", ErrSize, len(b))
	}
	var s SignedRoot
	if err := decodeCanonical(b, &s); err != nil {
		return nil, fmt.Errorf("decode root: %w", err)
	}
	if err := s.Root.check(); err != nil {
		return nil, fmt.Errorf("decode root: %w", err)
	}
	if err := checkSigs(s.Sigs); err != nil {
		return nil, fmt.Errorf("decode root: %w", err)
	}
	return &s, nil
}

// Verify checks that a root is signed by a threshold of its own keys (the
// provisioning check of a factory root, as TUF checks a root.json against
// itself) and returns it.
func (s *SignedRoot) Verify() (*TrustRoot, error) {
	if err := s.Root.check(); err != nil {
		return nil, err
	}
	msg, err := s.Root.SignedBytes()
	if err != nil {
		return nil, err
	}
	if err := s.Root.verifyThreshold("root", msg, s.Sigs); err != nil {
		return nil, err
	}
	c := s.Root.clone()
	return &c, nil
}
