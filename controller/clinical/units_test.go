package clinical

import (
	"errors"
	"flag"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/units"
)

type parseCase struct {
	in   string
	want int64
	err  error // nil: accepted with want
}

// insulinCases hold for ParseCentiUnits and ParseCentiUnitsPerHour alike
// (values below both bounds).
var insulinCases = []parseCase{
	{"2.50", 250, nil},
	{"2.5", 250, nil},
	{"2", 200, nil},
	{"0.05", 5, nil},
	{"0.50", 50, nil},
	{"0", 0, nil},
	{"0.0", 0, nil},
	{"0.00", 0, nil},
	{"10", 1000, nil},
	{"99.99", 9999, nil},
	{"0.01", 1, nil},
	// Decided: a point needs a digit on both sides.
	{".5", 0, ErrSyntax},
	{"2.", 0, ErrSyntax},
	{".", 0, ErrSyntax},
	{"2.505", 0, ErrPrecision},
	{"2.500", 0, ErrPrecision}, // exact, but the quantum is 0.01 U: at most two decimals
	{"0.001", 0, ErrPrecision},
	// The bugs this package replaces: flag.Int64 read 0250 as octal 168 and 0x10 as 16.
	{"0250", 0, ErrSyntax},
	{"00", 0, ErrSyntax},
	{"00.5", 0, ErrSyntax},
	{"01.50", 0, ErrSyntax},
	{"0x10", 0, ErrSyntax},
	{"0X10", 0, ErrSyntax},
	{"0b1", 0, ErrSyntax},
	{"0o7", 0, ErrSyntax},
	{"1e2", 0, ErrSyntax},
	{"1E2", 0, ErrSyntax},
	{"2.5e1", 0, ErrSyntax},
	{"+1", 0, ErrSyntax},
	{"-1", 0, ErrSyntax},
	{"-0", 0, ErrSyntax},
	{"−1", 0, ErrSyntax}, // U+2212 MINUS SIGN
	{" 1", 0, ErrSyntax},
	{"1 ", 0, ErrSyntax},
	{"\t1", 0, ErrSyntax},
	{"1\n", 0, ErrSyntax},
	{"1 0", 0, ErrSyntax},
	{"", 0, ErrSyntax},
	{"1,5", 0, ErrSyntax},
	{"1,000", 0, ErrSyntax},
	{"٣", 0, ErrSyntax},   // ARABIC-INDIC DIGIT THREE
	{"１", 0, ErrSyntax},   // FULLWIDTH DIGIT ONE
	{"2.٥", 0, ErrSyntax}, // non-ASCII after the point
	{"Inf", 0, ErrSyntax},
	{"+Inf", 0, ErrSyntax},
	{"infinity", 0, ErrSyntax},
	{"NaN", 0, ErrSyntax},
	{"1_000", 0, ErrSyntax},
	{"1.2.3", 0, ErrSyntax},
	{"2.50U", 0, ErrSyntax},
	{"2.50 U", 0, ErrSyntax},
	{"U", 0, ErrSyntax},
	{"\x00", 0, ErrSyntax},
	{"\xff", 0, ErrSyntax},
	{"99999999999999999999999999", 0, ErrRange},
	{"9223372036854775807", 0, ErrRange},
	{"92233720368547758.07", 0, ErrRange},
}

func TestParseCentiUnits(t *testing.T) {
	cases := append([]parseCase{
		{"1000", 100_000, nil},
		{"1000.00", 100_000, nil},
		{"999.99", 99_999, nil},
		{"1000.01", 0, ErrRange},
		{"1001", 0, ErrRange},
	}, insulinCases...)
	runParseCases(t, "U", ParseCentiUnits, cases)
}

func TestParseCentiUnitsPerHour(t *testing.T) {
	cases := append([]parseCase{
		{"1.50", 150, nil},
		{"100", 10_000, nil},
		{"100.00", 10_000, nil},
		{"100.01", 0, ErrRange},
		{"150", 0, ErrRange}, // the slip the bound exists for: 150 meant as 1.50
	}, insulinCases...)
	runParseCases(t, "U/h", ParseCentiUnitsPerHour, cases)
}

// wholeCases hold for every whole-number quantity: the insulin syntax cases,
// plus decimals refused as too precise.
func wholeCases(extra ...parseCase) []parseCase {
	cases := append([]parseCase{
		{"60.0", 0, ErrPrecision},
		{"60.5", 0, ErrPrecision},
		{"1.00", 0, ErrPrecision},
		{"60.", 0, ErrSyntax},
		{".5", 0, ErrSyntax},
	}, extra...)
	for _, c := range insulinCases {
		if c.err == ErrSyntax {
			cases = append(cases, c)
		}
	}
	return cases
}

func TestParsePPM(t *testing.T) {
	runParseCases(t, "ppm", ParsePPM, wholeCases(
		parseCase{"60", 60, nil},
		parseCase{"1", 1, nil},
		parseCase{"175", 175, nil},
		parseCase{"300", 300, nil},
		parseCase{"0", 0, ErrRange},
		parseCase{"301", 0, ErrRange},
		parseCase{"6000", 0, ErrRange},
		parseCase{"060", 0, ErrSyntax},
		parseCase{"0x3c", 0, ErrSyntax},
		parseCase{"6e1", 0, ErrSyntax},
	))
}

func TestParseMillis(t *testing.T) {
	runParseCases(t, "ms", ParseMillis, wholeCases(
		parseCase{"250", 250, nil},
		parseCase{"1", 1, nil},
		parseCase{"86400000", 86_400_000, nil},
		parseCase{"0", 0, ErrRange},
		parseCase{"86400001", 0, ErrRange},
		parseCase{"0250", 0, ErrSyntax},
	))
}

func TestParseMgDL(t *testing.T) {
	runParseCases(t, "mg/dL", ParseMgDL, wholeCases(
		parseCase{"120", 120, nil},
		parseCase{"1", 1, nil},
		parseCase{"1000", 1000, nil},
		parseCase{"0", 0, ErrRange},
		parseCase{"1001", 0, ErrRange},
		parseCase{"070", 0, ErrSyntax},
	))
}

func runParseCases(t *testing.T, unit string, parse func(string) (int64, error), cases []parseCase) {
	t.Helper()
	for _, c := range cases {
		got, err := parse(c.in)
		if c.err == nil {
			if assert.NoError(t, err, "input %q", c.in) {
				assert.Equal(t, c.want, got, "input %q", c.in)
			}
			continue
		}
		if !assert.ErrorIs(t, err, c.err, "input %q: want %v, got value %d", c.in, c.err, got) {
			continue
		}
		assert.Zero(t, got, "input %q: a refused input returns 0", c.in)
		var pe *ParseError
		if assert.ErrorAs(t, err, &pe, "input %q", c.in) {
			assert.Equal(t, c.in, pe.Input)
			assert.Equal(t, unit, pe.Unit)
		}
		msg := err.Error()
		assert.Contains(t, msg, quoteInput(c.in), "message names the input")
		assert.Contains(t, msg, "(in "+unit+")", "message names the unit")
	}
}

func TestParseErrorSaysWhy(t *testing.T) {
	for in, want := range map[string]string{
		"":      "empty",
		" 1":    "spaces",
		"-1":    "sign",
		"0x10":  "base prefix",
		"0250":  "leading zeros are ambiguous",
		"1e2":   "exponent",
		"1_000": "separator",
		"1,5":   "decimal point is '.'",
		"٣":     "ASCII digits",
		".5":    "before the point (0.5)",
		"2.":    "after the point",
		"2.505": "at most 2 decimals (0.01 U)",
		"1001":  "0.00 to 1000.00 U",
		"NaN":   "not a decimal number",
	} {
		_, err := ParseCentiUnits(in)
		if assert.Error(t, err, "input %q", in) {
			assert.Contains(t, err.Error(), want, "input %q", in)
		}
	}
	_, err := ParsePPM("60.0")
	assert.ErrorContains(t, err, "ppm is a whole number")
	_, err = ParseCentiUnits(strings.Repeat("9", 1000))
	assert.ErrorIs(t, err, ErrRange)
	assert.Less(t, len(err.Error()), 300, "a long input is cut in the message")
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{FormatCentiUnits(250), "2.50 U"},
		{FormatCentiUnits(5), "0.05 U"},
		{FormatCentiUnits(0), "0.00 U"},
		{FormatCentiUnits(100_000), "1000.00 U"},
		{FormatCentiUnits(-250), "-2.50 U"},
		{FormatCentiUnits(math.MinInt64), "-92233720368547758.08 U"},
		{FormatCentiUnits(math.MaxInt64), "92233720368547758.07 U"},
		{FormatCentiUnitsPerHour(150), "1.50 U/h"},
		{FormatPPM(60), "60 ppm"},
		{FormatMillis(250), "250 ms"},
		{FormatMgDL(120), "120 mg/dL"},
		{FormatPPM(math.MinInt64), "-9223372036854775808 ppm"},
	} {
		assert.Equal(t, c.want, c.got)
	}
}

// TestFormatParseRoundTrip: for every value in range, the formatted number
// (without its unit) parses back to the value, for every quantity. The
// generator is checked to reach both bounds.
func TestFormatParseRoundTrip(t *testing.T) {
	for _, k := range []struct {
		q      *quantity
		format func(int64) string
		parse  func(string) (int64, error)
	}{
		{&qDose, FormatCentiUnits, ParseCentiUnits},
		{&qBasal, FormatCentiUnitsPerHour, ParseCentiUnitsPerHour},
		{&qPPM, FormatPPM, ParsePPM},
		{&qMillis, FormatMillis, ParseMillis},
		{&qGlucose, FormatMgDL, ParseMgDL},
	} {
		t.Run(k.q.unit, func(t *testing.T) {
			var sawMin, sawMax bool
			rapid.Check(t, func(t *rapid.T) {
				v := rapid.OneOf(
					rapid.Int64Range(k.q.min, k.q.max),
					rapid.SampledFrom([]int64{k.q.min, k.q.min + 1, k.q.max - 1, k.q.max}),
				).Draw(t, "v")
				sawMin = sawMin || v == k.q.min
				sawMax = sawMax || v == k.q.max
				s, ok := strings.CutSuffix(k.format(v), " "+k.q.unit)
				if !ok {
					t.Fatalf("format(%d) = %q: no unit %q", v, k.format(v), k.q.unit)
				}
				got, err := k.parse(s)
				if err != nil || got != v {
					t.Fatalf("parse(format(%d) = %q) = %d, %v; want %d", v, s, got, err, v)
				}
			})
			assert.True(t, sawMin && sawMax, "generator reached min %v, max %v", sawMin, sawMax)
		})
	}
}

// TestOutOfRangeNeverParses: formatted values outside a quantity's bounds,
// down to the int64 extremes, are refused (as ErrRange or, negative, as a
// sign).
func TestOutOfRangeNeverParses(t *testing.T) {
	for _, k := range []struct {
		q     *quantity
		parse func(string) (int64, error)
	}{
		{&qDose, ParseCentiUnits}, {&qBasal, ParseCentiUnitsPerHour},
		{&qPPM, ParsePPM}, {&qMillis, ParseMillis}, {&qGlucose, ParseMgDL},
	} {
		rapid.Check(t, func(t *rapid.T) {
			v := rapid.OneOf(
				rapid.Int64Range(k.q.max+1, math.MaxInt64),
				rapid.Int64Range(math.MinInt64, k.q.min-1),
				rapid.SampledFrom([]int64{math.MinInt64, math.MaxInt64, k.q.min - 1, k.q.max + 1}),
			).Draw(t, "v")
			got, err := k.parse(k.q.plain(v))
			if err == nil {
				t.Fatalf("%s %q accepted as %d", k.q.unit, k.q.plain(v), got)
			}
			if v > k.q.max && !errors.Is(err, ErrRange) {
				t.Fatalf("%s %q: %v, want ErrRange", k.q.unit, k.q.plain(v), err)
			}
		})
	}
}

// TestBoundsAdmitEveryHardLimit: the parsing bounds never refuse a limit the
// kernel could accept.
func TestBoundsAdmitEveryHardLimit(t *testing.T) {
	for p := pump.Profile(0); ; p++ {
		h, ok := pump.Hard(p)
		if !ok {
			require.Greater(t, int(p), 0, "no profiles")
			break
		}
		for _, v := range []units.CentiUnits{h.MaxBolus, h.MaxIOB, h.MaxDaily} {
			assert.LessOrEqual(t, int64(v), MaxCentiUnits, "profile %d", p)
		}
		assert.LessOrEqual(t, int64(h.MaxBasal), MaxCentiUnitsPerHour, "profile %d", p)
	}
	assert.LessOrEqual(t, MaxCentiUnits, int64(math.MaxInt32), "fits units.CentiUnits")
	assert.LessOrEqual(t, MaxCentiUnitsPerHour, int64(math.MaxInt32), "fits units.CentiUnitsPerHour")
	assert.GreaterOrEqual(t, MaxPPM, int64(175), "PACEMAKER Table 7: LRL and URL up to 175 ppm")
	assert.GreaterOrEqual(t, MaxMillis, int64(pump.DefaultConfig(pump.ProfileAdult).MaxTempBasalMs))
}

func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("bolus", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func TestFlagValues(t *testing.T) {
	var dose, basal, ppm, ms, bg int64
	fs := newFlagSet()
	fs.Var(Dose(&dose), "amount", "bolus in U, e.g. 2.50")
	fs.Var(BasalRate(&basal), "basal", "basal rate in U/h, e.g. 1.50")
	fs.Var(PulseRate(&ppm), "lrl", "lower rate limit in ppm")
	fs.Var(Interval(&ms), "av", "AV delay in ms")
	fs.Var(Glucose(&bg), "suspend-below", "mg/dL")
	require.NoError(t, fs.Parse([]string{"-amount", "2.5", "-basal=1.50", "-lrl", "60", "-av", "150", "-suspend-below", "70"}))
	assert.Equal(t, []int64{250, 150, 60, 150, 70}, []int64{dose, basal, ppm, ms, bg})
	assert.Equal(t, "2.50", fs.Lookup("amount").Value.String())
	assert.Equal(t, "60", fs.Lookup("lrl").Value.String())
	assert.True(t, fs.Lookup("amount").Value.(*Value).IsSet())
	require.NoError(t, NoTrailing(fs))
}

func TestFlagValueRefusesWhatParseRefuses(t *testing.T) {
	for _, in := range []string{"0250", "0x10", "1e2", "-1", "2.505", "1001"} {
		dose := int64(7)
		fs := newFlagSet()
		fs.Var(Dose(&dose), "amount", "")
		err := fs.Parse([]string{"-amount", in})
		if assert.Error(t, err, "-amount %s", in) {
			assert.Contains(t, err.Error(), quoteInput(in))
			assert.Contains(t, err.Error(), "(in U)")
		}
		assert.Equal(t, int64(7), dose, "-amount %s: the value is unchanged", in)
		assert.False(t, fs.Lookup("amount").Value.(*Value).IsSet())
	}
}

func TestFlagGivenTwiceIsRefused(t *testing.T) {
	var dose int64
	fs := newFlagSet()
	d := Dose(&dose)
	fs.Var(d, "amount", "")
	// The flag package reports a Set error with %v, not %w: the message
	// survives, the sentinel does not.
	err := fs.Parse([]string{"-amount", "1", "-amount", "2"})
	assert.ErrorContains(t, err, "-amount: given more than once: already 1.00 U")
	assert.Equal(t, int64(100), dose)
	assert.ErrorIs(t, d.Set("3"), ErrRepeated)
}

func TestFlagUnsetIsDistinguishable(t *testing.T) {
	var dose int64
	fs := newFlagSet()
	d := Dose(&dose)
	fs.Var(d, "amount", "")
	require.NoError(t, fs.Parse(nil))
	assert.False(t, d.IsSet())
	require.NoError(t, fs.Parse([]string{"-amount", "0"}))
	assert.True(t, d.IsSet())
	assert.Equal(t, int64(0), dose)
}

// TestFlagDefaultsPrint: the flag package builds a zero Value to print
// defaults; String must not panic on it.
func TestFlagDefaultsPrint(t *testing.T) {
	var dose int64
	var out strings.Builder
	fs := flag.NewFlagSet("bolus", flag.ContinueOnError)
	fs.SetOutput(&out)
	fs.Var(Dose(&dose), "amount", "bolus in U, e.g. 2.50")
	assert.NotPanics(t, fs.PrintDefaults)
	assert.Contains(t, out.String(), "bolus in U, e.g. 2.50")
	var zero Value
	assert.Equal(t, "", zero.String())
	assert.Error(t, zero.Set("1"))
	assert.Equal(t, "", (*Value)(nil).String())
}

func TestNoTrailingNamesStrayArguments(t *testing.T) {
	var dose int64
	var counter uint64
	fs := newFlagSet()
	fs.Var(Dose(&dose), "amount", "")
	fs.Uint64Var(&counter, "counter", 0, "")
	// The bug: "-amount 1 0" delivered 1 and ignored the 0, and everything after it.
	require.NoError(t, fs.Parse([]string{"-amount", "1", "0", "-counter", "5"}))
	err := NoTrailing(fs)
	require.ErrorIs(t, err, ErrTrailing)
	assert.Contains(t, err.Error(), `"0" "-counter" "5"`)
	assert.Contains(t, err.Error(), "bolus:")
	assert.Zero(t, counter, "the flag package stopped at the stray 0")
}
