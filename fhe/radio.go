package fhe

import (
	"fmt"
	"math/big"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
)

// RadioCiphertext is what the relay sends to the implant over its radio:
// command values and verdicts in one level-0 ciphertext, switched to the
// small radio ring (degree 2^RadioLogN, modulus q0) under the implant's
// radio secret.
type RadioCiphertext struct {
	params *Params
	ct     *rlwe.Ciphertext
}

// ForImplant packs the command's values (slots h+i, 2h+i) and the verdict
// (slot i) into one ciphertext, drops it to level 0 and switches it to the
// radio ring.
func (r *Relay) ForImplant(s Schema, cmd, verdict *Ciphertext) (*RadioCiphertext, error) {
	p := r.keys.params
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("for implant: %w", err)
	}
	if err := cmd.check(p, DomainImplant, RoleCommand); err != nil {
		return nil, fmt.Errorf("for implant command: %w", err)
	}
	if err := verdict.check(p, DomainImplant, RoleVerdict); err != nil {
		return nil, fmt.Errorf("for implant verdict: %w", err)
	}
	if r.keys.radio == nil {
		return nil, fmt.Errorf("for implant: relay keys have no ring-switching key: %w", ErrParamMismatch)
	}
	ev := r.eval
	ckks := p.ckks
	n := 1 << p.commandLogSlots()
	h := CommandMaxUnits

	// Values: mask blocks 1 and 2 of the command at the top level, rescale
	// (scale back to exactly Δ), drop to level 0.
	m12 := make([]float64, n)
	for i := range s {
		m12[h+i], m12[2*h+i] = 1, 1
	}
	vals, err := ev.MulNew(cmd.ct, m12)
	if err != nil {
		return nil, fmt.Errorf("mask values: %w: %w", ErrEval, err)
	}
	if err = ev.Rescale(vals, vals); err != nil {
		return nil, fmt.Errorf("rescale values: %w: %w", ErrEval, err)
	}
	ev.DropLevel(vals, vals.Level())

	// Verdict: mask block 0 with a plaintext whose scale makes the result's
	// scale exactly vals.Scale after rescaling by q1.
	v := verdict.ct
	if v.Level() != 1 {
		return nil, fmt.Errorf("verdict at level %d, want 1: %w", v.Level(), ErrSchema)
	}
	m0 := make([]float64, n)
	for i := range s {
		m0[i] = 1
	}
	pt := hefloat.NewPlaintext(ckks, 1)
	pt.LogDimensions = v.LogDimensions
	q1 := new(big.Float).SetUint64(ckks.Q()[1])
	ms := new(big.Float).Mul(&vals.Scale.Value, q1)
	ms.Quo(ms, &v.Scale.Value)
	pt.Scale = rlwe.NewScale(ms)
	if err = r.enc.Encode(m0, pt); err != nil {
		return nil, fmt.Errorf("encode mask: %w: %w", ErrEval, err)
	}
	vm, err := ev.MulNew(v, pt)
	if err != nil {
		return nil, fmt.Errorf("mask verdict: %w: %w", ErrEval, err)
	}
	if err = ev.Rescale(vm, vm); err != nil {
		return nil, fmt.Errorf("rescale verdict: %w: %w", ErrEval, err)
	}
	vm.Scale = vals.Scale // equal up to float rounding of the mask scale
	if err = ev.Add(vm, vals, vm); err != nil {
		return nil, fmt.Errorf("pack: %w: %w", ErrEval, err)
	}

	out := hefloat.NewCiphertext(p.radio, 1, 0)
	if err = ev.ApplyEvaluationKey(vm, r.keys.radio, out); err != nil {
		return nil, fmt.Errorf("ring switch: %w: %w", ErrEval, err)
	}
	return &RadioCiphertext{params: p, ct: out}, nil
}

// OpenCommand decrypts a radio packet with the implant's radio secret and
// rounds every slot: values to their quantum, verdicts to {0,1}.
func (k *SecretKeys) OpenCommand(s Schema, pkt *RadioCiphertext) (Decision, error) {
	if err := s.Validate(); err != nil {
		return Decision{}, fmt.Errorf("open command: %w", err)
	}
	if k.domain != DomainImplant || k.radioSK == nil {
		return Decision{}, fmt.Errorf("open command with %v keys: %w", k.domain, ErrParamMismatch)
	}
	if pkt == nil || pkt.ct == nil || pkt.params.set.ID != k.params.set.ID {
		return Decision{}, fmt.Errorf("open command: packet parameter set: %w", ErrParamMismatch)
	}
	rp := k.params.radio
	pt := rlwe.NewDecryptor(rp, k.radioSK).DecryptNew(pkt.ct)
	slots := make([]float64, pt.Slots())
	if err := hefloat.NewEncoder(rp).Decode(pt, slots); err != nil {
		return Decision{}, fmt.Errorf("open command decode: %w: %w", ErrEval, err)
	}
	h := CommandMaxUnits
	if len(slots) < 3*h {
		return Decision{}, fmt.Errorf("open command: %d slots: %w", len(slots), ErrMalformed)
	}
	d := Decision{Values: make([]int64, len(s)), WithinLimits: make([]bool, len(s))}
	for i, u := range s {
		ok, err := roundBit(slots[i])
		if err != nil {
			return Decision{}, fmt.Errorf("open command unit %d: %w", i, err)
		}
		sg := u.sign() * CompareRadius
		hi, ok1 := roundTo(slots[h+i]*sg, 0.25)
		lo, ok2 := roundTo(slots[2*h+i]*sg, 0.25)
		if !ok1 || !ok2 {
			return Decision{}, fmt.Errorf("open command unit %d: digit not near an integer: %w", i, ErrDecryptRange)
		}
		v, err := u.Quantity.fromDigits(hi, lo)
		if err != nil {
			return Decision{}, fmt.Errorf("open command unit %d: %w", i, err)
		}
		d.Values[i], d.WithinLimits[i] = v, ok
	}
	return d, nil
}
