package pumptrace

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/model/pumpinv"
)

const specPath = "../../spec/InsulinPump.tla"

// specVariables parses the VARIABLES declaration of the spec.
func specVariables(t *testing.T, src string) []string {
	t.Helper()
	i := strings.Index(src, "\nVARIABLES")
	require.GreaterOrEqual(t, i, 0, "no VARIABLES in the spec")
	var names []string
	for _, line := range strings.Split(src[i+len("\nVARIABLES"):], "\n") {
		if c := strings.Index(line, `\*`); c >= 0 {
			line = line[:c]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			if len(names) > 0 {
				break
			}
			continue
		}
		for _, n := range strings.Split(line, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

func readSpec(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(specPath)
	require.NoError(t, err)
	return string(b)
}

func TestVarsMatchSpec(t *testing.T) {
	require.Equal(t, specVariables(t, readSpec(t)), Vars)
}

// Every requirement of the reference observer has its named invariant in the
// spec, with the literal ID in a comment on the line above, and the trace
// configurations check exactly the spec's invariants.
func TestInvariantsMatchSpec(t *testing.T) {
	src := readSpec(t)
	lines := strings.Split(src, "\n")
	defined := map[string]int{}
	def := regexp.MustCompile(`^(Inv_[A-Z_]+|TypeOK) ==`)
	for i, l := range lines {
		if m := def.FindStringSubmatch(l); m != nil {
			defined[m[1]] = i
		}
	}
	var names []string
	for n := range defined {
		names = append(names, n)
	}
	want := slices.Clone(InvariantNames)
	slices.Sort(names)
	slices.Sort(want)
	require.Equal(t, want, names)
	require.Len(t, pumpinv.IDs, len(InvariantNames)-1)
	for _, id := range pumpinv.IDs {
		n := InvariantName(id)
		at, ok := defined[n]
		require.True(t, ok, "no invariant %s for %s", n, id)
		require.Equal(t, `\* `+id, strings.TrimSpace(lines[at-1]), "comment above %s", n)
	}
}

func TestTraceModuleStructure(t *testing.T) {
	const steps = 12
	dir := t.TempDir()
	paths, err := Generate(dir, 1, steps, 7)
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, "PumpTrace_001.cfg"), filepath.Join(dir, "PumpTrace_001.tla")}, paths)

	b, err := os.ReadFile(filepath.Join(dir, "PumpTrace_001.tla"))
	require.NoError(t, err)
	mod := string(b)
	lines := strings.Split(strings.TrimRight(mod, "\n"), "\n")
	require.Equal(t, "---- MODULE PumpTrace_001 ----", lines[0])
	require.Contains(t, mod, "\nEXTENDS InsulinPump, TLC\n")
	require.Regexp(t, `^=+$`, lines[len(lines)-1])
	for _, op := range []string{"TraceLog ==", "TraceInit ==", "TraceNext ==", "TraceSpec ==", "TraceAccepted =="} {
		require.Contains(t, mod, "\n"+op)
	}

	// One record per state: the initial state and one per kernel step, each
	// with exactly the spec's variables in order.
	vars := specVariables(t, readSpec(t))
	var records []string
	for _, l := range lines {
		if strings.HasPrefix(l, "    [mode |-> ") {
			records = append(records, strings.TrimSpace(l))
		}
	}
	require.Len(t, records, steps+1)
	for i, r := range records {
		require.Equal(t, vars, topLevelFields(r), "record %d", i+1)
	}
	for _, v := range vars {
		require.Contains(t, mod, "    /\\ "+v+"' = TraceLog[traceIdx + 1]."+v+"\n")
	}

	c, err := os.ReadFile(filepath.Join(dir, "PumpTrace_001.cfg"))
	require.NoError(t, err)
	cfg := string(c)
	require.Contains(t, cfg, "SPECIFICATION TraceSpec\n")
	require.Contains(t, cfg, "PROPERTY TraceAccepted\n")
	for _, n := range InvariantNames {
		require.Contains(t, cfg, "    "+n+"\n")
	}
	for _, k := range []string{"TickMs", "MaxTime", "WindowMs", "Signers", "ValidFor"} {
		require.Regexp(t, `\n    `+k+` = `, cfg)
	}
}

// The output depends only on the seed.
func TestGenerateDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	_, err := Generate(a, 2, 10, 3)
	require.NoError(t, err)
	_, err = Generate(b, 2, 10, 3)
	require.NoError(t, err)
	for _, n := range []string{"PumpTrace_001.tla", "PumpTrace_002.tla", "PumpTrace_001.cfg"} {
		x, err := os.ReadFile(filepath.Join(a, n))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(b, n))
		require.NoError(t, err)
		require.Equal(t, string(x), string(y), n)
	}
}

// Walks reach delivery: the traces exercise the accounting, not only refusals.
func TestWalksDeliver(t *testing.T) {
	delivered := 0
	for seed := uint64(1); seed <= 5; seed++ {
		tr, err := Walk(NewSystem(), seed, 25)
		require.NoError(t, err)
		for _, st := range tr.Rec.States() {
			out := st.Get("lastStep").(Rec).Get("out").(Rec)
			if out.Get("basal").(Int)+out.Get("bolus").(Int) > 0 {
				delivered++
			}
		}
	}
	require.Positive(t, delivered)
}

// topLevelFields returns the field names of a record written by Format, at
// nesting depth one only.
func topLevelFields(rec string) []string {
	var names []string
	depth, inStr, expectName := 0, false, false
	for i := 0; i < len(rec); i++ {
		ch := rec[i]
		pair := i+1 < len(rec) && rec[i+1] == ch
		switch {
		case inStr:
			if ch == '\\' {
				i++
			} else if ch == '"' {
				inStr = false
			}
		case ch == '"':
			inStr = true
		case ch == '[' || ch == '{' || ch == '<' && pair:
			depth++
			expectName = depth == 1
			if ch == '<' {
				i++
			}
		case ch == ']' || ch == '}' || ch == '>' && pair:
			depth--
			if ch == '>' {
				i++
			}
		case ch == ',' && depth == 1:
			expectName = true
		case expectName && ch != ' ':
			j := i
			for j < len(rec) && (rec[j] == '_' || 'a' <= rec[j] && rec[j] <= 'z' || 'A' <= rec[j] && rec[j] <= 'Z' || '0' <= rec[j] && rec[j] <= '9') {
				j++
			}
			names = append(names, rec[i:j])
			i = j - 1
			expectName = false
		}
	}
	return names
}

// TLC's .cfg parser reads natural numbers only: a negative constant would
// make TLC refuse the configuration, so WriteConfig refuses it first.
func TestConfigNaturalNumbersOnly(t *testing.T) {
	dir := t.TempDir()
	_, err := Generate(dir, 3, 25, 1)
	require.NoError(t, err)
	for _, n := range []string{"PumpTrace_001.cfg", "PumpTrace_002.cfg", "PumpTrace_003.cfg"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		require.NoError(t, err)
		require.NotRegexp(t, `-[0-9]`, string(b), n)
	}
	require.True(t, hasNegative(Set{Int(0), Rec{{"x", Tuple{Int(-1)}}}}))
	require.False(t, hasNegative(Set{Int(0), Str("-1")}))
}
