package fhe

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
)

// Relation is the direction of a command check.
type Relation uint8

const (
	// AtMost: the command value must be ≤ the limit (max bolus, max basal, URL).
	AtMost Relation = 1
	// AtLeast: the command value must be ≥ the limit (LRL).
	AtLeast Relation = 2
)

// Unit is one compared parameter of a command.
type Unit struct {
	Quantity Quantity
	Relation Relation
}

// Schema is the ordered list of compared parameters of a command kind. It
// is public (the relay knows the command kind, not its values).
type Schema []Unit

// Validate checks the schema.
func (s Schema) Validate() error {
	if len(s) == 0 || len(s) > CommandMaxUnits {
		return fmt.Errorf("schema has %d units, want 1..%d: %w", len(s), CommandMaxUnits, ErrSchema)
	}
	for i, u := range s {
		if u.Relation != AtMost && u.Relation != AtLeast {
			return fmt.Errorf("unit %d: relation %d: %w", i, u.Relation, ErrSchema)
		}
		if err := u.Quantity.Validate(); err != nil {
			return fmt.Errorf("unit %d: %w", i, err)
		}
	}
	return nil
}

func (u Unit) sign() float64 {
	if u.Relation == AtLeast {
		return -1
	}
	return 1
}

// Command slot layout (CommandMaxUnits = h): unit i uses slot i (high
// digit, decided at -1/2), slot h+i (high digit, +1/2) and slot 2h+i (low
// digit, +1/2). With D = limit−value per digit (value−limit for AtLeast):
//
//	s0 = [D_hi ≥ 1], s1 = [D_hi ≥ 0], s2 = [D_lo ≥ 0]
//	verdict = s0 + (s1 − s0)·s2     (lexicographic: hi strictly, or hi equal and lo)
var blockOffsets = [3]float64{-0.5, 0.5, 0.5}

func commandSlots(p *Params, s Schema, vals []int64) ([]float64, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(vals) != len(s) {
		return nil, fmt.Errorf("%d values for %d units: %w", len(vals), len(s), ErrSchema)
	}
	slots := make([]float64, 1<<p.commandLogSlots())
	for i, u := range s {
		hi, lo, err := u.Quantity.digits(vals[i])
		if err != nil {
			return nil, fmt.Errorf("unit %d: %w", i, err)
		}
		sg := u.sign() / CompareRadius
		slots[i] = sg * float64(hi)
		slots[CommandMaxUnits+i] = sg * float64(hi)
		slots[2*CommandMaxUnits+i] = sg * float64(lo)
	}
	return slots, nil
}

// EncryptCommand encrypts the values of a command (one per schema unit, in
// quanta) under pk_I, at the top level, in 2^(RadioLogN-1) sparse slots.
func (pk *PublicKey) EncryptCommand(s Schema, values []int64) (*Ciphertext, error) {
	return pk.encryptCommandLike(s, values, RoleCommand)
}

// EncryptLimits encrypts the limits (one per schema unit, in quanta) under pk_I.
func (pk *PublicKey) EncryptLimits(s Schema, limits []int64) (*Ciphertext, error) {
	return pk.encryptCommandLike(s, limits, RoleLimits)
}

func (pk *PublicKey) encryptCommandLike(s Schema, vals []int64, role Role) (*Ciphertext, error) {
	if pk.domain != DomainImplant {
		return nil, fmt.Errorf("encrypt command under %v key: %w", pk.domain, ErrParamMismatch)
	}
	slots, err := commandSlots(pk.params, s, vals)
	if err != nil {
		return nil, fmt.Errorf("encrypt command: %w", err)
	}
	return pk.encrypt(slots, pk.params.commandLogSlots(), pk.params.ckks.MaxLevel(), role)
}

// Relay evaluates comparisons for one domain. It holds only RelayKeys.
// A Relay is not safe for concurrent use; make one per goroutine.
type Relay struct {
	keys *RelayKeys
	eval *hefloat.Evaluator
	poly *hefloat.PolynomialEvaluator
	enc  *hefloat.Encoder
}

// NewRelay builds an evaluator from relay keys.
func NewRelay(rk *RelayKeys) *Relay {
	eval := rk.evaluator()
	return &Relay{keys: rk, eval: eval, poly: hefloat.NewPolynomialEvaluator(rk.params.ckks, eval), enc: hefloat.NewEncoder(rk.params.ckks)}
}

// step evaluates the composite step polynomial slot-wise. Input slots must
// be in [-1,1]; the output has scale Δ and level postStepLevel.
func (r *Relay) step(ct *rlwe.Ciphertext, c Composite) (*rlwe.Ciphertext, error) {
	scale := r.keys.params.ckks.DefaultScale()
	out := ct
	for i, poly := range r.keys.params.step[c] {
		var err error
		if out, err = r.poly.Evaluate(out, hefloat.NewPolynomial(poly), scale); err != nil {
			return nil, fmt.Errorf("step polynomial %d: %w: %w", i, ErrEval, err)
		}
	}
	return out, nil
}

// Compare evaluates, slot-wise and in one ciphertext, whether each command
// value satisfies its limit. The result (RoleVerdict) holds 1 in slot i if
// unit i is within its limit, 0 if not; other slots are garbage.
func (r *Relay) Compare(s Schema, cmd, limits *Ciphertext) (*Ciphertext, error) {
	p := r.keys.params
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	if err := cmd.check(p, DomainImplant, RoleCommand); err != nil {
		return nil, fmt.Errorf("compare command: %w", err)
	}
	if err := limits.check(p, DomainImplant, RoleLimits); err != nil {
		return nil, fmt.Errorf("compare limits: %w", err)
	}
	if r.keys.domain != DomainImplant {
		return nil, fmt.Errorf("compare with %v relay keys: %w", r.keys.domain, ErrParamMismatch)
	}
	ev := r.eval
	diff, err := ev.SubNew(limits.ct, cmd.ct)
	if err != nil {
		return nil, fmt.Errorf("compare: %w: %w", ErrEval, err)
	}
	off := make([]float64, 1<<p.commandLogSlots())
	for b, o := range blockOffsets {
		for i := 0; i < CommandMaxUnits; i++ {
			off[b*CommandMaxUnits+i] = o / CompareRadius
		}
	}
	if err := ev.Add(diff, off, diff); err != nil {
		return nil, fmt.Errorf("compare offsets: %w: %w", ErrEval, err)
	}
	st, err := r.step(diff, CompareComposite)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	v, err := r.combine(st)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	return &Ciphertext{params: p, domain: DomainImplant, role: RoleVerdict, ct: v}, nil
}

// combine computes s0 + (s1−s0)·s2 in slot i from the three blocks.
func (r *Relay) combine(st *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	ev := r.eval
	p := r.keys.params.ckks
	r1, err := ev.RotateNew(st, CommandMaxUnits) // slot i ← s1
	if err != nil {
		return nil, fmt.Errorf("rotate: %w: %w", ErrEval, err)
	}
	r2, err := ev.RotateNew(r1, CommandMaxUnits) // slot i ← s2
	if err != nil {
		return nil, fmt.Errorf("rotate: %w: %w", ErrEval, err)
	}
	if err = ev.Sub(r1, st, r1); err != nil { // s1 − s0
		return nil, fmt.Errorf("sub: %w: %w", ErrEval, err)
	}
	t, err := ev.MulRelinNew(r1, r2) // (s1−s0)·s2, scale Δ²
	if err != nil {
		return nil, fmt.Errorf("mul: %w: %w", ErrEval, err)
	}
	// s0 times ones encoded at scale Δ, so that both terms have scale Δ².
	ones := hefloat.NewPlaintext(p, st.Level())
	ones.LogDimensions = st.LogDimensions
	ones.Scale = st.Scale
	vals := make([]float64, st.Slots())
	for i := range vals {
		vals[i] = 1
	}
	if err = r.enc.Encode(vals, ones); err != nil {
		return nil, fmt.Errorf("encode ones: %w: %w", ErrEval, err)
	}
	u, err := ev.MulNew(st, ones)
	if err != nil {
		return nil, fmt.Errorf("mul ones: %w: %w", ErrEval, err)
	}
	if err = ev.Add(u, t, u); err != nil {
		return nil, fmt.Errorf("add: %w: %w", ErrEval, err)
	}
	if err = ev.Rescale(u, u); err != nil {
		return nil, fmt.Errorf("rescale: %w: %w", ErrEval, err)
	}
	return u, nil
}

// Decision is what the implant learns from a packet: each command value
// (rounded to its quantum) and whether the relay judged it within limits.
type Decision struct {
	Values       []int64
	WithinLimits []bool
}

// OpenVerdict decrypts a verdict ciphertext (before packing) with sk_I and
// rounds each slot to {0,1}. It is used by tests and proofs; the implant
// normally opens a RadioCiphertext.
func (k *SecretKeys) OpenVerdict(s Schema, v *Ciphertext) ([]bool, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("open verdict: %w", err)
	}
	if err := v.check(k.params, k.domain, RoleVerdict); err != nil {
		return nil, fmt.Errorf("open verdict: %w", err)
	}
	slots, err := k.decryptSlots(v)
	if err != nil {
		return nil, fmt.Errorf("open verdict: %w", err)
	}
	out := make([]bool, len(s))
	for i := range s {
		b, err := roundBit(slots[i])
		if err != nil {
			return nil, fmt.Errorf("open verdict unit %d: %w", i, err)
		}
		out[i] = b
	}
	return out, nil
}

// roundBit rounds a decrypted verdict or flag. The proofs bound its
// distance from {0,1} well below 1/2; anything else is refused.
func roundBit(x float64) (bool, error) {
	b, ok := roundTo(x, 0.45)
	if !ok || (b != 0 && b != 1) {
		return false, fmt.Errorf("verdict slot not near 0 or 1: %w", ErrDecryptRange)
	}
	return b == 1, nil
}
