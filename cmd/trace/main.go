// Command trace checks that every requirement in conformance/requirements*.json
// is present in all four places: the spec (a named invariant that a TLC
// config checks, with the ID beside it), the kernel (the named check functions
// exist and the ID is cited in kernel code), the tests (the named test
// functions exist and cite the ID), and the catalogue itself. It also refuses
// spec invariants that no requirement claims.
//
// System requirements (the SEC-… security requirements, "layer": "system")
// have no spec invariant and no kernel check: their implementing packages
// and named tests must exist.
//
// The dossier (conformance/threats.json, hazards.json, controls.json,
// anomalies.json, components.json) must be linked: every threat and hazard
// names existing requirements and existing tests (or, for hazards, spec
// invariants, model checks and firmware exchanges); every requirement is
// covered by at least one hazard or threat; every row the adversarial suite
// lists as known-open is an anomaly; docs/threat-model.md and
// docs/hazard-analysis.md name every threat and hazard; and nothing in the
// dossier (docs/, conformance/, README.md, spec/README.md) points outside
// the repository. It prints
//
//	trace: N requirements traced; T threats, H hazards linked
//
// or every gap it found, and exits 1.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/implantfhe/implantfhe/conformance"
	"github.com/implantfhe/implantfhe/internal/scenario"
)

type tree struct {
	root string
	// files by kind: "spec" (.tla), "cfg", "kernel" (non-test .go under
	// kernel/), "test" (*_test.go), "fwcheck" (conformance/fwcheck's code),
	// "dossier" (docs/, conformance/*.json and templates, README.md,
	// spec/README.md)
	files map[string]map[string]string
	// packages: every directory holding Go files.
	packages map[string]bool
}

func load(root string) (*tree, error) {
	t := &tree{root: root, files: map[string]map[string]string{"spec": {}, "cfg": {}, "kernel": {}, "test": {}, "fwcheck": {}, "scenario": {}, "dossier": {}},
		packages: map[string]bool{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "node_modules" || d.Name() == "build" || rel == filepath.Join("spec", "traces") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") {
			t.packages[filepath.ToSlash(filepath.Dir(rel))] = true
		}
		kind := ""
		switch {
		case strings.HasPrefix(rel, filepath.Join("conformance", "fwcheck")+string(filepath.Separator)) && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go"):
			kind = "fwcheck"
		case strings.HasSuffix(p, ".scn"):
			kind = "scenario" // the scenario files the firmware checks run (internal/scenario)
		case strings.HasPrefix(rel, "docs"+string(filepath.Separator)) || rel == "README.md" || rel == filepath.Join("spec", "README.md") ||
			strings.HasPrefix(rel, "conformance"+string(filepath.Separator)) && (strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".tmpl")):
			kind = "dossier"
		case strings.HasPrefix(rel, "spec"+string(filepath.Separator)) && strings.HasSuffix(p, ".tla"):
			kind = "spec"
		case strings.HasPrefix(rel, "spec"+string(filepath.Separator)) && strings.HasSuffix(p, ".cfg"):
			kind = "cfg"
		case strings.HasSuffix(p, "_test.go"):
			kind = "test"
		case strings.HasPrefix(rel, "kernel"+string(filepath.Separator)) && strings.HasSuffix(p, ".go"):
			kind = "kernel"
		default:
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		t.files[kind][rel] = string(b)
		return nil
	})
	return t, err
}

func (t *tree) any(kind string, match func(name, body string) bool) bool {
	for n, b := range t.files[kind] {
		if match(n, b) {
			return true
		}
	}
	return false
}

func check(t *tree, reqs []conformance.Requirement) []string {
	var gaps []string
	gap := func(id, f string, a ...any) { gaps = append(gaps, id+": "+fmt.Sprintf(f, a...)) }
	claimed := map[string]bool{}
	for _, r := range reqs {
		if r.ID == "" || r.Text == "" || r.Source == "" || r.Method == "" {
			gap(r.ID, "catalogue entry lacks id, text, source or method")
		}
		if r.System() {
			continue // no spec invariant, no kernel check: conformance.CheckLinks
		}
		// Spec.
		inv := r.Spec.Invariant
		claimed[inv] = true
		tla := filepath.Join("spec", r.Spec.Module+".tla")
		body, ok := t.files["spec"][tla]
		switch {
		case !ok:
			gap(r.ID, "spec module %s not found", tla)
		case !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(inv) + `\s*==`).MatchString(body):
			gap(r.ID, "invariant %s not defined in %s", inv, tla)
		case !strings.Contains(body, r.ID):
			gap(r.ID, "%s does not cite the ID", tla)
		}
		if !t.any("cfg", func(_, b string) bool {
			return regexp.MustCompile(`(?m)^\s*(INVARIANTS?\s+)?(\S+\s+)*`+regexp.QuoteMeta(inv)+`\s*$`).MatchString(b) && strings.Contains(b, "INVARIANT")
		}) {
			gap(r.ID, "no TLC config checks INVARIANT %s", inv)
		}
		// Kernel.
		if len(r.Kernel) == 0 {
			gap(r.ID, "no kernel check named")
		}
		for _, k := range r.Kernel {
			pkg, fn, ok := strings.Cut(k, ".")
			if !ok {
				gap(r.ID, "kernel check %q is not package.Func", k)
				continue
			}
			re := regexp.MustCompile(`(?m)^func (\([^)]*\) )?` + regexp.QuoteMeta(fn) + `\b`)
			if !t.any("kernel", func(n, b string) bool {
				return filepath.Base(filepath.Dir(n)) == pkg && re.MatchString(b)
			}) {
				gap(r.ID, "kernel function %s not found in kernel/%s", k, pkg)
			}
		}
		if !t.any("kernel", func(_, b string) bool { return strings.Contains(b, r.ID) }) {
			gap(r.ID, "no kernel code cites the ID")
		}
		// Tests.
		if len(r.Tests) == 0 {
			gap(r.ID, "no test named")
		}
		under := strings.ReplaceAll(r.ID, "-", "_")
		cites := false
		for _, tn := range r.Tests {
			re := regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(tn) + `\(t \*testing\.T\)`)
			found := false
			for _, b := range t.files["test"] {
				if re.MatchString(b) {
					found = true
					cites = cites || strings.Contains(b, r.ID) || strings.Contains(b, under)
				}
			}
			if !found {
				gap(r.ID, "test %s not found", tn)
			}
		}
		if !cites {
			gap(r.ID, "none of its test files cites the ID")
		}
	}
	// Orphan invariants: every Inv_ in a spec module belongs to a requirement.
	invRe := regexp.MustCompile(`(?m)^\s*(Inv_[A-Za-z0-9_]+)\s*==`)
	for n, b := range t.files["spec"] {
		for _, m := range invRe.FindAllStringSubmatch(b, -1) {
			if !claimed[m[1]] {
				gaps = append(gaps, fmt.Sprintf("%s: invariant %s has no requirement in the catalogue", n, m[1]))
			}
		}
	}
	sort.Strings(gaps)
	return gaps
}

var (
	testFuncRe  = regexp.MustCompile(`(?m)^func ((Test|Fuzz)[A-Za-z0-9_]*)\((t \*testing\.T|f \*testing\.F)\)`)
	invDefRe    = regexp.MustCompile(`(?m)^\s*(Inv_[A-Za-z0-9_]+)\s*==`)
	exchangeRe  = regexp.MustCompile(`\badd\("((?:[^"\\]|\\.)*)"`)
	knownOpenRe = regexp.MustCompile(`(?s)var knownOpen = map\[string\]string\{(.*?)\n\}`)
	openRowRe   = regexp.MustCompile(`(?m)^\s*"([^"]+)":`)
	outsideRe   = regexp.MustCompile(`\bshared[/]|[.][.]/shared\b|/work[/]`)
)

// known collects what the dossier may link to.
func known(t *tree) conformance.Known {
	k := conformance.Known{Tests: map[string]bool{}, Invariants: map[string]bool{}, Models: map[string]bool{},
		Exchanges: map[string]bool{}, Packages: t.packages}
	testsOf := map[string]string{} // top-level test -> its package's test files, joined
	byDir := map[string]string{}
	for n, b := range t.files["test"] {
		byDir[filepath.Dir(n)] += b
	}
	for n, b := range t.files["test"] {
		for _, m := range testFuncRe.FindAllStringSubmatch(b, -1) {
			k.Tests[m[1]] = true
			testsOf[m[1]] += byDir[filepath.Dir(n)]
		}
	}
	k.Subtest = func(top, sub string) bool {
		body := testsOf[top]
		for _, part := range strings.Split(sub, "/") {
			if part == "" || !strings.Contains(body, part) {
				return false
			}
		}
		return true
	}
	for n, b := range t.files["spec"] {
		mod := strings.TrimSuffix(filepath.Base(n), ".tla")
		for _, m := range invDefRe.FindAllStringSubmatch(b, -1) {
			inv := m[1]
			if t.any("cfg", func(_, c string) bool {
				return strings.Contains(c, "INVARIANT") && regexp.MustCompile(`(?m)^\s*(INVARIANTS?\s+)?(\S+\s+)*`+regexp.QuoteMeta(inv)+`\s*$`).MatchString(c)
			}) {
				k.Invariants[mod+"."+inv] = true
			}
		}
	}
	for p := range t.packages {
		if strings.HasPrefix(p, "model/") {
			k.Models[p] = true
		}
	}
	for _, b := range t.files["fwcheck"] {
		for _, m := range exchangeRe.FindAllStringSubmatch(b, -1) {
			k.Exchanges[strings.ReplaceAll(m[1], `\"`, `"`)] = true
		}
	}
	for name, b := range t.files["scenario"] {
		steps, err := scenario.Parse(b)
		if err != nil {
			fmt.Fprintf(os.Stderr, "trace: %s: %v\n", name, err)
			continue
		}
		for _, st := range steps {
			k.Exchanges[st.Name] = true
		}
	}
	return k
}

// dossierGaps checks the links of the threat model and hazard analysis,
// and the rules that keep the dossier self-contained.
func dossierGaps(t *tree, reqs []conformance.Requirement, d *conformance.Dossier) []string {
	gaps := conformance.CheckLinks(reqs, d, known(t))
	// Every known-open row of the adversarial suite is an anomaly.
	listed := map[string]bool{}
	for _, a := range d.Anomalies {
		for _, tn := range a.Tests {
			listed[tn] = true
		}
	}
	for n, b := range t.files["test"] {
		if m := knownOpenRe.FindStringSubmatch(b); m != nil {
			for _, r := range openRowRe.FindAllStringSubmatch(m[1], -1) {
				if !listed["TestAttack/"+r[1]] {
					gaps = append(gaps, fmt.Sprintf("%s: known-open row %q is in no anomaly of conformance/anomalies.json", n, r[1]))
				}
			}
		}
	}
	// The documents name every threat and hazard.
	docs := []struct {
		file string
		ids  []string
	}{{filepath.Join("docs", "threat-model.md"), nil}, {filepath.Join("docs", "hazard-analysis.md"), nil}}
	for _, th := range d.Threats {
		docs[0].ids = append(docs[0].ids, th.ID)
	}
	for _, h := range d.Hazards {
		docs[1].ids = append(docs[1].ids, h.ID)
	}
	for _, doc := range docs {
		body, ok := t.files["dossier"][doc.file]
		if !ok {
			gaps = append(gaps, doc.file+": missing")
			continue
		}
		for _, id := range doc.ids {
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(id) + `\b`).MatchString(body) {
				gaps = append(gaps, fmt.Sprintf("%s: not named in %s", id, doc.file))
			}
		}
	}
	// Self-contained: nothing in the dossier points outside the repository.
	for n, b := range t.files["dossier"] {
		for i, l := range strings.Split(b, "\n") {
			if outsideRe.MatchString(l) {
				gaps = append(gaps, fmt.Sprintf("%s:%d: points outside the repository: %s", n, i+1, strings.TrimSpace(l)))
			}
		}
	}
	sort.Strings(gaps)
	return gaps
}

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	// The catalogue loader refuses a missing catalogue, an entry without an
	// ID and an ID listed twice.
	reqs, err := conformance.LoadCatalogue(filepath.Join(*root, "conformance"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "trace:", err)
		os.Exit(2)
	}
	if len(reqs) == 0 {
		fmt.Fprintln(os.Stderr, "trace: no requirements in conformance/requirements*.json")
		os.Exit(1)
	}
	t, err := load(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "trace:", err)
		os.Exit(2)
	}
	d, err := conformance.LoadDossier(filepath.Join(*root, "conformance"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "trace:", err)
		os.Exit(2)
	}
	if gaps := append(check(t, reqs), dossierGaps(t, reqs, d)...); len(gaps) > 0 {
		for _, g := range gaps {
			fmt.Println("trace: MISSING", g)
		}
		fmt.Printf("trace: %d gap(s) in %d requirements, %d threats, %d hazards\n", len(gaps), len(reqs), len(d.Threats), len(d.Hazards))
		os.Exit(1)
	}
	fmt.Printf("trace: %d requirements traced; %d threats, %d hazards linked\n", len(reqs), len(d.Threats), len(d.Hazards))
}
