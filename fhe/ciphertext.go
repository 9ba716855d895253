package fhe

import (
	"fmt"
	"math"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"
)

// Role says what a ciphertext holds; it is part of its encoding, so a
// relay cannot be fed limits where a command is expected.
type Role uint8

const (
	RoleCommand      Role = 1 // command values, implant domain
	RoleLimits       Role = 2 // limits, implant domain
	RoleVerdict      Role = 3 // relay output before packing, implant domain
	RoleAlertInput   Role = 4 // clamped telemetry readings, clinic domain
	RoleReadings     Role = 5 // raw telemetry readings, clinic domain
	RoleFlags        Role = 6 // alert flags, clinic domain
	RoleWindowCounts Role = 7 // flags summed per window, clinic domain
	RoleWindowSums   Role = 8 // readings summed per window, clinic domain
	maxRole               = RoleWindowSums
)

func (r Role) domain() Domain {
	if r >= 1 && r <= 3 {
		return DomainImplant
	}
	return DomainClinic
}

// Ciphertext is a CKKS ciphertext in the evaluation ring with its role.
type Ciphertext struct {
	params *Params
	domain Domain
	role   Role
	ct     *rlwe.Ciphertext
}

// Role returns what the ciphertext holds.
func (c *Ciphertext) Role() Role { return c.role }

// Level returns the ciphertext's level.
func (c *Ciphertext) Level() int { return c.ct.Level() }

func (c *Ciphertext) check(p *Params, d Domain, role Role) error {
	if c == nil || c.ct == nil {
		return fmt.Errorf("nil ciphertext: %w", ErrSchema)
	}
	if c.params.set.ID != p.set.ID || c.domain != d {
		return fmt.Errorf("ciphertext %s/%v, want %s/%v: %w", c.params.set.Name, c.domain, p.set.Name, d, ErrParamMismatch)
	}
	if c.role != role {
		return fmt.Errorf("ciphertext role %d, want %d: %w", c.role, role, ErrBadKind)
	}
	return nil
}

// encrypt encodes real slot values (sparse if logSlots < max) at a level
// and encrypts them under pk.
func (pk *PublicKey) encrypt(slots []float64, logSlots, level int, role Role) (*Ciphertext, error) {
	p := pk.params.ckks
	pt := hefloat.NewPlaintext(p, level)
	pt.LogDimensions = ring.Dimensions{Rows: 0, Cols: logSlots}
	if err := hefloat.NewEncoder(p).Encode(slots, pt); err != nil {
		return nil, fmt.Errorf("encode: %w: %w", ErrEval, err)
	}
	ct, err := rlwe.NewEncryptor(p, pk.pk).EncryptNew(pt)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w: %w", ErrEval, err)
	}
	return &Ciphertext{params: pk.params, domain: pk.domain, role: role, ct: ct}, nil
}

// decryptSlots decrypts and decodes; the result never leaves the package
// unrounded.
func (k *SecretKeys) decryptSlots(c *Ciphertext) ([]float64, error) {
	p := k.params.ckks
	pt := rlwe.NewDecryptor(p, k.sk).DecryptNew(c.ct)
	out := make([]float64, pt.Slots())
	if err := hefloat.NewEncoder(p).Decode(pt, out); err != nil {
		return nil, fmt.Errorf("decode: %w: %w", ErrEval, err)
	}
	return out, nil
}

// roundTo returns the integer nearest to x if it is within tol of it.
func roundTo(x, tol float64) (int64, bool) {
	r := math.Round(x)
	if math.IsNaN(x) || math.Abs(x-r) > tol || math.Abs(r) > 1<<40 {
		return 0, false
	}
	return int64(r), true
}
