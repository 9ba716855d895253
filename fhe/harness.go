package fhe

import (
	"fmt"
	"math"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

// DenseReport is the result of an encrypted check over a whole quantized
// domain (used by proofs/compare; it exposes only counts and a power of two
// bounding the error, never a decrypted value).
type DenseReport struct {
	Total, Wrong int
	// MaxErrLog2 is ⌈log2 max |decrypted − exact 0/1|⌉ over all slots.
	MaxErrLog2 int
}

// DenseCompareCheck runs the command circuit (step, combine) with the
// relay's keys on every pair (D_hi, D_lo) of digit differences of q, packed
// 16 per 48-slot group over all slots, and counts wrong verdicts. Every
// (value, limit) pair of q reaches the circuit as one of these pairs.
// It needs the implant's secret key to read the verdicts.
func (k *SecretKeys) DenseCompareCheck(rk *RelayKeys, q Quantity) (DenseReport, error) {
	if err := q.Validate(); err != nil {
		return DenseReport{}, err
	}
	type pair struct{ dh, dl int64 }
	var pairs []pair
	for dh := -q.MaxHigh(); dh <= q.MaxHigh(); dh++ {
		for dl := -(q.Base() - 1); dl <= q.Base()-1; dl++ {
			pairs = append(pairs, pair{dh, dl})
		}
	}
	p := k.params
	relay := NewRelay(rk)
	pk := k.PublicKey()
	slots := p.ckks.MaxSlots()
	h := CommandMaxUnits
	perCt := slots / (3 * h) * h
	var rep DenseReport
	maxErr := 0.0
	for start := 0; start < len(pairs); start += perCt {
		batch := pairs[start:min(start+perCt, len(pairs))]
		in := make([]float64, slots)
		for j := range in { // empty slots: a clearly positive difference
			in[j] = 0.5
		}
		for j, pr := range batch {
			g, u := j/h, j%h
			base := g * 3 * h
			in[base+u] = (float64(pr.dh) + blockOffsets[0]) / CompareRadius
			in[base+h+u] = (float64(pr.dh) + blockOffsets[1]) / CompareRadius
			in[base+2*h+u] = (float64(pr.dl) + blockOffsets[2]) / CompareRadius
		}
		ct, err := pk.encrypt(in, p.ckks.LogMaxSlots(), p.ckks.MaxLevel(), RoleLimits)
		if err != nil {
			return rep, fmt.Errorf("dense check %s: %w", q.Name, err)
		}
		st, err := relay.step(ct.ct, CompareComposite)
		if err != nil {
			return rep, fmt.Errorf("dense check %s: %w", q.Name, err)
		}
		v, err := relay.combine(st)
		if err != nil {
			return rep, fmt.Errorf("dense check %s: %w", q.Name, err)
		}
		out, err := k.decryptSlots(&Ciphertext{params: p, domain: k.domain, ct: v})
		if err != nil {
			return rep, fmt.Errorf("dense check %s: %w", q.Name, err)
		}
		for j, pr := range batch {
			g, u := j/h, j%h
			want := 0.0
			if pr.dh > 0 || (pr.dh == 0 && pr.dl >= 0) {
				want = 1
			}
			got := out[g*3*h+u]
			maxErr = math.Max(maxErr, math.Abs(got-want))
			rep.Total++
			if b, err := roundBit(got); err != nil || (b != (want == 1)) {
				rep.Wrong++
			}
		}
	}
	rep.MaxErrLog2 = int(math.Ceil(math.Log2(maxErr)))
	return rep, nil
}

// DenseTelemetryCheck evaluates the alert step on every threshold-relative
// difference d ∈ [-MaxDigit, MaxDigit] (input (d − 1/2)/128, flag = [d ≥ 1]),
// each repeated over all slots, and checks every 64-slot window count.
func (k *SecretKeys) DenseTelemetryCheck(rk *RelayKeys) (DenseReport, error) {
	p := k.params
	relay := NewRelay(rk)
	slots := p.ckks.MaxSlots()
	in := make([]float64, slots)
	want := make([]float64, slots)
	for j := range in {
		d := int64(j%(2*MaxDigit+1)) - MaxDigit
		in[j] = (float64(d) - 0.5) / CompareRadius
		if d >= 1 {
			want[j] = 1
		}
	}
	ct, err := k.PublicKey().encrypt(in, p.ckks.LogMaxSlots(), p.ckks.MaxLevel(), RoleAlertInput)
	if err != nil {
		return DenseReport{}, fmt.Errorf("dense telemetry: %w", err)
	}
	st, err := relay.step(ct.ct, TelemetryComposite)
	if err != nil {
		return DenseReport{}, fmt.Errorf("dense telemetry: %w", err)
	}
	flags := &Ciphertext{params: p, domain: DomainClinic, role: RoleFlags, ct: st}
	counts, err := relay.WindowCounts(flags)
	if err != nil {
		return DenseReport{}, fmt.Errorf("dense telemetry: %w", err)
	}
	var rep DenseReport
	maxErr := 0.0
	for _, c := range []struct {
		ct   *rlwe.Ciphertext
		step int
	}{{flags.ct, 1}, {counts.ct, TelemetryWindow}} {
		out, err := k.decryptSlots(&Ciphertext{params: p, domain: k.domain, ct: c.ct})
		if err != nil {
			return rep, fmt.Errorf("dense telemetry: %w", err)
		}
		for j := 0; j+c.step <= slots; j += c.step {
			w := 0.0
			for i := j; i < j+c.step; i++ {
				w += want[i]
			}
			rep.Total++
			if c.step == 1 {
				maxErr = math.Max(maxErr, math.Abs(out[j]-w))
			}
			if r, ok := roundTo(out[j], 0.45); !ok || float64(r) != w {
				rep.Wrong++
			}
		}
	}
	rep.MaxErrLog2 = int(math.Ceil(math.Log2(maxErr)))
	return rep, nil
}
