package wire

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/implantfhe/implantfhe/kernel/guard"
)

// KeyID names a public key: the first KeyIDSize bytes of its SHA-256.
type KeyID [KeyIDSize]byte

// IDOf returns the key ID of a public key.
func IDOf(pub ed25519.PublicKey) KeyID {
	var id KeyID
	d := sha256.Sum256(pub)
	copy(id[:], d[:])
	return id
}

// SigningKey is a private Ed25519 key with its role.
type SigningKey struct {
	ID      KeyID
	Role    guard.Role
	Private ed25519.PrivateKey
}

// TrustedKey is a public key with its role.
type TrustedKey struct {
	ID     KeyID
	Role   guard.Role
	Public ed25519.PublicKey
}

// GenerateSigningKey makes a new key of the given role from rand.
func GenerateSigningKey(role guard.Role, rand io.Reader) (*SigningKey, error) {
	if role == guard.RoleNone {
		return nil, fmt.Errorf("generate key: %w: no role", ErrKeyMaterial)
	}
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return &SigningKey{ID: IDOf(pub), Role: role, Private: priv}, nil
}

// Public returns the trusted-key form of k.
func (k *SigningKey) Public() TrustedKey {
	pub := k.Private.Public().(ed25519.PublicKey)
	return TrustedKey{ID: k.ID, Role: k.Role, Public: pub}
}

// TrustList is the set of keys a receiver trusts, each for one role.
type TrustList struct {
	keys map[KeyID]TrustedKey
}

// NewTrustList builds a trust list; a key listed twice, of the wrong size,
// or whose ID does not match is refused.
func NewTrustList(keys ...TrustedKey) (*TrustList, error) {
	t := &TrustList{keys: make(map[KeyID]TrustedKey, len(keys))}
	for _, k := range keys {
		if len(k.Public) != ed25519.PublicKeySize || IDOf(k.Public) != k.ID || k.Role == guard.RoleNone {
			return nil, fmt.Errorf("trust list: key %x: %w", k.ID, ErrKeyMaterial)
		}
		if _, dup := t.keys[k.ID]; dup {
			return nil, fmt.Errorf("trust list: key %x listed twice: %w", k.ID, ErrKeyMaterial)
		}
		t.keys[k.ID] = k
	}
	return t, nil
}

// Lookup returns the trusted key with this ID.
func (t *TrustList) Lookup(id KeyID) (TrustedKey, bool) {
	if t == nil {
		return TrustedKey{}, false
	}
	k, ok := t.keys[id]
	return k, ok
}
