package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Threat is one entry of threats.json: a STRIDE threat at one trust
// boundary, the assets it puts at stake, the requirements whose controls
// answer it and the tests that show the controls work.
type Threat struct {
	ID       string   `json:"id"`
	Boundary string   `json:"boundary"`
	STRIDE   []string `json:"stride"`
	Title    string   `json:"title"`
	// Description says what the attacker does.
	Description string   `json:"threat"`
	Assets      []string `json:"assets"`
	// Requirements and Tests are the links make trace checks.
	Requirements []string `json:"requirements"`
	Tests        []string `json:"tests"`
	Residual     string   `json:"residual,omitempty"`
	// Status: "mitigated", "partial" (residual risk stated), "open" (a
	// known defect, listed in anomalies.json) or "not built".
	Status string `json:"status"`
}

// Cause is one cause of a hazard.
type Cause struct {
	// Kind: "software", "hardware", "attack" or "use".
	Kind  string `json:"kind"`
	Cause string `json:"cause"`
}

// Verification is one piece of verification of a hazard's controls.
type Verification struct {
	// Kind: "spec" (Ref is Module.Invariant, checked by TLC configs),
	// "model" (Ref is the model package, model/pump or model/pacer),
	// "conformance" (Ref is the name of a firmware exchange of
	// conformance/fwcheck), or a test kind ("property", "unit",
	// "integration", "actuator", "system", "model-mutation"), Ref a test
	// function.
	Kind string `json:"kind"`
	Ref  string `json:"ref"`
}

// IsTest reports whether v names a test function.
func (v Verification) IsTest() bool {
	switch v.Kind {
	case "spec", "model", "conformance":
		return false
	}
	return true
}

// Hazard is one entry of hazards.json, in the manner of an ISO 14971 risk
// analysis: the hazard, the hazardous situation and the harm, its causes,
// the requirements that control it, and their verification.
type Hazard struct {
	ID     string `json:"id"`
	Device string `json:"device"`
	// Name is the hazard itself.
	Name         string         `json:"hazard"`
	Situation    string         `json:"situation"`
	Harm         string         `json:"harm"`
	Severity     string         `json:"severity"`
	Causes       []Cause        `json:"causes"`
	Requirements []string       `json:"requirements"`
	Verification []Verification `json:"verification"`
	Residual     string         `json:"residual,omitempty"`
}

// Control is one of the FDA premarket cybersecurity guidance's security
// control categories (Appendix 1, A–H) with the requirements that
// implement it.
type Control struct {
	ID           string   `json:"id"`
	Category     string   `json:"category"`
	Summary      string   `json:"summary"`
	Requirements []string `json:"requirements"`
}

// Anomaly is a known, unresolved defect with its risk assessment.
type Anomaly struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Detail  string   `json:"detail"`
	Threats []string `json:"threats"`
	Tests   []string `json:"tests"`
	Risk    string   `json:"risk"`
	Owner   string   `json:"owner"`
	Status  string   `json:"status"`
}

// Component is the support status of one software component (a Go module).
type Component struct {
	Module   string `json:"module"`
	Supplier string `json:"supplier"`
	Support  string `json:"support"`
	Note     string `json:"note"`
}

// Dossier is everything besides the requirement catalogue that the report
// and make trace read from the conformance directory.
type Dossier struct {
	Threats    []Threat
	Hazards    []Hazard
	Controls   []Control
	Anomalies  []Anomaly
	Components []Component
}

// LoadDossier reads threats.json, hazards.json, controls.json,
// anomalies.json and components.json from dir. Every file must exist and
// every ID must be unique across them.
func LoadDossier(dir string) (*Dossier, error) {
	d := &Dossier{}
	for _, f := range []struct {
		name string
		v    any
	}{{"threats.json", &d.Threats}, {"hazards.json", &d.Hazards}, {"controls.json", &d.Controls},
		{"anomalies.json", &d.Anomalies}, {"components.json", &d.Components}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCatalogue, err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(f.v); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCatalogue, f.name, err)
		}
	}
	seen := map[string]bool{}
	for _, id := range d.ids() {
		if id == "" {
			return nil, fmt.Errorf("%w: an entry without an id", ErrCatalogue)
		}
		if seen[id] {
			return nil, fmt.Errorf("%w: %s listed twice", ErrCatalogue, id)
		}
		seen[id] = true
	}
	return d, nil
}

func (d *Dossier) ids() []string {
	var ids []string
	for _, t := range d.Threats {
		ids = append(ids, t.ID)
	}
	for _, h := range d.Hazards {
		ids = append(ids, h.ID)
	}
	for _, a := range d.Anomalies {
		ids = append(ids, a.ID)
	}
	return ids
}

// Known is what exists in the repository, for CheckLinks.
type Known struct {
	// Tests: top-level Test and Fuzz function names.
	Tests map[string]bool
	// Subtest reports whether sub (the part of "TestX/sub" after the
	// function) names a subtest of top; for table rows, whose names are
	// strings in the test files, each "/"-separated part must be there.
	Subtest func(top, sub string) bool
	// Invariants: "Module.Inv_…" defined in spec/ and checked by a config.
	Invariants map[string]bool
	// Models: model packages ("model/pump").
	Models map[string]bool
	// Exchanges: names of the firmware exchanges of conformance/fwcheck.
	Exchanges map[string]bool
	// Packages: package directories of the module ("wire", "proofs/compare").
	Packages map[string]bool
}

// TestExists reports whether a test reference names an existing test: a
// top-level function, or Func/row where Func exists and the row's name is
// in a test file.
func (k Known) TestExists(name string) bool {
	top, sub, isSub := strings.Cut(name, "/")
	if !k.Tests[top] {
		return false
	}
	return !isSub || k.Subtest != nil && k.Subtest(top, sub)
}

// CheckLinks returns every missing link, sorted: a threat or hazard that
// names no requirement, an unknown requirement or an unknown test; a
// hazard verification that names nothing that exists; a requirement that
// no hazard or threat covers; a control category or anomaly naming unknown
// requirements, threats or tests; a system requirement naming an unknown
// package or test.
func CheckLinks(reqs []Requirement, d *Dossier, k Known) []string {
	var gaps []string
	gap := func(id, f string, a ...any) { gaps = append(gaps, id+": "+fmt.Sprintf(f, a...)) }
	byID := map[string]bool{}
	for _, r := range reqs {
		byID[r.ID] = true
	}
	covered := map[string]bool{}
	threats := map[string]bool{}
	for _, t := range d.Threats {
		threats[t.ID] = true
		if t.Boundary == "" || len(t.STRIDE) == 0 || len(t.Assets) == 0 || t.Status == "" {
			gap(t.ID, "threat lacks a boundary, STRIDE category, asset or status")
		}
		for _, s := range t.STRIDE {
			if !strings.Contains("STRIDE", s) || len(s) != 1 {
				gap(t.ID, "STRIDE category %q is not one of S, T, R, I, D, E", s)
			}
		}
		for _, a := range t.Assets {
			switch a {
			case "therapy", "privacy", "availability", "battery":
			default:
				gap(t.ID, "asset %q is not therapy, privacy, availability or battery", a)
			}
		}
		if len(t.Requirements) == 0 {
			gap(t.ID, "threat names no requirement")
		}
		for _, id := range t.Requirements {
			if !byID[id] {
				gap(t.ID, "requirement %s not in the catalogue", id)
			}
			covered[id] = true
		}
		if len(t.Tests) == 0 {
			gap(t.ID, "threat names no test")
		}
		for _, tn := range t.Tests {
			if !k.TestExists(tn) {
				gap(t.ID, "test %s not found", tn)
			}
		}
		if (t.Status == "partial" || t.Status == "open" || t.Status == "not built") && t.Residual == "" {
			gap(t.ID, "status %s without a residual risk", t.Status)
		}
	}
	for _, h := range d.Hazards {
		if h.Device == "" || h.Name == "" || h.Harm == "" || h.Severity == "" || len(h.Causes) == 0 {
			gap(h.ID, "hazard lacks a device, hazard, harm, severity or cause")
		}
		if len(h.Requirements) == 0 {
			gap(h.ID, "hazard names no requirement")
		}
		for _, id := range h.Requirements {
			if !byID[id] {
				gap(h.ID, "requirement %s not in the catalogue", id)
			}
			covered[id] = true
		}
		if len(h.Verification) == 0 {
			gap(h.ID, "hazard names no verification")
		}
		for _, v := range h.Verification {
			var ok bool
			switch {
			case v.Kind == "spec":
				ok = k.Invariants[v.Ref]
			case v.Kind == "model":
				ok = k.Models[v.Ref]
			case v.Kind == "conformance":
				ok = k.Exchanges[v.Ref]
			default:
				ok = k.TestExists(v.Ref)
			}
			if !ok {
				gap(h.ID, "%s verification %s not found", v.Kind, v.Ref)
			}
		}
	}
	for _, r := range reqs {
		if !covered[r.ID] {
			gap(r.ID, "no hazard or threat names this requirement")
		}
		if r.System() {
			if len(r.Code) == 0 {
				gap(r.ID, "system requirement names no implementing package")
			}
			for _, p := range r.Code {
				if !k.Packages[p] {
					gap(r.ID, "package %s not found", p)
				}
			}
			for _, tn := range r.Tests {
				if !k.TestExists(tn) {
					gap(r.ID, "test %s not found", tn)
				}
			}
		}
	}
	for _, c := range d.Controls {
		if len(c.Requirements) == 0 {
			gap("control "+c.ID, "%s names no requirement", c.Category)
		}
		for _, id := range c.Requirements {
			if !byID[id] {
				gap("control "+c.ID, "requirement %s not in the catalogue", id)
			}
		}
	}
	for _, a := range d.Anomalies {
		if a.Risk == "" {
			gap(a.ID, "anomaly without a risk assessment")
		}
		for _, id := range a.Threats {
			if !threats[id] {
				gap(a.ID, "threat %s not in threats.json", id)
			}
		}
		for _, tn := range a.Tests {
			if !k.TestExists(tn) {
				gap(a.ID, "test %s not found", tn)
			}
		}
	}
	sort.Strings(gaps)
	return gaps
}
