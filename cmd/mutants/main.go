// Command mutants measures the kernels' assurance by mutation: it applies
// each single-decision mutant of a committed list (cmd/mutants/mutants.tsv)
// to kernel/pump, kernel/pacer or kernel/guard, without copying the tree
// (go's -overlay), and runs the mutated kernel first against the model
// check (`cmd/model -first`, the kernels the file belongs to) and, if that
// passes, against the kernel tests (`go test` of the kernel packages that
// link the file). It prints one line per mutant and
//
//	mutants: N total, K killed by model, M killed by tests only, S survived
//
// and writes the table as build/mutants.md and build/mutants.json (the
// conformance report includes them). It exits 1 if a mutant survives and
// 2 if the list itself is defective: a file that does not exist, an
// original text that does not occur exactly once, a mutant that does not
// compile (a list defect, not a kill), or a duplicate ID.
//
// A mutant the list marks equivalent (its meaning starts with
// "EQUIVALENT:", followed by the argument) is applied and run like the
// others; it is expected to survive and counted apart.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Mutant is one line of the list.
type Mutant struct {
	ID          string `json:"id"`
	File        string `json:"file"`
	Original    string `json:"original"`
	Replacement string `json:"replacement"`
	Meaning     string `json:"meaning"`
	Equivalent  bool   `json:"equivalent,omitempty"`
}

// Result is the outcome of one mutant.
type Result struct {
	Mutant
	// Outcome: "model" (the model check failed), "tests" (the model check
	// passed or timed out, a kernel test failed), "survived", "equivalent"
	// (survived as argued), "equivalent-killed" (argued equivalent, but
	// killed: the argument is wrong).
	Outcome      string  `json:"outcome"`
	ModelTimeout bool    `json:"model_timeout,omitempty"`
	Evidence     string  `json:"evidence"` // the violation or failing test
	ModelSec     float64 `json:"model_seconds"`
	TestSec      float64 `json:"test_seconds"`
}

func main() {
	list := flag.String("list", "cmd/mutants/mutants.tsv", "the mutant list")
	out := flag.String("out", "build", "directory for mutants.md and mutants.json")
	sample := flag.Int("sample", 0, "run only this many mutants, spread evenly over the list (0: all)")
	only := flag.String("only", "", "comma-separated mutant IDs to run")
	modelBudget := flag.Duration("model-timeout", 90*time.Second, "time budget of the model check per mutant")
	testBudget := flag.Duration("test-timeout", 120*time.Second, "time budget of the kernel tests per mutant")
	checkOnly := flag.Bool("check", false, "only validate the list")
	flag.Parse()

	ms, err := load(*list)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(2)
	}
	if *checkOnly {
		fmt.Printf("mutants: list of %d is well-formed\n", len(ms))
		return
	}
	ms = pick(ms, *sample, *only)
	tmp, err := os.MkdirTemp("", "mutants-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(2)
	}
	defer os.RemoveAll(tmp)

	var results []Result
	start := time.Now()
	for i, m := range ms {
		r, err := runOne(tmp, m, *modelBudget, *testBudget)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mutants: list defect in %s: %v\n", m.ID, err)
			os.Exit(2)
		}
		results = append(results, r)
		fmt.Printf("%3d/%d %-10s %-18s model %5.1fs tests %5.1fs  %s\n", i+1, len(ms), m.ID, label(r), r.ModelSec, r.TestSec, oneLine(r.Evidence, 90))
	}
	sum := summarise(results)
	fmt.Println(sum)
	fmt.Printf("mutants: time %s\n", time.Since(start).Round(time.Second))
	if err := write(*out, results, sum); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(2)
	}
	for _, r := range results {
		if r.Outcome == "survived" || r.Outcome == "equivalent-killed" {
			os.Exit(1)
		}
	}
}

func label(r Result) string {
	s := "killed by " + r.Outcome
	switch r.Outcome {
	case "survived", "equivalent", "equivalent-killed":
		s = strings.ToUpper(r.Outcome)
	}
	if r.ModelTimeout {
		s += " (model timeout)"
	}
	return s
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// load reads and validates the list: tab-separated ID, file, original,
// replacement, meaning; "#" starts a comment line. In the original and the
// replacement, \n stands for a newline and \t for a tab.
func load(path string) ([]Mutant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []Mutant
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	unescape := strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Split(line, "\t")
		if len(fs) != 5 {
			return nil, fmt.Errorf("%s:%d: %d fields, want 5 (id, file, original, replacement, meaning)", path, n, len(fs))
		}
		m := Mutant{ID: fs[0], File: fs[1], Original: unescape.Replace(fs[2]), Replacement: unescape.Replace(fs[3]), Meaning: fs[4]}
		m.Equivalent = strings.HasPrefix(m.Meaning, "EQUIVALENT:")
		if seen[m.ID] {
			return nil, fmt.Errorf("%s:%d: duplicate id %s", path, n, m.ID)
		}
		seen[m.ID] = true
		if !strings.HasPrefix(m.File, "kernel/") || strings.HasSuffix(m.File, "_test.go") {
			return nil, fmt.Errorf("%s:%d: %s: only kernel source files are mutated", path, n, m.File)
		}
		src, err := os.ReadFile(m.File)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if c := strings.Count(string(src), m.Original); c != 1 {
			return nil, fmt.Errorf("%s:%d: %s: the original %q occurs %d times, want exactly once", path, n, m.File, m.Original, c)
		}
		if m.Original == m.Replacement {
			return nil, fmt.Errorf("%s:%d: replacement equals the original", path, n)
		}
		ms = append(ms, m)
	}
	return ms, sc.Err()
}

// pick selects the mutants to run: the listed IDs, or an even spread.
func pick(ms []Mutant, sample int, only string) []Mutant {
	if only != "" {
		want := map[string]bool{}
		for _, id := range strings.Split(only, ",") {
			want[strings.TrimSpace(id)] = true
		}
		var r []Mutant
		for _, m := range ms {
			if want[m.ID] {
				r = append(r, m)
			}
		}
		return r
	}
	if sample <= 0 || sample >= len(ms) {
		return ms
	}
	var r []Mutant
	for i := 0; i < sample; i++ {
		r = append(r, ms[i*len(ms)/sample])
	}
	return r
}

// targets: the model checks and the kernel test packages a mutated file
// reaches (guard is linked by both kernels).
func targets(file string) (kernel string, pkgs []string) {
	switch {
	case strings.HasPrefix(file, "kernel/pump/"):
		return "pump", []string{"./kernel/pump/"}
	case strings.HasPrefix(file, "kernel/pacer/"):
		return "pacer", []string{"./kernel/pacer/"}
	}
	return "all", []string{"./kernel/..."}
}

func runOne(tmp string, m Mutant, modelBudget, testBudget time.Duration) (Result, error) {
	r := Result{Mutant: m}
	src, err := os.ReadFile(m.File)
	if err != nil {
		return r, err
	}
	abs, err := filepath.Abs(m.File)
	if err != nil {
		return r, err
	}
	dir := filepath.Join(tmp, m.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	mutated := filepath.Join(dir, filepath.Base(m.File))
	if err := os.WriteFile(mutated, []byte(strings.Replace(string(src), m.Original, m.Replacement, 1)), 0o644); err != nil {
		return r, err
	}
	overlay := filepath.Join(dir, "overlay.json")
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {abs: mutated}})
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		return r, err
	}
	kernel, pkgs := targets(m.File)

	// A mutant that does not compile is a defect of the list.
	bin := filepath.Join(dir, "model")
	if o, err := run(context.Background(), "go", "build", "-overlay", overlay, "-o", bin, "./cmd/model"); err != nil {
		return r, fmt.Errorf("does not compile: %v\n%s", err, o)
	}

	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), modelBudget)
	o, err := run(ctx, bin, "-kernel", kernel, "-first")
	timedOut := ctx.Err() != nil
	cancel()
	r.ModelSec = time.Since(t0).Seconds()
	switch {
	case timedOut:
		r.ModelTimeout = true
	case err != nil:
		r.Outcome, r.Evidence = "model", firstMatch(o, "violation ", "explore:")
		return finish(r), nil
	}

	t0 = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), testBudget)
	args := append([]string{"test", "-vet=off", "-overlay", overlay, "-count=1"}, pkgs...)
	o, err = run(ctx, "go", args...)
	timedOut = ctx.Err() != nil
	cancel()
	r.TestSec = time.Since(t0).Seconds()
	switch {
	case timedOut:
		r.Outcome, r.Evidence = "tests", "kernel tests exceeded their time budget"
	case strings.Contains(o, "[build failed]") || strings.Contains(o, "[setup failed]"):
		return r, fmt.Errorf("kernel tests do not compile against it:\n%s", o)
	case err != nil:
		r.Outcome, r.Evidence = "tests", firstMatch(o, "--- FAIL", "FAIL")
	default:
		r.Outcome = "survived"
		if r.ModelTimeout {
			r.Evidence = "model check timed out; kernel tests pass"
		}
	}
	return finish(r), nil
}

// finish turns the outcome of a mutant argued equivalent into its own class.
func finish(r Result) Result {
	if !r.Equivalent {
		return r
	}
	if r.Outcome == "survived" {
		r.Outcome = "equivalent"
	} else {
		r.Outcome, r.Evidence = "equivalent-killed", "argued equivalent but killed by "+r.Outcome+": "+r.Evidence
	}
	return r
}

func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) && ctx.Err() == nil {
		return b.String(), err
	}
	return b.String(), err
}

func firstMatch(out string, prefixes ...string) string {
	for _, p := range prefixes {
		for _, l := range strings.Split(out, "\n") {
			if i := strings.Index(l, p); i >= 0 {
				return strings.TrimSpace(l[i:])
			}
		}
	}
	return oneLine(out, 200)
}

func summarise(rs []Result) string {
	var model, tests, surv, eq, timeouts int
	for _, r := range rs {
		switch r.Outcome {
		case "model":
			model++
		case "tests":
			tests++
		case "equivalent":
			eq++
		default:
			surv++
		}
		if r.ModelTimeout {
			timeouts++
		}
	}
	s := fmt.Sprintf("mutants: %d total, %d killed by model, %d killed by tests only, %d survived", len(rs), model, tests, surv)
	if n := len(rs) - eq; n > 0 {
		s += fmt.Sprintf(" (model share %.0f%%", 100*float64(model)/float64(n))
		if eq > 0 {
			s += fmt.Sprintf("; %d equivalent, argued in the list", eq)
		}
		if timeouts > 0 {
			s += fmt.Sprintf("; %d model timeouts", timeouts)
		}
		s += ")"
	}
	return s
}

func write(dir string, rs []Result, sum string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(struct {
		Summary string   `json:"summary"`
		Mutants []Result `json:"mutants"`
	}{sum, rs}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "mutants.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Kernel mutants\n\n%s\n\n", sum)
	b.WriteString("| id | file | mutation | meaning | outcome | evidence |\n|---|---|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(oneLine(s, 160), "|", `\|`) }
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | `%s` | `%s` → `%s` | %s | %s | %s |\n", r.ID, r.File, cell(r.Original), cell(r.Replacement), cell(r.Meaning), label(r), cell(r.Evidence))
	}
	return os.WriteFile(filepath.Join(dir, "mutants.md"), []byte(b.String()), 0o644)
}
