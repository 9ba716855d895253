package fhe

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
)

// Domain is a key domain.
type Domain uint8

const (
	// DomainImplant: commands, limits and verdicts (sk_I, pk_I).
	DomainImplant Domain = 1
	// DomainClinic: telemetry and its summaries (sk_C, pk_C).
	DomainClinic Domain = 2
)

func (d Domain) String() string {
	switch d {
	case DomainImplant:
		return "implant"
	case DomainClinic:
		return "clinic"
	}
	return fmt.Sprintf("domain(%d)", uint8(d))
}

func (d Domain) valid() bool { return d == DomainImplant || d == DomainClinic }

// CommandMaxUnits is the number of compared parameters one command
// ciphertext carries; it is also the rotation step of the circuit.
const CommandMaxUnits = 16

// TelemetryWindow is the number of consecutive slots (readings of one
// implant) summarised together: 64 five-minute CGM readings ≈ 5.3 h.
const TelemetryWindow = 64

// SecretKeys are the keys of one domain's owner: the implant (sk_I) or the
// clinic (sk_C). The implant also holds the secret of the small radio ring.
type SecretKeys struct {
	params  *Params
	domain  Domain
	sk      *rlwe.SecretKey
	pk      *rlwe.PublicKey
	radioSK *rlwe.SecretKey // DomainImplant only
}

// PublicKey encrypts into a domain.
type PublicKey struct {
	params *Params
	domain Domain
	pk     *rlwe.PublicKey
}

// RelayKeys is everything a relay holds for one domain: the public key and
// evaluation keys. It has no field of a secret-key type, so it cannot
// carry one (a test walks its type to keep it so).
type RelayKeys struct {
	params *Params
	domain Domain
	pk     *rlwe.PublicKey
	rlk    *rlwe.RelinearizationKey
	gks    []*rlwe.GaloisKey
	radio  *rlwe.EvaluationKey // DomainImplant only: sk_I → radio secret, at level 0
}

// GenerateKeys generates the secret and public keys of a domain.
func GenerateKeys(p *Params, d Domain) (*SecretKeys, error) {
	if !d.valid() {
		return nil, fmt.Errorf("generate keys: %v: %w", d, ErrParamMismatch)
	}
	kgen := rlwe.NewKeyGenerator(p.ckks)
	sk, pk := kgen.GenKeyPairNew()
	k := &SecretKeys{params: p, domain: d, sk: sk, pk: pk}
	if d == DomainImplant {
		k.radioSK = rlwe.NewKeyGenerator(p.radio).GenSecretKeyNew()
	}
	return k, nil
}

// Params returns the parameters of the keys.
func (k *SecretKeys) Params() *Params { return k.params }

// Domain returns the key domain.
func (k *SecretKeys) Domain() Domain { return k.domain }

// PublicKey returns the domain's public key.
func (k *SecretKeys) PublicKey() *PublicKey {
	return &PublicKey{params: k.params, domain: k.domain, pk: k.pk}
}

// Domain returns the key domain.
func (pk *PublicKey) Domain() Domain { return pk.domain }

// Params returns the parameters of the key.
func (pk *PublicKey) Params() *Params { return pk.params }

// galoisSteps are the rotations a relay needs in a domain.
func galoisSteps(d Domain) []int {
	if d == DomainImplant {
		return []int{CommandMaxUnits}
	}
	var s []int
	for r := 1; r < TelemetryWindow; r <<= 1 {
		s = append(s, r)
	}
	return s
}

// postStepLevel is the level of a ciphertext after the step polynomial;
// rotation keys are generated only up to it (they are used only there and
// below), which keeps them small.
func (p *Params) postStepLevel(c Composite) int { return p.ckks.MaxLevel() - c.Depth() }

func (p *Params) evkShape(d Domain) (gk rlwe.EvaluationKeyParameters, radio rlwe.EvaluationKeyParameters) {
	lvl, zero := p.postStepLevel(CompareComposite), 0
	if d == DomainClinic {
		lvl = p.postStepLevel(TelemetryComposite)
	}
	return rlwe.EvaluationKeyParameters{LevelQ: &lvl, LevelP: &zero},
		rlwe.EvaluationKeyParameters{LevelQ: &zero, LevelP: &zero}
}

// RelayKeys generates the evaluation keys the relay needs: relinearisation,
// the domain's rotations, and (implant domain) the ring-switching key.
func (k *SecretKeys) RelayKeys() (*RelayKeys, error) {
	p := k.params
	kgen := rlwe.NewKeyGenerator(p.ckks)
	gkShape, radioShape := p.evkShape(k.domain)
	rk := &RelayKeys{params: p, domain: k.domain, pk: k.pk, rlk: kgen.GenRelinearizationKeyNew(k.sk)}
	for _, s := range galoisSteps(k.domain) {
		rk.gks = append(rk.gks, kgen.GenGaloisKeyNew(p.ckks.GaloisElement(s), k.sk, gkShape))
	}
	if k.domain == DomainImplant {
		rk.radio = kgen.GenEvaluationKeyNew(k.sk, k.radioSK, radioShape)
	}
	return rk, nil
}

// Domain returns the key domain.
func (rk *RelayKeys) Domain() Domain { return rk.domain }

// Params returns the parameters of the keys.
func (rk *RelayKeys) Params() *Params { return rk.params }

// PublicKey returns the domain's public key.
func (rk *RelayKeys) PublicKey() *PublicKey {
	return &PublicKey{params: rk.params, domain: rk.domain, pk: rk.pk}
}

func (rk *RelayKeys) evaluator() *hefloat.Evaluator {
	return hefloat.NewEvaluator(rk.params.ckks, rlwe.NewMemEvaluationKeySet(rk.rlk, rk.gks...))
}
