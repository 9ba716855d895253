package clinical

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/implantfhe/implantfhe/kernel/units"
)

// Bounds of what a clinician can type. They are sanity bounds on the typing,
// not therapy limits: the kernel's programmed and hard limits still decide
// what is delivered. Each bound sits above every value a command can
// legitimately carry, so that it never refuses a real value, and far below
// any integer overflow, so that arithmetic on a parsed value is safe.
const (
	// MaxCentiUnits: 1000.00 U. The largest amount of insulin a command
	// carries is a daily-limit ceiling, at most 24 × 25 U/h + 3 × 60 U = 780 U
	// (pregnant profile, kernel/pump/limits.go); 1000 U is a whole U-100 10 mL
	// vial. Fits units.CentiUnits (int32).
	MaxCentiUnits int64 = 100_000

	// MaxCentiUnitsPerHour: 100.00 U/h, four times the highest hard basal
	// limit (25 U/h, pregnant profile, kernel/pump/limits.go). A rate above
	// it is a slip such as 150 for 1.50, not a therapy. Fits
	// units.CentiUnitsPerHour (int32).
	MaxCentiUnitsPerHour int64 = 10_000

	// MinPPM, MaxPPM: 1–300 ppm. PACEMAKER spec Table 7 programs LRL 30–175
	// and URL 50–175 ppm; 300 leaves room for any rate a sensor reports
	// without admitting a slip such as 6000 for 60.
	MinPPM int64 = 1
	MaxPPM int64 = 300

	// MinMillis, MaxMillis: 1 ms – 24 h. Every duration a command carries is
	// positive and at most a day (the longest is a temporary basal,
	// MaxTempBasalMs = 24 h, kernel/pump/types.go).
	MinMillis int64 = 1
	MaxMillis int64 = int64(units.Day)

	// MinMgDL, MaxMgDL: 1–1000 mg/dL. Glucose meters read up to 500–600
	// mg/dL; no physiological value exceeds 1000.
	MinMgDL int64 = 1
	MaxMgDL int64 = 1000
)

// Sentinels wrapped by every *ParseError; test with errors.Is.
var (
	// ErrSyntax: not the plain decimal grammar (empty, a sign, a base prefix,
	// a leading zero, an exponent, separators, spaces, non-ASCII digits...).
	ErrSyntax = errors.New("invalid syntax")
	// ErrPrecision: more decimals than the quantity's quantum (0.01 U, or a
	// whole number).
	ErrPrecision = errors.New("too many decimals")
	// ErrRange: well formed and exact, but outside the quantity's bounds.
	ErrRange = errors.New("out of range")
	// ErrRepeated: a flag.Value from this package was set twice.
	ErrRepeated = errors.New("given more than once")
	// ErrTrailing: arguments left over after flag parsing (NoTrailing).
	ErrTrailing = errors.New("unexpected arguments")
)

// ParseError is a refused value: which quantity, what was typed, in which
// unit, the sentinel (ErrSyntax, ErrPrecision or ErrRange) and why.
type ParseError struct {
	Quantity string // "insulin amount"
	Input    string // as typed
	Unit     string // "U"
	Err      error  // ErrSyntax, ErrPrecision or ErrRange
	Detail   string // what was wrong, and what to type instead
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s %s (in %s): %v: %s", e.Quantity, quoteInput(e.Input), e.Unit, e.Err, e.Detail)
}

func (e *ParseError) Unwrap() error { return e.Err }

// maxQuotedInput bounds how much of an input an error message repeats.
const maxQuotedInput = 40

func quoteInput(s string) string {
	if len(s) > maxQuotedInput {
		cut := maxQuotedInput
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.QuoteToASCII(s[:cut]) + "…"
	}
	return strconv.QuoteToASCII(s)
}

// quantity describes one kind of clinical value.
type quantity struct {
	name     string // for messages: "insulin amount"
	unit     string // "U"
	decimals int    // 2: quantum 0.01 unit; 0: whole units
	min, max int64  // in the quantum
	example  string // a valid input, for messages
}

var (
	qDose    = quantity{name: "insulin amount", unit: "U", decimals: 2, min: 0, max: MaxCentiUnits, example: "2.50"}
	qBasal   = quantity{name: "basal rate", unit: "U/h", decimals: 2, min: 0, max: MaxCentiUnitsPerHour, example: "1.50"}
	qPPM     = quantity{name: "rate", unit: "ppm", decimals: 0, min: MinPPM, max: MaxPPM, example: "60"}
	qMillis  = quantity{name: "duration", unit: "ms", decimals: 0, min: MinMillis, max: MaxMillis, example: "250"}
	qGlucose = quantity{name: "glucose", unit: "mg/dL", decimals: 0, min: MinMgDL, max: MaxMgDL, example: "120"}
	pow10    = [...]int64{1, 10, 100}
)

// maxDigits: integer digits past which a value is out of range for every
// quantity; 15 digits times 100 stay far below math.MaxInt64, so the
// accumulation in parse cannot overflow.
const maxDigits = 15

// ParseCentiUnits parses an insulin amount typed in U, with at most two
// decimals ("2.50", "2.5", "2", "0.05"), into 0.01 U. The grammar is
// (0|[1-9][0-9]*)(\.[0-9]{1,2})?: no sign, base prefix, leading zero,
// exponent, separator, space or non-ASCII digit; ".5" and "2." are refused
// (write "0.5" and "2"). Range 0..MaxCentiUnits.
func ParseCentiUnits(s string) (int64, error) { return qDose.parse(s) }

// ParseCentiUnitsPerHour parses a basal rate typed in U/h, with the rules of
// ParseCentiUnits, into 0.01 U/h. Range 0..MaxCentiUnitsPerHour.
func ParseCentiUnitsPerHour(s string) (int64, error) { return qBasal.parse(s) }

// ParsePPM parses a rate in pulses per minute, a whole number ("60"; "60.0"
// is refused), MinPPM..MaxPPM.
func ParsePPM(s string) (int64, error) { return qPPM.parse(s) }

// ParseMillis parses a duration in whole milliseconds, MinMillis..MaxMillis.
func ParseMillis(s string) (int64, error) { return qMillis.parse(s) }

// ParseMgDL parses a glucose concentration in whole mg/dL, MinMgDL..MaxMgDL.
func ParseMgDL(s string) (int64, error) { return qGlucose.parse(s) }

// FormatCentiUnits formats 0.01 U as "2.50 U".
func FormatCentiUnits(v int64) string { return qDose.plain(v) + " U" }

// FormatCentiUnitsPerHour formats 0.01 U/h as "1.50 U/h".
func FormatCentiUnitsPerHour(v int64) string { return qBasal.plain(v) + " U/h" }

// FormatPPM formats a rate as "60 ppm".
func FormatPPM(v int64) string { return qPPM.plain(v) + " ppm" }

// FormatMillis formats a duration as "250 ms".
func FormatMillis(v int64) string { return qMillis.plain(v) + " ms" }

// FormatMgDL formats a glucose concentration as "120 mg/dL".
func FormatMgDL(v int64) string { return qGlucose.plain(v) + " mg/dL" }

// plain formats v in the quantity's grammar, without the unit: the canonical
// string its parser maps back to v (for v in range).
func (q *quantity) plain(v int64) string {
	neg := v < 0
	m := uint64(v)
	if neg {
		m = -m // two's complement: correct for math.MinInt64 too
	}
	var s string
	if q.decimals == 0 {
		s = strconv.FormatUint(m, 10)
	} else {
		p := uint64(pow10[q.decimals])
		s = fmt.Sprintf("%d.%0*d", m/p, q.decimals, m%p)
	}
	if neg {
		s = "-" + s
	}
	return s
}

func (q *quantity) fail(s string, err error, format string, args ...any) error {
	return &ParseError{Quantity: q.name, Input: s, Unit: q.unit, Err: err, Detail: fmt.Sprintf(format, args...)}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// parse accepts (0|[1-9][0-9]*)(\.[0-9]+)? with at most q.decimals digits
// after the point, in q.min..q.max. Checks run syntax, then precision, then
// range, so that an error names the first thing wrong.
func (q *quantity) parse(s string) (int64, error) {
	ip, fp, hasPoint := strings.Cut(s, ".")
	if ip == "" || !allDigits(ip) || (hasPoint && (fp == "" || !allDigits(fp))) {
		return 0, q.fail(s, ErrSyntax, "%s", q.syntaxDetail(s))
	}
	if len(ip) > 1 && ip[0] == '0' {
		return 0, q.fail(s, ErrSyntax, "leading zeros are ambiguous (elsewhere 0250 is octal for 168); type the number without them")
	}
	if len(fp) > q.decimals {
		if q.decimals == 0 {
			return 0, q.fail(s, ErrPrecision, "%s is a whole number; type e.g. %s", q.unit, q.example)
		}
		return 0, q.fail(s, ErrPrecision, "at most %d decimals (0.%0*d %s) are accepted, and none is rounded", q.decimals, q.decimals, 1, q.unit)
	}
	if len(ip) > maxDigits {
		return 0, q.rangeErr(s)
	}
	var v int64
	for i := 0; i < len(ip); i++ {
		v = v*10 + int64(ip[i]-'0')
	}
	v *= pow10[q.decimals]
	frac := int64(0)
	for i := 0; i < len(fp); i++ {
		frac = frac*10 + int64(fp[i]-'0')
	}
	v += frac * pow10[q.decimals-len(fp)]
	if v < q.min || v > q.max {
		return 0, q.rangeErr(s)
	}
	return v, nil
}

func (q *quantity) rangeErr(s string) error {
	return q.fail(s, ErrRange, "accepted range is %s to %s %s", q.plain(q.min), q.plain(q.max), q.unit)
}

// syntaxDetail says why s is not in the grammar, for the error message.
func (q *quantity) syntaxDetail(s string) string {
	hint := "; type a plain decimal number such as " + q.example
	if q.decimals == 0 {
		hint = "; type a whole number such as " + q.example
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	low := strings.ToLower(s)
	switch {
	case s == "":
		return "empty" + hint
	case unicode.IsSpace(first) || unicode.IsSpace(last):
		return "surrounding spaces are not accepted" + hint
	case first == '+' || first == '-' || first == '−':
		return "a sign is not accepted" + hint
	case strings.HasPrefix(low, "0x") || strings.HasPrefix(low, "0b") || strings.HasPrefix(low, "0o"):
		return "base prefixes (0x, 0b, 0o) are not accepted" + hint
	case !isASCII(s):
		return "only the ASCII digits 0-9 and '.' are accepted" + hint
	case strings.Contains(s, "_"):
		return "digit separators ('_') are not accepted" + hint
	case strings.Contains(s, ","):
		return "',' is not accepted (the decimal point is '.', and there are no thousands separators)" + hint
	case strings.Contains(s, " "):
		return "spaces are not accepted" + hint
	case strings.ContainsAny(s, "eE") && isDigit(s[0]):
		return "exponents are not accepted" + hint
	case strings.HasPrefix(s, ".") && len(s) > 1 && allDigits(s[1:]):
		return "a digit is required before the point (0" + s + ")"
	case strings.HasSuffix(s, ".") && len(s) > 1 && allDigits(s[:len(s)-1]):
		return "digits are required after the point (or no point: " + s[:len(s)-1] + ")"
	case strings.Count(s, ".") > 1:
		return "more than one '.'" + hint
	}
	return "not a decimal number" + hint
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Value is a flag.Value for one clinical quantity, made by Dose, BasalRate,
// PulseRate, Interval or Glucose. Set parses with the quantity's parser and
// refuses a second Set (a flag given twice is a slip, not an override).
// String is the canonical value without its unit, which Set accepts back.
// The flag package reports a Set error with %v, so the error FlagSet.Parse
// returns carries the message but not the sentinel.
type Value struct {
	p   *int64
	q   *quantity
	set bool
}

// Dose is a flag.Value for an insulin amount typed in U, stored in 0.01 U:
// fs.Var(clinical.Dose(&v), "amount", "bolus in U, e.g. 2.50").
func Dose(p *int64) *Value { return &Value{p: p, q: &qDose} }

// BasalRate is a flag.Value for a basal rate typed in U/h, stored in 0.01 U/h.
func BasalRate(p *int64) *Value { return &Value{p: p, q: &qBasal} }

// PulseRate is a flag.Value for a rate in whole ppm.
func PulseRate(p *int64) *Value { return &Value{p: p, q: &qPPM} }

// Interval is a flag.Value for a duration in whole ms.
func Interval(p *int64) *Value { return &Value{p: p, q: &qMillis} }

// Glucose is a flag.Value for a glucose concentration in whole mg/dL.
func Glucose(p *int64) *Value { return &Value{p: p, q: &qGlucose} }

// String returns the current value without its unit ("2.50"), or "" for a
// zero Value (the flag package makes one to print defaults).
func (v *Value) String() string {
	if v == nil || v.p == nil || v.q == nil {
		return ""
	}
	return v.q.plain(*v.p)
}

// Set parses s; on error the stored value is unchanged.
func (v *Value) Set(s string) error {
	if v.p == nil || v.q == nil {
		return errors.New("clinical: Set on a zero Value (make it with Dose, BasalRate, PulseRate, Interval or Glucose)")
	}
	if v.set {
		return fmt.Errorf("%w: already %s %s", ErrRepeated, v.q.plain(*v.p), v.q.unit)
	}
	n, err := v.q.parse(s)
	if err != nil {
		return err
	}
	*v.p, v.set = n, true
	return nil
}

// IsSet reports whether Set succeeded, so that a caller can tell a typed 0
// from an absent flag.
func (v *Value) IsSet() bool { return v != nil && v.set }

// NoTrailing returns an error naming the arguments fs did not consume, or nil
// if there are none. The flag package stops at the first non-flag argument,
// so "-amount 1 0" leaves "0", and "-amount 1 0 -counter 5" leaves
// "0 -counter 5": every flag after the stray value was ignored too.
func NoTrailing(fs *flag.FlagSet) error {
	if fs.NArg() == 0 {
		return nil
	}
	q := make([]string, fs.NArg())
	for i, a := range fs.Args() {
		q[i] = quoteInput(a)
	}
	return fmt.Errorf("%s: %w after the flags: %s (each value goes with its flag, e.g. -amount 2.50; nothing from the first stray argument on was read)",
		fs.Name(), ErrTrailing, strings.Join(q, " "))
}
