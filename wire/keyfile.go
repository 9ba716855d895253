package wire

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"github.com/implantfhe/implantfhe/kernel/guard"
)

// Role names used in key files.
var roleNames = map[guard.Role]string{
	guard.RoleClinician:    "clinician",
	guard.RoleManufacturer: "manufacturer",
	guard.RoleRelay:        "relay",
	guard.RoleImplant:      "implant",
}

// RoleName is the key-file name of a role.
func RoleName(r guard.Role) string { return roleNames[r] }

func roleByName(s string) (guard.Role, error) {
	for r, n := range roleNames {
		if n == s {
			return r, nil
		}
	}
	return guard.RoleNone, fmt.Errorf("%w: unknown role %q", ErrKeyMaterial, s)
}

type keyFile struct {
	Format  string `json:"format"`
	Role    string `json:"role"`
	ID      []byte `json:"id"`
	Public  []byte `json:"public"`
	Private []byte `json:"private,omitempty"`
}

const keyFileFormat = "implantfhe-ed25519-key/v1"

// MarshalSigningKey encodes a private key file (store it with mode 0600).
func MarshalSigningKey(k *SigningKey) ([]byte, error) {
	pub := k.Private.Public().(ed25519.PublicKey)
	return json.MarshalIndent(keyFile{Format: keyFileFormat, Role: RoleName(k.Role), ID: k.ID[:], Public: pub, Private: k.Private.Seed()}, "", "  ")
}

// UnmarshalSigningKey decodes and checks a private key file.
func UnmarshalSigningKey(b []byte) (*SigningKey, error) {
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil || f.Format != keyFileFormat {
		return nil, fmt.Errorf("%w: not a signing key file", ErrKeyMaterial)
	}
	role, err := roleByName(f.Role)
	if err != nil {
		return nil, err
	}
	if len(f.Private) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: private key size %d", ErrKeyMaterial, len(f.Private))
	}
	priv := ed25519.NewKeyFromSeed(f.Private)
	pub := priv.Public().(ed25519.PublicKey)
	if IDOf(pub) != KeyID(f.ID) || string(pub) != string(f.Public) {
		return nil, fmt.Errorf("%w: key ID or public key does not match the private key", ErrKeyMaterial)
	}
	return &SigningKey{ID: IDOf(pub), Role: role, Private: priv}, nil
}

// MarshalTrustedKeys encodes a list of public keys (a trust list file).
func MarshalTrustedKeys(keys ...TrustedKey) ([]byte, error) {
	fs := make([]keyFile, len(keys))
	for i, k := range keys {
		fs[i] = keyFile{Format: keyFileFormat, Role: RoleName(k.Role), ID: k.ID[:], Public: k.Public}
	}
	return json.MarshalIndent(fs, "", "  ")
}

// UnmarshalTrustList decodes a trust list file and builds the trust list.
func UnmarshalTrustList(b []byte) (*TrustList, []TrustedKey, error) {
	var fs []keyFile
	if err := json.Unmarshal(b, &fs); err != nil {
		return nil, nil, fmt.Errorf("%w: not a trust list file: %v", ErrKeyMaterial, err)
	}
	keys := make([]TrustedKey, 0, len(fs))
	for _, f := range fs {
		role, err := roleByName(f.Role)
		if err != nil {
			return nil, nil, err
		}
		if f.Format != keyFileFormat || len(f.ID) != KeyIDSize {
			return nil, nil, fmt.Errorf("%w: bad trust list entry", ErrKeyMaterial)
		}
		keys = append(keys, TrustedKey{ID: KeyID(f.ID), Role: role, Public: ed25519.PublicKey(f.Public)})
	}
	t, err := NewTrustList(keys...)
	return t, keys, err
}
