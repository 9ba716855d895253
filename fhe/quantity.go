package fhe

import (
	"fmt"
	"math"
)

// Quantity is a compared physical quantity: integer counts of a quantum
// between Min and Max (both in quanta). The unit is in the name, per the
// project style (e.g. a bolus is counted in centi-units).
type Quantity struct {
	Name string
	// Min and Max bound the value, in quanta.
	Min, Max int64
}

// Compared quantities. Ranges:
//   - bolus and basal: AndroidAPS HardLimits, "resistant adult/pregnant"
//     maxima 60 U bolus and 25 U/h basal (AndroidAPS HardLimits, docs/sources.md); pump quantum 0.01 U;
//   - pacing rate: Boston Scientific PACEMAKER System Specification (2007),
//     Appendix A Table 7, LRL/URL 30–175 ppm, quantum 1 ppm;
//   - glucose: 20–600 mg/dL, quantum 1 mg/dL (typical CGM reporting range);
//   - heart rate: 20–250 bpm, quantum 1 bpm.
var (
	BolusCentiUnits        = Quantity{Name: "bolus_centi_units", Min: 0, Max: 6000}
	BasalCentiUnitsPerHour = Quantity{Name: "basal_centi_units_per_hour", Min: 0, Max: 2500}
	PacingRatePPM          = Quantity{Name: "pacing_rate_ppm", Min: 30, Max: 175}
	GlucoseMgPerDL         = Quantity{Name: "glucose_mg_per_dl", Min: 20, Max: 600}
	HeartRateBPM           = Quantity{Name: "heart_rate_bpm", Min: 20, Max: 250}
)

// Quantities lists every compared quantity (for proofs and tests).
func Quantities() []Quantity {
	return []Quantity{BolusCentiUnits, BasalCentiUnitsPerHour, PacingRatePPM, GlucoseMgPerDL, HeartRateBPM}
}

// CompareRadius is the normaliser of the comparison inputs: a digit
// difference d is fed to the step polynomial as (d ± 1/2)/CompareRadius, so
// every input has |x| ≥ 1/(2·CompareRadius) = 2^-8, the separation the
// sign polynomial was generated for (signPolyLogAlpha), and |x| < 1 as
// long as digits are ≤ CompareRadius-2.
const CompareRadius = 128

// MaxDigit is the largest digit the encoding may use.
const MaxDigit = CompareRadius - 2

// Span is the number of quanta between Min and Max.
func (q Quantity) Span() int64 { return q.Max - q.Min }

// Base is the digit base B = ⌈√(span+1)⌉, so both digits are ≤ B-1 ≈ √span.
func (q Quantity) Base() int64 {
	b := int64(math.Ceil(math.Sqrt(float64(q.Span() + 1))))
	for (b-1)*(b-1) >= q.Span()+1 { // guard against float rounding up
		b--
	}
	for b*b < q.Span()+1 {
		b++
	}
	return b
}

// MaxHigh is the largest high digit.
func (q Quantity) MaxHigh() int64 { return q.Span() / q.Base() }

// Validate checks that the quantity can be encoded in two digits ≤ MaxDigit.
func (q Quantity) Validate() error {
	if q.Span() < 1 {
		return fmt.Errorf("quantity %s: empty range: %w", q.Name, ErrSchema)
	}
	if q.Base()-1 > MaxDigit || q.MaxHigh() > MaxDigit {
		return fmt.Errorf("quantity %s: span %d needs digits above %d: %w", q.Name, q.Span(), MaxDigit, ErrSchema)
	}
	return nil
}

// digits splits a value into (high, low) base-B digits of v-Min.
func (q Quantity) digits(v int64) (hi, lo int64, err error) {
	if v < q.Min || v > q.Max {
		return 0, 0, fmt.Errorf("%s=%d not in [%d,%d]: %w", q.Name, v, q.Min, q.Max, ErrOutOfRange)
	}
	i := v - q.Min
	return i / q.Base(), i % q.Base(), nil
}

// fromDigits is the inverse of digits.
func (q Quantity) fromDigits(hi, lo int64) (int64, error) {
	if hi < 0 || lo < 0 || lo >= q.Base() || hi > q.MaxHigh() {
		return 0, fmt.Errorf("%s digits (%d,%d): %w", q.Name, hi, lo, ErrDecryptRange)
	}
	v := q.Min + hi*q.Base() + lo
	if v > q.Max {
		return 0, fmt.Errorf("%s=%d above max %d: %w", q.Name, v, q.Max, ErrDecryptRange)
	}
	return v, nil
}
