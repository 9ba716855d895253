// Command trace checks that every requirement in conformance/requirements*.json
// is present in all four places: the spec (a named invariant that a TLC
// config checks, with the ID beside it), the kernel (the named check functions
// exist and the ID is cited in kernel code), the tests (the named test
// functions exist and cite the ID), and the catalogue itself. It also refuses
// spec invariants that no requirement claims. It prints
//
//	trace: N requirements traced
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
)

type tree struct {
	root string
	// files by kind: "spec" (.tla), "cfg", "kernel" (non-test .go under kernel/), "test" (*_test.go)
	files map[string]map[string]string
}

func load(root string) (*tree, error) {
	t := &tree{root: root, files: map[string]map[string]string{"spec": {}, "cfg": {}, "kernel": {}, "test": {}}}
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
		kind := ""
		switch {
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
	if gaps := check(t, reqs); len(gaps) > 0 {
		for _, g := range gaps {
			fmt.Println("trace: MISSING", g)
		}
		fmt.Printf("trace: %d gap(s) in %d requirements\n", len(gaps), len(reqs))
		os.Exit(1)
	}
	fmt.Printf("trace: %d requirements traced\n", len(reqs))
}
