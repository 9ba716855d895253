package fhe

import (
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/utils/bignum"
)

// ParamSetID identifies a parameter set in every encoding header.
type ParamSetID uint16

// ParamSet is a named CKKS parameter set. Production sets are checked
// against the HE Standard 128-bit bound when they are turned into
// [Params]; test-only sets are refused outside test binaries.
type ParamSet struct {
	Name string
	ID   ParamSetID
	// LogN is log2 of the ring degree of the evaluation ring.
	LogN int
	// LogQ are the bit sizes of the ciphertext primes, q0 first. q0 is the
	// modulus of the verdict sent to the implant, so it sets its size.
	LogQ []int
	// LogP are the bit sizes of the key-switching primes.
	LogP []int
	// LogScale is log2 of the CKKS scale Δ.
	LogScale int
	// RadioLogN is log2 of the ring degree of the ciphertext sent to the
	// implant after ring switching. Command ciphertexts use 2^(RadioLogN-1)
	// (sparse) slots so that the switch preserves them.
	RadioLogN int
	// TestOnly marks a set that is not secure; it can be used only in test
	// binaries (testing.Testing()) or binaries built with -tags fhe_testonly.
	TestOnly bool
}

// Production parameter sets.
var (
	// ProdN14 evaluates at N=2^14 with 11 levels: 9 for the composite step
	// polynomial, 1 to combine the digit steps, 1 to mask the verdict.
	// log2(QP) = 40+11·30+50 = 420 ≤ 438 (HE Standard, N=2^14).
	// The radio ring is N=2^12 over q0·p0 = 90 bits ≤ 109.
	ProdN14 = ParamSet{
		Name: "ProdN14", ID: 1,
		LogN: 14, LogQ: []int{40, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30}, LogP: []int{50},
		LogScale: 30, RadioLogN: 12,
	}
)

// Test-only parameter sets: same moduli as ProdN14 on a smaller ring, so
// the circuit (levels, scales, polynomial) is the one that is proven, but
// it is NOT secure (log2 QP = 420 > 109 at N=2^12).
var (
	TestOnlyN12 = ParamSet{
		Name: "TestOnlyN12", ID: 0x8001,
		LogN: 12, LogQ: ProdN14.LogQ, LogP: ProdN14.LogP,
		LogScale: 30, RadioLogN: 10, TestOnly: true,
	}
	TestOnlyN11 = ParamSet{
		Name: "TestOnlyN11", ID: 0x8002,
		LogN: 11, LogQ: ProdN14.LogQ, LogP: ProdN14.LogP,
		LogScale: 30, RadioLogN: 9, TestOnly: true,
	}
)

// ProductionSets lists the production parameter sets, for proofs and benchmarks.
func ProductionSets() []ParamSet { return []ParamSet{ProdN14} }

var allSets = []ParamSet{ProdN14, TestOnlyN12, TestOnlyN11}

// ParamSetByID returns the named set with this id.
func ParamSetByID(id ParamSetID) (ParamSet, error) {
	for _, s := range allSets {
		if s.ID == id {
			return s, nil
		}
	}
	return ParamSet{}, fmt.Errorf("param set id %#x: %w", uint16(id), ErrUnknownParamSet)
}

// ParamSetByName returns the named set.
func ParamSetByName(name string) (ParamSet, error) {
	for _, s := range allSets {
		if s.Name == name {
			return s, nil
		}
	}
	return ParamSet{}, fmt.Errorf("param set %q: %w", name, ErrUnknownParamSet)
}

// heStandardMaxLogQP is the largest log2(QP) giving 128-bit classical
// security for a uniform ternary secret and σ = 3.2, from the Homomorphic
// Encryption Standard (Albrecht et al., 2018), Table 1 (and Lattigo's
// core/rlwe/security.go defaults, which match that distribution).
var heStandardMaxLogQP = map[int]int{10: 27, 11: 54, 12: 109, 13: 218, 14: 438, 15: 881}

// SecurityCheck returns nil if a ring of degree 2^logN with modulus of
// logQP bits is 128-bit secure per the HE Standard, else ErrInsecureParams.
func SecurityCheck(logN int, logQP float64) error {
	bound, ok := heStandardMaxLogQP[logN]
	if !ok {
		return fmt.Errorf("logN=%d is not in the HE Standard table: %w", logN, ErrInsecureParams)
	}
	if logQP > float64(bound) {
		return fmt.Errorf("logN=%d: log2(QP)=%.1f > %d: %w", logN, logQP, bound, ErrInsecureParams)
	}
	return nil
}

// Params is a validated parameter set ready for use.
type Params struct {
	set   ParamSet
	ckks  hefloat.Parameters
	radio hefloat.Parameters
	// step holds, per Composite, the polynomials of step(x) =
	// (sign(x)+1)/2, innermost first, the last one folded with (·+1)/2.
	step [numComposites][]bignum.Polynomial
}

// Composite names one of the two sign approximations (signpoly_coeffs.go).
type Composite uint8

const (
	// CompareComposite (degrees 15, 31; depth 9) decides command checks.
	CompareComposite Composite = iota
	// TelemetryComposite (degrees 15, 15, 7; depth 11) decides alert flags,
	// precise enough (≈2^-8 per flag) that 64 of them sum to an exact count.
	TelemetryComposite
	numComposites
)

func (c Composite) String() string {
	if c == CompareComposite {
		return "compare"
	}
	return "telemetry"
}

func (c Composite) coeffs() [][]string {
	if c == CompareComposite {
		return signPolyCompareCoeffs
	}
	return signPolyTelemetryCoeffs
}

// Depth is the number of levels the composite consumes.
func (c Composite) Depth() (d int) {
	for _, cs := range c.coeffs() {
		d += depthOf(len(cs) - 1)
	}
	return d
}

// NewParams validates a parameter set: it refuses a test-only set outside
// tests, and any other set that is not 128-bit secure.
func NewParams(ps ParamSet) (*Params, error) {
	if ps.TestOnly && !testing.Testing() && !allowTestOnlyTag {
		return nil, fmt.Errorf("param set %s: %w", ps.Name, ErrTestOnlyParams)
	}
	if need := max(CompareComposite.Depth()+2, TelemetryComposite.Depth()); len(ps.LogQ)-1 < need {
		return nil, fmt.Errorf("param set %s: %d levels, the circuits need %d: %w", ps.Name, len(ps.LogQ)-1, need, ErrSchema)
	}
	if ps.RadioLogN < 3 || ps.RadioLogN > ps.LogN {
		return nil, fmt.Errorf("param set %s: radio logN %d: %w", ps.Name, ps.RadioLogN, ErrSchema)
	}
	lit := hefloat.ParametersLiteral{
		LogN: ps.LogN, LogQ: ps.LogQ, LogP: ps.LogP, LogDefaultScale: ps.LogScale,
		Xs: rlwe.DefaultXs, Xe: rlwe.DefaultXe, RingType: ring.Standard,
	}
	main, err := hefloat.NewParametersFromLiteral(lit)
	if err != nil {
		return nil, fmt.Errorf("param set %s: %w: %w", ps.Name, ErrSchema, err)
	}
	radio, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{
		LogN: ps.RadioLogN, Q: main.Q()[:1], P: main.P()[:1], LogDefaultScale: ps.LogScale,
		Xs: rlwe.DefaultXs, Xe: rlwe.DefaultXe, RingType: ring.Standard,
	})
	if err != nil {
		return nil, fmt.Errorf("param set %s radio ring: %w: %w", ps.Name, ErrSchema, err)
	}
	if !ps.TestOnly {
		if err := checkDistributions(main); err != nil {
			return nil, fmt.Errorf("param set %s: %w", ps.Name, err)
		}
		if err := SecurityCheck(main.LogN(), main.LogQP()); err != nil {
			return nil, fmt.Errorf("param set %s: %w", ps.Name, err)
		}
		// The relay's ring-switching key is an RLWE sample over q0·p0 whose
		// secret is the radio secret; the radio ring must be secure for it.
		if err := SecurityCheck(radio.LogN(), radio.LogQP()); err != nil {
			return nil, fmt.Errorf("param set %s radio ring: %w", ps.Name, err)
		}
	}
	out := &Params{set: ps, ckks: main, radio: radio}
	for c := Composite(0); c < numComposites; c++ {
		out.step[c] = stepComposite(c)
	}
	return out, nil
}

func checkDistributions(p hefloat.Parameters) error {
	xs, ok := p.Xs().(ring.Ternary)
	if !ok || math.Abs(xs.P-2.0/3.0) > 1e-9 || xs.H != 0 {
		return fmt.Errorf("secret distribution %v is not uniform ternary: %w", p.Xs(), ErrInsecureParams)
	}
	xe, ok := p.Xe().(ring.DiscreteGaussian)
	if !ok || xe.Sigma < rlwe.DefaultNoise {
		return fmt.Errorf("error distribution %v is not a discrete Gaussian with σ ≥ 3.2: %w", p.Xe(), ErrInsecureParams)
	}
	return nil
}

// Set returns the parameter set.
func (p *Params) Set() ParamSet { return p.set }

// LogQP returns log2 of the evaluation ring's QP.
func (p *Params) LogQP() float64 { return p.ckks.LogQP() }

// SecurityBits is 128 for production sets (checked in NewParams) and 0 for test-only sets.
func (p *Params) SecurityBits() int {
	if p.set.TestOnly {
		return 0
	}
	return 128
}

// MaxTelemetrySlots is the number of readings one telemetry ciphertext holds.
func (p *Params) MaxTelemetrySlots() int { return p.ckks.MaxSlots() }

func (p *Params) commandLogSlots() int { return p.set.RadioLogN - 1 }

func depthOf(x int) (n int) {
	for ; x > 0; x >>= 1 {
		n++
	}
	return n
}

// SignComposite returns fresh copies of a composite sign polynomial
// (Chebyshev basis on [-1,1], innermost first), for proofs.
func SignComposite(c Composite) []bignum.Polynomial {
	out := make([]bignum.Polynomial, len(c.coeffs()))
	for i, cs := range c.coeffs() {
		coeffs := make([]*big.Float, len(cs))
		for j, c := range cs {
			f, ok := new(big.Float).SetPrec(256).SetString(c)
			if !ok {
				panic("fhe: bad generated coefficient " + c)
			}
			coeffs[j] = f
		}
		out[i] = bignum.NewPolynomial(bignum.Chebyshev, coeffs, [2]float64{-1, 1})
	}
	return out
}

// stepComposite folds step(x) = (sign(x)+1)/2 into the last polynomial so
// that no extra level is spent on it.
func stepComposite(c Composite) []bignum.Polynomial {
	polys := SignComposite(c)
	last := polys[len(polys)-1].Clone()
	half := big.NewFloat(0.5)
	for i := range last.Coeffs {
		last.Coeffs[i][0].Mul(last.Coeffs[i][0], half)
	}
	last.Coeffs[0][0].Add(last.Coeffs[0][0], half)
	polys[len(polys)-1] = last
	return polys
}
