// Command conformance runs the requirement suite and writes the auditor's
// report (make conformance):
//
//   - the tests each requirement names, through the mock HAL (go test -json),
//     with every fuzz target's seed corpus and the rapid property tests;
//   - the exhaustive model check (cmd/model);
//   - the built firmware over its wire protocol (conformance/fwcheck): the
//     host binary, and the linux/arm64 board image under qemu-user;
//   - SHA-256 of every artefact, the Go toolchain and module versions, a
//     CycloneDX SBOM of the firmware (cyclonedx-gomod), date and commit;
//   - the dossier (conformance/threats.json, hazards.json, controls.json,
//     anomalies.json, components.json): every test a threat or hazard
//     names runs too (the adversarial suite and the end-to-end tests
//     among them), and the architecture diagrams are rendered from
//     docs/diagrams with Graphviz (dot -Tsvg).
//
// It writes OUT/report.md, OUT/report.html, OUT/report.pdf (printed from
// the HTML by headless Chromium) and OUT/diagrams/*.svg, prints
//
//	conformance: N requirements, P passed, F failed, U untested
//	dossier: T threats (…), H hazards (…)
//
// and exits 1 if a requirement, threat or hazard failed. In CI (CI=true) a
// missing dot or chromium is an error; elsewhere the diagrams or the PDF
// are skipped with a note.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/implantfhe/implantfhe/conformance"
	"github.com/implantfhe/implantfhe/conformance/fwcheck"
	"github.com/implantfhe/implantfhe/fhe"
)

// SBOMTool is the exact cyclonedx-gomod the report runs.
const SBOMTool = "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0"

type options struct {
	out, firmware string
	requireQEMU   bool
	requireTools  bool
	fuzzTime      time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.out, "out", "build/conformance", "output directory")
	flag.StringVar(&o.firmware, "firmware", "build/firmware", "directory of the built implant binaries (make firmware)")
	flag.BoolVar(&o.requireQEMU, "require-qemu", os.Getenv("CI") == "true", "fail if qemu-aarch64-static is missing (default: true in CI)")
	flag.DurationVar(&o.fuzzTime, "fuzztime", 0, "coverage-guided fuzzing per target on top of the seed corpora (0: corpora only)")
	flag.BoolVar(&o.requireTools, "require-tools", os.Getenv("CI") == "true", "fail if dot (graphviz) or chromium is missing (default: true in CI)")
	flag.Parse()
	sum, ds, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	fmt.Println(sum)
	fmt.Println(ds)
	if sum.Failed > 0 || ds.ThreatsFailed > 0 || ds.HazardsFailed > 0 {
		os.Exit(1)
	}
}

func run(o options) (conformance.Summary, conformance.DossierSummary, error) {
	var none conformance.Summary
	var noneD conformance.DossierSummary
	sum, err := report(o)
	if err != nil {
		return none, noneD, err
	}
	return sum.Summary(), sum.DossierSummary(), nil
}

func report(o options) (*conformance.Report, error) {
	var none *conformance.Report
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return none, err
	}
	reqs, err := conformance.LoadCatalogue("conformance")
	if err != nil {
		return none, err
	}
	dossier, err := conformance.LoadDossier("conformance")
	if err != nil {
		return none, err
	}
	rep := &conformance.Report{Generated: time.Now()}
	rep.Commit, rep.Dirty = gitState()
	rep.GoVersion = strings.TrimSpace(output("go", "env", "GOVERSION"))
	rep.Module = strings.TrimSpace(output("go", "list", "-m"))
	rep.Modules = firmwareModules()

	// (a) The kernels through the mock HAL: every named test, every fuzz
	// target's seed corpus, in one go test run.
	fmt.Println("conformance: running the named tests (requirements, threats, hazards) and fuzz seed corpora")
	testRun, err := runTests(reqs, dossier)
	if err != nil {
		return none, err
	}
	results := testRun.Results
	props := 0
	for name, r := range results {
		if strings.HasPrefix(name, "TestProp_") {
			props++
			if r.Action == "pass" {
				rep.PropertyPassed++
			}
		}
	}
	rep.PropertyTests, rep.RapidChecks = props, rapidChecks()
	rep.Fuzz, rep.FuzzTime = fuzzTargets(results)
	if o.fuzzTime > 0 {
		rep.FuzzDuration = o.fuzzTime
		rep.FuzzTime += fuzz(rep.Fuzz, o.fuzzTime)
	}

	fmt.Println("conformance: model check")
	rep.Model = modelCheck()

	// (b) The built firmware over its wire protocol.
	fw, arts, notes, err := firmwareChecks(o)
	if err != nil {
		return none, err
	}
	rep.Firmware, rep.Notes = fw, notes
	rep.Rows = conformance.Evaluate(reqs, results, fw, rep.Model)
	rep.FillDossier(dossier, results)
	rep.Suites = testRun.Summaries
	views, err := conformance.RenderViews(".", filepath.Join(o.out, "diagrams"))
	rep.Views = views
	switch {
	case errors.Is(err, conformance.ErrNoGraphviz) && !o.requireTools:
		rep.DiagramNote = "Diagrams skipped: Graphviz (dot) is not installed on the machine that built this report (Debian: graphviz)."
		fmt.Println("conformance: diagrams skipped: graphviz (dot) is not installed (Debian: apt-get install graphviz)")
	case err != nil:
		return none, err
	}

	sbom := filepath.Join(o.out, "sbom.cdx.json")
	if n, err := makeSBOM(sbom); err != nil {
		rep.Notes = append(rep.Notes, "SBOM not produced: "+err.Error())
	} else {
		rep.SBOM, rep.SBOMItems = sbom, n
		arts = append(arts, sbom)
	}
	cat, _ := filepath.Glob(filepath.Join("conformance", "requirements*.json"))
	for _, f := range []string{"threats.json", "hazards.json", "controls.json", "anomalies.json", "components.json"} {
		cat = append(cat, filepath.Join("conformance", f))
	}
	for _, p := range append(arts, cat...) {
		a, err := artefact(p)
		if err != nil {
			return none, err
		}
		rep.Artefacts = append(rep.Artefacts, a)
	}
	for _, w := range []struct {
		name  string
		write func(io.Writer) error
	}{{"report.md", rep.WriteMarkdown}, {"report.html", rep.WriteHTML}} {
		var b bytes.Buffer
		if err := w.write(&b); err != nil {
			return none, err
		}
		if err := os.WriteFile(filepath.Join(o.out, w.name), b.Bytes(), 0o644); err != nil {
			return none, err
		}
	}
	fmt.Printf("conformance: wrote %s and %s\n", filepath.Join(o.out, "report.md"), filepath.Join(o.out, "report.html"))
	pdf := filepath.Join(o.out, "report.pdf")
	chromium, err := conformance.Chromium()
	switch {
	case err != nil && !o.requireTools:
		fmt.Println("conformance: report.pdf skipped: chromium is not installed (Debian: apt-get install chromium)")
		_ = os.Remove(pdf)
	case err != nil:
		return none, err
	default:
		tmp, err := os.MkdirTemp("", "conformance-pdf-")
		if err != nil {
			return none, err
		}
		defer os.RemoveAll(tmp)
		if err := conformance.PrintPDF(context.Background(), chromium, filepath.Join(o.out, "report.html"), pdf, tmp); err != nil {
			return none, err
		}
		fmt.Printf("conformance: wrote %s\n", pdf)
	}
	return rep, nil
}

func output(name string, args ...string) string {
	b, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	return string(b)
}

func gitState() (string, bool) {
	commit := strings.TrimSpace(output("git", "rev-parse", "HEAD"))
	if commit == "" {
		commit = "unknown (not a git work tree)"
	}
	return commit, strings.TrimSpace(output("git", "status", "--porcelain", "--untracked-files=no")) != ""
}

// firmwareModules lists the modules linked into cmd/implant.
func firmwareModules() []conformance.Module {
	var mods []conformance.Module
	seen := map[string]bool{}
	for _, l := range strings.Split(output("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}} {{.Version}}{{end}}", "./cmd/implant"), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		m := conformance.Module{Path: f[0], Version: "(this module)"}
		if len(f) > 1 {
			m.Version = f[1]
		}
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	return mods
}

// runTests runs, in one go test run, every test a requirement, threat,
// hazard or anomaly names (a subtest "TestX/row" runs as part of TestX) and
// every fuzz target's seed corpus.
func runTests(reqs []conformance.Requirement, d *conformance.Dossier) (*conformance.TestRun, error) {
	names := map[string]bool{}
	add := func(t string) { names[regexp.QuoteMeta(strings.SplitN(t, "/", 2)[0])] = true }
	for _, r := range reqs {
		for _, t := range r.Tests {
			add(t)
		}
	}
	for _, th := range d.Threats {
		for _, t := range th.Tests {
			add(t)
		}
	}
	for _, h := range d.Hazards {
		for _, v := range h.Verification {
			if v.IsTest() {
				add(v.Ref)
			}
		}
	}
	for _, a := range d.Anomalies {
		for _, t := range a.Tests {
			add(t)
		}
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	pattern := "^(" + strings.Join(append(list, "Fuzz.*"), "|") + ")$"
	cmd := exec.Command("go", "test", "-count=1", "-json", "-run", pattern, "./...")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, err // go test could not run at all; a test failure is a result
	}
	return conformance.ParseTestRun(&out)
}

var rapidChecksRE = regexp.MustCompile(`flag\.Set\("rapid\.checks",\s*"(\d+)"\)`)

// rapidChecks reads the sequences per property test the tests set.
func rapidChecks() string {
	found := map[string]bool{}
	_ = filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() && (d.Name() == "build" || strings.HasPrefix(d.Name(), ".") && p != ".") {
			return fs.SkipDir
		}
		if strings.HasSuffix(p, "_test.go") {
			b, _ := os.ReadFile(p)
			for _, m := range rapidChecksRE.FindAllSubmatch(b, -1) {
				found[string(m[1])] = true
			}
		}
		return nil
	})
	if len(found) == 0 {
		return "100 (rapid's default)"
	}
	var v []string
	for k := range found {
		v = append(v, k)
	}
	sort.Strings(v)
	return strings.Join(v, " or ")
}

// fuzzTargets lists every testdata/fuzz/<Target> corpus with its size and
// the result of replaying it.
func fuzzTargets(results map[string]conformance.TestResult) ([]conformance.FuzzTarget, time.Duration) {
	var ts []conformance.FuzzTarget
	var total time.Duration
	dirs, _ := filepath.Glob(filepath.Join("*", "testdata", "fuzz", "*"))
	more, _ := filepath.Glob(filepath.Join("*", "*", "testdata", "fuzz", "*"))
	for _, d := range append(dirs, more...) {
		files, _ := os.ReadDir(d)
		t := conformance.FuzzTarget{Package: filepath.Dir(filepath.Dir(filepath.Dir(d))), Name: filepath.Base(d), CorpusFiles: len(files), Status: conformance.Untested}
		if r, ok := results[t.Name]; ok {
			total += r.Elapsed
			switch r.Action {
			case "pass":
				t.Status = conformance.Pass
			case "fail":
				t.Status = conformance.Fail
			}
		}
		ts = append(ts, t)
	}
	return ts, total
}

// fuzz runs coverage-guided fuzzing of each target for d.
func fuzz(ts []conformance.FuzzTarget, d time.Duration) time.Duration {
	start := time.Now()
	for i, t := range ts {
		cmd := exec.Command("go", "test", "./"+t.Package, "-run", "^$", "-fuzz", "^"+t.Name+"$", "-fuzztime", d.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			ts[i].Status = conformance.Fail
			fmt.Fprintf(os.Stderr, "conformance: fuzz %s %s: %v\n%s", t.Package, t.Name, err, out)
		}
	}
	return time.Since(start)
}

var modelRE = regexp.MustCompile(`^model (\S+): .*violations=(\d+)`)

func modelCheck() []conformance.ModelResult {
	cmd := exec.Command("go", "run", "./cmd/model")
	out, err := cmd.Output()
	var res []conformance.ModelResult
	for _, l := range strings.Split(string(out), "\n") {
		if m := modelRE.FindStringSubmatch(l); m != nil {
			res = append(res, conformance.ModelResult{Kernel: m[1], Line: l, Pass: err == nil && m[2] == "0"})
		}
	}
	if len(res) == 0 {
		res = append(res, conformance.ModelResult{Kernel: "all", Line: fmt.Sprintf("cmd/model produced no result: %v", err)})
	}
	return res
}

// firmwareChecks provisions production keys once and runs the scripted
// exchanges against the host binary and, under qemu-user, the arm64 image.
func firmwareChecks(o options) ([]conformance.FirmwareCheck, []string, []string, error) {
	var targets []fwcheck.Target
	var arts, notes []string
	host := filepath.Join(o.firmware, "implant-linux-"+runtime.GOARCH)
	if _, err := os.Stat(host); err != nil {
		return nil, nil, nil, fmt.Errorf("host firmware %s: %w (run make firmware)", host, err)
	}
	targets = append(targets, fwcheck.Target{Name: "linux/" + runtime.GOARCH + " (host)", Binary: host})
	arts = append(arts, host)
	arm64 := filepath.Join(o.firmware, "implant-linux-arm64")
	qemu, qerr := exec.LookPath("qemu-aarch64-static")
	_, aerr := os.Stat(arm64)
	switch {
	case qerr == nil && aerr == nil:
		targets = append(targets, fwcheck.Target{Name: "linux/arm64 under qemu", Binary: arm64, Emulator: qemu, StartTimeout: 3 * time.Minute})
		arts = append(arts, arm64)
	case o.requireQEMU:
		return nil, nil, nil, fmt.Errorf("the arm64 image cannot be checked: qemu: %v, image: %v", qerr, aerr)
	default:
		notes = append(notes, "the linux/arm64 image was not checked (qemu-aarch64-static or the image is missing)")
	}
	if armv7 := filepath.Join(o.firmware, "implant-linux-armv7"); fileExists(armv7) {
		arts = append(arts, armv7)
		notes = append(notes, "the linux/armv7 image is built and hashed but not run")
	}
	work, err := os.MkdirTemp("", "conformance-")
	if err != nil {
		return nil, nil, nil, err
	}
	defer os.RemoveAll(work)
	keys := filepath.Join(work, "keys")
	fmt.Printf("conformance: provisioning %s keys\n", fhe.ProdN14.Name)
	if err := fwcheck.Provision(keys, fhe.ProdN14); err != nil {
		return nil, nil, nil, err
	}
	var all []conformance.FirmwareCheck
	for i, t := range targets {
		fmt.Printf("conformance: firmware checks on %s\n", t.Name)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		checks, err := fwcheck.Run(ctx, t, keys, filepath.Join(work, fmt.Sprint("run", i)))
		cancel()
		for _, c := range checks {
			all = append(all, conformance.FirmwareCheck(c))
		}
		if err != nil {
			all = append(all, conformance.FirmwareCheck{Target: t.Name, Name: "scripted run", Expected: "completes", Got: "aborted", Detail: err.Error(),
				Requirements: []string{"CMD-AUTH", "CMD-REPLAY", "CMD-EXPIRY", "CMD-VERDICT", "PUMP-MAX-BOLUS"}})
		}
	}
	return all, arts, notes, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// makeSBOM runs cyclonedx-gomod (app mode, the firmware's main package, for
// the board's target) and returns the number of components.
func makeSBOM(path string) (int, error) {
	// Built for the host first: `go run` with the target's GOARCH would
	// build the tool for the board.
	bin, err := os.MkdirTemp("", "cyclonedx-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(bin)
	install := exec.Command("go", "install", SBOMTool)
	install.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := install.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go install %s: %v: %s", SBOMTool, err, lastLines(string(out), 3))
	}
	cmd := exec.Command(filepath.Join(bin, "cyclonedx-gomod"), "app", "-json", "-licenses=false", "-output", path, "-main", "cmd/implant", ".")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, lastLines(string(out), 3))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Components []json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, fmt.Errorf("SBOM %s: %w", path, err)
	}
	return len(doc.Components), nil
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

// lastLines is the last n lines of a tool's output, without terminal
// colour codes (cyclonedx-gomod colours its log).
func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(ansiRE.ReplaceAllString(s, "")), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " / ")
}

func artefact(p string) (conformance.Artefact, error) {
	f, err := os.Open(p)
	if err != nil {
		return conformance.Artefact{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return conformance.Artefact{}, err
	}
	return conformance.Artefact{Path: filepath.ToSlash(p), Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
