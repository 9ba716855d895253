package conformance

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Status of a requirement or a piece of evidence.
type Status string

// Statuses, worst first.
const (
	Fail     Status = "FAIL"
	Untested Status = "UNTESTED"
	Pass     Status = "PASS"
)

func (s Status) rank() int {
	switch s {
	case Fail:
		return 0
	case Untested:
		return 1
	}
	return 2
}

// Evidence is one thing that was run for a requirement.
type Evidence struct {
	// Kind: "test" (go test through the mock HAL), "firmware" (the built
	// binary over its wire protocol) or "model" (exhaustive model check).
	Kind   string
	Name   string
	Where  string // package, target or kernel
	Status Status
	Detail string
}

// FirmwareCheck is one scripted exchange with a built firmware binary.
type FirmwareCheck struct {
	Target       string
	Name         string
	Requirements []string
	Expected     string
	Got          string
	Detail       string
	Pass         bool
}

// ModelResult is one line of cmd/model.
type ModelResult struct {
	Kernel string
	Line   string
	Pass   bool
}

// FuzzTarget is one fuzz target with its seed corpus.
type FuzzTarget struct {
	Package     string
	Name        string
	CorpusFiles int
	Status      Status
}

// Artefact is a file that was tested or produced, with its digest.
type Artefact struct {
	Path   string
	Bytes  int64
	SHA256 string
}

// Module is a Go module the firmware is built from.
type Module struct {
	Path, Version string
}

// Row is one requirement with its evidence and verdict.
type Row struct {
	Requirement
	Status   Status
	Evidence []Evidence
}

// Summary counts requirements per status.
type Summary struct {
	N, Passed, Failed, Untested int
}

// String is the summary line cmd/conformance prints.
func (s Summary) String() string {
	return fmt.Sprintf("conformance: %d requirements, %d passed, %d failed, %d untested", s.N, s.Passed, s.Failed, s.Untested)
}

// Report is everything report.md and report.html show.
type Report struct {
	Generated time.Time
	Commit    string
	Dirty     bool
	GoVersion string
	Module    string
	Modules   []Module
	Rows      []Row
	Firmware  []FirmwareCheck
	Model     []ModelResult
	// PropertyTests ran; RapidChecks is the sequences per property test.
	PropertyTests, PropertyPassed int
	RapidChecks                   string
	Fuzz                          []FuzzTarget
	// FuzzTime is how long the fuzz targets ran (seed corpora replayed as
	// tests, plus FuzzDuration of coverage-guided fuzzing per target if any).
	FuzzTime     time.Duration
	FuzzDuration time.Duration
	Artefacts    []Artefact
	SBOM         string
	SBOMItems    int
	Notes        []string

	// The dossier: threats, hazards, control categories with their
	// evidence, architecture views, components with their support status,
	// unresolved anomalies, the IEC 62304 view, and the adversarial suite's
	// summary lines.
	Threats     []ThreatRow
	Hazards     []HazardRow
	Controls    []ControlRow
	Views       []View
	Components  []ComponentRow
	Anomalies   []Anomaly
	Lifecycle   []LifecycleRow
	Suites      []string
	DiagramNote string
}

// DossierSummary of the report's threats and hazards.
func (r *Report) DossierSummary() DossierSummary { return SummariseDossier(r.Threats, r.Hazards) }

// FillDossier evaluates the dossier against the report's evidence (call it
// after Rows, Firmware, Model and Modules are set).
func (r *Report) FillDossier(d *Dossier, results map[string]TestResult) {
	r.Threats, r.Hazards, r.Controls = EvaluateDossier(d, r.Rows, results, r.Firmware, r.Model)
	r.Components = Components(r.Modules, d)
	r.Anomalies = d.Anomalies
	r.Lifecycle = Lifecycle(r.Rows, d, results, r.Firmware)
}

// Evaluate joins the catalogue with the evidence: a requirement's named
// tests (from results), the firmware checks that name it, and the model
// checks of the kernel its method names. It returns the rows, worst first
// (failed, then untested, then passed), each group in catalogue order.
func Evaluate(reqs []Requirement, results map[string]TestResult, fw []FirmwareCheck, model []ModelResult) []Row {
	rows := make([]Row, 0, len(reqs))
	for _, r := range reqs {
		row := Row{Requirement: r}
		for _, name := range r.Tests {
			ev := Evidence{Kind: "test", Name: name, Status: Untested, Detail: "did not run"}
			if res, ok := results[name]; ok {
				ev.Where, ev.Detail = res.Package, res.Elapsed.String()
				switch res.Action {
				case "pass":
					ev.Status = Pass
				case "fail":
					ev.Status = Fail
				default:
					ev.Detail = "skipped"
				}
			}
			row.Evidence = append(row.Evidence, ev)
		}
		for _, c := range fw {
			for _, id := range c.Requirements {
				if id != r.ID {
					continue
				}
				ev := Evidence{Kind: "firmware", Name: c.Name, Where: c.Target, Status: Pass, Detail: c.Got}
				if !c.Pass {
					ev.Status, ev.Detail = Fail, fmt.Sprintf("expected %q, got %q %s", c.Expected, c.Got, c.Detail)
				}
				row.Evidence = append(row.Evidence, ev)
			}
		}
		for _, m := range model {
			if strings.Contains(r.Method, "model/"+m.Kernel) {
				ev := Evidence{Kind: "model", Name: "model check", Where: m.Kernel, Status: Pass, Detail: m.Line}
				if !m.Pass {
					ev.Status = Fail
				}
				row.Evidence = append(row.Evidence, ev)
			}
		}
		row.Status = verdict(row.Evidence)
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Status.rank() < rows[j].Status.rank() })
	return rows
}

// verdict: any failure fails; otherwise any evidence that did not run (or
// no evidence at all) leaves the requirement untested.
func verdict(evs []Evidence) Status {
	if len(evs) == 0 {
		return Untested
	}
	st := Pass
	for _, e := range evs {
		if e.Status.rank() < st.rank() {
			st = e.Status
		}
	}
	return st
}

// Summarise counts the rows.
func Summarise(rows []Row) Summary {
	s := Summary{N: len(rows)}
	for _, r := range rows {
		switch r.Status {
		case Pass:
			s.Passed++
		case Fail:
			s.Failed++
		default:
			s.Untested++
		}
	}
	return s
}

// Summary of the report's rows.
func (r *Report) Summary() Summary { return Summarise(r.Rows) }
