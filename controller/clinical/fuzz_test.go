package clinical

import (
	"bytes"
	"errors"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

// centiGrammar is the whole accepted language of ParseCentiUnits, written
// independently of the parser as the fuzz oracle.
var centiGrammar = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$`)

// FuzzParseCentiUnits: parsing never panics; it accepts exactly the inputs
// the grammar matches whose value is in range; an accepted value is what
// math/big reads (times 100), and formats to a canonical string that parses
// back to it. A refusal is a *ParseError wrapping one sentinel and naming
// the unit.
func FuzzParseCentiUnits(f *testing.F) {
	for _, c := range insulinCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseCentiUnits(s)
		inGrammar := centiGrammar.MatchString(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Input != s || pe.Unit != "U" {
				t.Fatalf("%q: error %v is not a *ParseError for this input in U", s, err)
			}
			switch {
			case errors.Is(err, ErrRange):
				if !inGrammar {
					t.Fatalf("%q: ErrRange for an input outside the grammar", s)
				}
			case errors.Is(err, ErrSyntax), errors.Is(err, ErrPrecision):
				if inGrammar {
					t.Fatalf("%q: in the grammar but refused: %v", s, err)
				}
			default:
				t.Fatalf("%q: error %v wraps no sentinel", s, err)
			}
			if v != 0 {
				t.Fatalf("%q: refused but returned %d", s, v)
			}
			if inGrammar {
				r, _ := new(big.Rat).SetString(s)
				if r.Cmp(big.NewRat(MaxCentiUnits, 100)) <= 0 {
					t.Fatalf("%q: in range (%s) but refused: %v", s, r.FloatString(2), err)
				}
			}
			return
		}
		if !inGrammar {
			t.Fatalf("%q accepted as %d but is outside the grammar", s, v)
		}
		if v < 0 || v > MaxCentiUnits {
			t.Fatalf("%q accepted as %d, outside 0..%d", s, v, MaxCentiUnits)
		}
		r, _ := new(big.Rat).SetString(s)
		if want := new(big.Rat).Mul(r, big.NewRat(100, 1)); want.Cmp(big.NewRat(v, 1)) != 0 {
			t.Fatalf("%q parsed as %d cU, want %s", s, v, want.RatString())
		}
		canon, ok := strings.CutSuffix(FormatCentiUnits(v), " U")
		if !ok || !centiGrammar.MatchString(canon) {
			t.Fatalf("%d formats as %q, not canonical", v, FormatCentiUnits(v))
		}
		if back, err := ParseCentiUnits(canon); err != nil || back != v {
			t.Fatalf("%q → %d → %q → %d, %v", s, v, canon, back, err)
		}
	})
}

// FuzzDecodeCounter: decoding a counter file never panics and accepts only
// the exact encoding of a value.
func FuzzDecodeCounter(f *testing.F) {
	f.Add(encodeCounter(0))
	f.Add(encodeCounter(42))
	f.Add(encodeCounter(1<<64 - 1))
	f.Add([]byte{})
	f.Add(encodeCounter(42)[:20])
	f.Fuzz(func(t *testing.T, b []byte) {
		v, reason := decodeCounter(b)
		if reason != "" {
			if v != 0 {
				t.Fatalf("refused (%s) but returned %d", reason, v)
			}
			return
		}
		if !bytes.Equal(b, encodeCounter(v)) {
			t.Fatalf("accepted %q as %d, whose encoding is %q", b, v, encodeCounter(v))
		}
	})
}
