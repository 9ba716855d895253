package main

import (
	"fmt"
	"math"
	"math/big"
	"os"
	"time"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/tuneinsight/lattigo/v5/utils/bignum"
)

// Stated CKKS noise bounds, as absolute errors on slot values (scale 2^30).
// Fresh public-key encryption at N=2^14 has coefficient noise of a few
// hundred, i.e. a slot error ≲ 2^-17 at scale 2^30, measured below 2^-20
// by Lattigo's own precision statistics for these moduli; we state 2^-16
// per stage (relinearisation with a 50-bit special prime and rescaling by
// 30-bit primes each add ≲ 2^-20). The encrypted check confirms the end
// result stays within the bound that these values imply.
var (
	deltaIn    = math.Exp2(-16)
	deltaStage = math.Exp2(-16)
	deltaComb  = math.Exp2(-16) // combination product, mask, ring switch
)

// roundTol is the tolerance of fhe's rounding of verdicts and flags (0.45):
// the proven error must stay below it.
const roundTol = 0.45

type interval struct{ mid, rad float64 }

func main() {
	start := time.Now()
	failed := false
	for _, ps := range fhe.ProductionSets() {
		if err := run(ps, &failed); err != nil {
			fmt.Printf("proofs/compare: set=%s error: %v\n", ps.Name, err)
			failed = true
		}
	}
	fmt.Printf("proofs/compare: total %.1fs\n", time.Since(start).Seconds())
	if failed {
		fmt.Println("proofs/compare: FAIL")
		os.Exit(1)
	}
	fmt.Println("proofs/compare: OK")
}

func run(ps fhe.ParamSet, failed *bool) error {
	p, err := fhe.NewParams(ps)
	if err != nil {
		return err
	}
	cmp := fhe.SignComposite(fhe.CompareComposite)
	tel := fhe.SignComposite(fhe.TelemetryComposite)

	// Bound checks.
	boundErr := map[string]float64{}
	for _, q := range fhe.Quantities() {
		margin, maxDev, err := boundCompare(cmp, q)
		if err != nil {
			return err
		}
		boundErr[q.Name] = maxDev
		ok := margin > 0
		*failed = *failed || !ok
		fmt.Printf("bound set=%s quantity=%s check=compare points=%d min_margin=%.4f max_error_bound=%.4f ok=%v\n",
			ps.Name, q.Name, (2*q.MaxHigh()+1)*(2*q.Base()-1), margin, maxDev, ok)
	}
	flagDev := boundTelemetry(tel)
	countDev := float64(fhe.TelemetryWindow)*flagDev + deltaComb
	ok := countDev < roundTol
	*failed = *failed || !ok
	fmt.Printf("bound set=%s quantity=alert_flags check=telemetry points=%d flag_error_bound=%.5f count_error_bound=%.4f ok=%v\n",
		ps.Name, 2*fhe.MaxDigit+1, flagDev, countDev, ok)

	// Encrypted checks at the production parameters.
	t0 := time.Now()
	ik, err := fhe.GenerateKeys(p, fhe.DomainImplant)
	if err != nil {
		return err
	}
	irk, err := ik.RelayKeys()
	if err != nil {
		return err
	}
	ck, err := fhe.GenerateKeys(p, fhe.DomainClinic)
	if err != nil {
		return err
	}
	crk, err := ck.RelayKeys()
	if err != nil {
		return err
	}
	fmt.Printf("encrypted set=%s keygen_s=%.1f\n", ps.Name, time.Since(t0).Seconds())
	for _, q := range fhe.Quantities() {
		t1 := time.Now()
		rep, err := ik.DenseCompareCheck(irk, q)
		if err != nil {
			return err
		}
		// The observed error must stay below the proven bound (rounded up to a power of two).
		within := math.Exp2(float64(rep.MaxErrLog2-1)) <= boundErr[q.Name]
		ok := rep.Wrong == 0 && within
		*failed = *failed || !ok
		fmt.Printf("encrypted set=%s quantity=%s pairs=%d wrong=%d max_error<=2^%d within_bound=%v seconds=%.1f ok=%v\n",
			ps.Name, q.Name, rep.Total, rep.Wrong, rep.MaxErrLog2, within, time.Since(t1).Seconds(), ok)
	}
	t1 := time.Now()
	rep, err := ck.DenseTelemetryCheck(crk)
	if err != nil {
		return err
	}
	within := math.Exp2(float64(rep.MaxErrLog2-1)) <= flagDev
	ok = rep.Wrong == 0 && within
	*failed = *failed || !ok
	fmt.Printf("encrypted set=%s quantity=alert_flags+window_counts slots=%d wrong=%d max_flag_error<=2^%d within_bound=%v seconds=%.1f ok=%v\n",
		ps.Name, rep.Total, rep.Wrong, rep.MaxErrLog2, within, time.Since(t1).Seconds(), ok)
	return nil
}

const prec = 256

// monomial converts a Chebyshev series on [-1,1] to monomial coefficients,
// exactly enough in 256-bit arithmetic (T_{k+1} = 2x·T_k − T_{k−1}).
func monomial(p bignum.Polynomial) []*big.Float {
	n := len(p.Coeffs)
	zero := func() []*big.Float {
		v := make([]*big.Float, n)
		for i := range v {
			v[i] = new(big.Float).SetPrec(prec)
		}
		return v
	}
	out := zero()
	tPrev, t := zero(), zero()
	tPrev[0].SetInt64(1)
	if n > 1 {
		t[1].SetInt64(1)
	}
	for k := 0; k < n; k++ {
		var tk []*big.Float
		switch k {
		case 0:
			tk = tPrev
		case 1:
			tk = t
		default:
			next := zero()
			for i := 0; i < n; i++ {
				if i > 0 {
					next[i].Add(next[i], new(big.Float).SetPrec(prec).Mul(big.NewFloat(2), t[i-1]))
				}
				next[i].Sub(next[i], tPrev[i])
			}
			tPrev, t, tk = t, next, next
		}
		c := p.Coeffs[k][0]
		for i := 0; i < n; i++ {
			out[i].Add(out[i], new(big.Float).SetPrec(prec).Mul(c, tk[i]))
		}
	}
	return out
}

// taylorBound returns Σ_{j≥1} |p^(j)(x)/j!|·r^j, which bounds |p(z) − p(x)|
// for every complex z with |z − x| ≤ r (exact Taylor expansion of a polynomial).
func taylorBound(a []*big.Float, x *big.Float, r float64) float64 {
	n := len(a)
	sum := 0.0
	for j := 1; j < n; j++ {
		// b_j = Σ_{k≥j} a_k·C(k,j)·x^(k−j)
		b := new(big.Float).SetPrec(prec)
		xp := new(big.Float).SetPrec(prec).SetInt64(1)
		binom := new(big.Float).SetPrec(prec).SetInt64(1) // C(j,j)
		for k := j; k < n; k++ {
			term := new(big.Float).SetPrec(prec).Mul(a[k], binom)
			term.Mul(term, xp)
			b.Add(b, term)
			xp.Mul(xp, x)
			// C(k+1,j) = C(k,j)·(k+1)/(k+1−j)
			binom.Mul(binom, big.NewFloat(float64(k+1)))
			binom.Quo(binom, big.NewFloat(float64(k+1-j)))
		}
		bf, _ := b.Float64()
		sum += math.Abs(bf) * math.Pow(r, float64(j))
	}
	return sum * (1 + 1e-12)
}

var monoCache = map[*bignum.Polynomial][]*big.Float{}

// signAt evaluates the composite exactly and propagates the noise radius.
func signAt(polys []bignum.Polynomial, x float64) (interval, error) {
	v := new(big.Float).SetPrec(prec).SetFloat64(x)
	r := deltaIn
	for i := range polys {
		p := &polys[i]
		a, ok := monoCache[p]
		if !ok {
			a = monomial(*p)
			monoCache[p] = a
		}
		r = taylorBound(a, v, r) + deltaStage
		v = p.Evaluate(v)[0]
	}
	y, _ := v.Float64()
	return interval{y, r}, nil
}

// stepAt is the step (sign+1)/2 at the digit difference d with offset off.
func stepAt(polys []bignum.Polynomial, d, off float64) (interval, error) {
	s, err := signAt(polys, (d+off)/fhe.CompareRadius)
	return interval{(s.mid + 1) / 2, s.rad / 2}, err
}

// boundCompare returns the smallest margin (distance of the verdict's
// interval from the rounding limit) and the largest error bound over every
// digit-difference pair of q.
func boundCompare(polys []bignum.Polynomial, q fhe.Quantity) (margin, maxDev float64, err error) {
	H, B := q.MaxHigh(), q.Base()
	s0 := map[int64]interval{}
	s1 := map[int64]interval{}
	s2 := map[int64]interval{}
	for d := -H; d <= H; d++ {
		if s0[d], err = stepAt(polys, float64(d), -0.5); err != nil {
			return 0, 0, err
		}
		if s1[d], err = stepAt(polys, float64(d), 0.5); err != nil {
			return 0, 0, err
		}
	}
	for d := -(B - 1); d <= B-1; d++ {
		if s2[d], err = stepAt(polys, float64(d), 0.5); err != nil {
			return 0, 0, err
		}
	}
	margin = math.Inf(1)
	for dh := -H; dh <= H; dh++ {
		for dl := -(B - 1); dl <= B-1; dl++ {
			want := 0.0
			if dh > 0 || (dh == 0 && dl >= 0) {
				want = 1
			}
			// v = a + (b − a)·c is multilinear: its extremes over the box are at corners.
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, a := range []float64{s0[dh].mid - s0[dh].rad, s0[dh].mid + s0[dh].rad} {
				for _, b := range []float64{s1[dh].mid - s1[dh].rad, s1[dh].mid + s1[dh].rad} {
					for _, c := range []float64{s2[dl].mid - s2[dl].rad, s2[dl].mid + s2[dl].rad} {
						v := a + (b-a)*c
						lo, hi = math.Min(lo, v), math.Max(hi, v)
					}
				}
			}
			lo, hi = lo-deltaComb, hi+deltaComb
			dev := math.Max(math.Abs(lo-want), math.Abs(hi-want))
			maxDev = math.Max(maxDev, dev)
			margin = math.Min(margin, roundTol-dev)
		}
	}
	return margin, maxDev, nil
}

// boundTelemetry returns the largest error bound of a flag over every
// threshold-relative difference.
func boundTelemetry(polys []bignum.Polynomial) float64 {
	worst := 0.0
	for d := -fhe.MaxDigit; d <= fhe.MaxDigit; d++ {
		s, err := stepAt(polys, float64(d), -0.5)
		if err != nil {
			return math.Inf(1)
		}
		want := 0.0
		if d >= 1 {
			want = 1
		}
		worst = math.Max(worst, math.Abs(s.mid-want)+s.rad)
	}
	return worst
}
