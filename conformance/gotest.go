package conformance

import (
	"bufio"
	"encoding/json"
	"io"
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
}

// testEvent is one line of `go test -json` (cmd/test2json).
type testEvent struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
}

// ParseTestJSON reads `go test -json` output and returns the result of every
// top-level test (subtests are folded into their parent), by test name. A
// name found in several packages keeps the worst result and lists them all.
func ParseTestJSON(r io.Reader) (map[string]TestResult, error) {
	res := map[string]TestResult{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	rank := map[string]int{"pass": 1, "skip": 2, "fail": 3}
	for sc.Scan() {
		var e testEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // a build error line or other non-JSON output
		}
		if e.Test == "" || strings.Contains(e.Test, "/") || rank[e.Action] == 0 {
			continue
		}
		r := TestResult{Package: e.Package, Name: e.Test, Action: e.Action,
			Elapsed: time.Duration(e.Elapsed * float64(time.Second))}
		if prev, ok := res[e.Test]; ok {
			if prev.Package != e.Package {
				r.Package = prev.Package + ", " + e.Package
			}
			if rank[prev.Action] > rank[e.Action] {
				r.Action = prev.Action
			}
		}
		res[e.Test] = r
	}
	return res, sc.Err()
}
