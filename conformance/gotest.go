package conformance

import (
	"bufio"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"time"
)

// TestResult is the outcome of one top-level test function.
type TestResult struct {
	Package string
	Name    string
	// Action is "pass", "fail" or "skip".
	Action  string
	Elapsed time.Duration
	// KnownOpen: the test passed only because it is a row the suite lists
	// as a known, reported problem (attack/ knownOpen), logged as
	// "KNOWN OPEN".
	KnownOpen bool
}

// TestRun is a whole `go test -json` run: every test and subtest by full
// name ("TestAttack/replay/…"), and the summary lines the suites print
// (the adversarial suite's "attack: N rows, …").
type TestRun struct {
	Results   map[string]TestResult
	Summaries []string
}

// testEvent is one line of `go test -json` (cmd/test2json).
type testEvent struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

var summaryRE = regexp.MustCompile(`^attack: \d+ rows, `)

// ParseTestJSON reads `go test -json` output and returns the result of every
// top-level test (subtests are folded into their parent), by test name. A
// name found in several packages keeps the worst result and lists them all.
func ParseTestJSON(r io.Reader) (map[string]TestResult, error) {
	run, err := ParseTestRun(r)
	if err != nil {
		return nil, err
	}
	top := map[string]TestResult{}
	for n, t := range run.Results {
		if !strings.Contains(n, "/") {
			top[n] = t
		}
	}
	return top, nil
}

// ParseTestRun reads `go test -json` output: the result of every test and
// subtest by its full name (a name found in several packages keeps the
// worst result and lists them all), and the suites' summary lines.
func ParseTestRun(r io.Reader) (*TestRun, error) {
	run := &TestRun{Results: map[string]TestResult{}}
	res := run.Results
	open := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	rank := map[string]int{"pass": 1, "skip": 2, "fail": 3}
	for sc.Scan() {
		var e testEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // a build error line or other non-JSON output
		}
		if e.Action == "output" {
			line := strings.TrimSpace(e.Output)
			if e.Test == "" && summaryRE.MatchString(line) {
				run.Summaries = append(run.Summaries, line)
			}
			if e.Test != "" && strings.Contains(line, "KNOWN OPEN") {
				open[e.Package+" "+e.Test] = true
			}
			continue
		}
		if e.Test == "" || rank[e.Action] == 0 {
			continue
		}
		r := TestResult{Package: e.Package, Name: e.Test, Action: e.Action,
			Elapsed: time.Duration(e.Elapsed * float64(time.Second)), KnownOpen: open[e.Package+" "+e.Test]}
		if prev, ok := res[e.Test]; ok {
			if prev.Package != e.Package {
				r.Package = prev.Package + ", " + e.Package
			}
			if rank[prev.Action] > rank[e.Action] {
				r.Action = prev.Action
			}
			r.KnownOpen = r.KnownOpen || prev.KnownOpen
		}
		res[e.Test] = r
	}
	return run, sc.Err()
}
