package conformance

import (
	"bytes"
	"context"
	"errors"
	htmltemplate "html/template"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func req(id string, tests ...string) Requirement {
	r := Requirement{ID: id, Text: "text of " + id, Source: "src", Tests: tests, Method: "exhaustive model check (model/pump) + unit test"}
	r.Spec.Module, r.Spec.Invariant = "InsulinPump", "Inv_"+id
	return r
}

func TestEvaluateJudgesEachRequirementByItsEvidence(t *testing.T) {
	results := map[string]TestResult{
		"TestA": {Name: "TestA", Package: "p", Action: "pass"},
		"TestB": {Name: "TestB", Package: "p", Action: "fail"},
		"TestS": {Name: "TestS", Package: "p", Action: "skip"},
	}
	fw := []FirmwareCheck{{Target: "host", Name: "replay", Requirements: []string{"R-FW-BAD"}, Expected: "refused", Got: "executed"}}
	tests := []struct {
		name  string
		req   Requirement
		model []ModelResult
		want  Status
	}{
		{"all named tests pass", req("R1", "TestA"), nil, Pass},
		{"one named test fails", req("R2", "TestA", "TestB"), nil, Fail},
		{"a named test did not run", req("R3", "TestA", "TestMissing"), nil, Untested},
		{"a named test skipped", req("R4", "TestS"), nil, Untested},
		{"no evidence at all", req("R5"), nil, Untested},
		{"a firmware check fails", req("R-FW-BAD", "TestA"), nil, Fail},
		{"the model check fails", req("R6", "TestA"), []ModelResult{{Kernel: "pump", Pass: false}}, Fail},
		{"the model check of another kernel", req("R7", "TestA"), []ModelResult{{Kernel: "pacer", Pass: false}}, Pass},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := Evaluate([]Requirement{tc.req}, results, fw, tc.model)
			require.Len(t, rows, 1)
			assert.Equal(t, tc.want, rows[0].Status)
		})
	}
}

func TestEvaluateListsFailedAndUntestedFirst(t *testing.T) {
	results := map[string]TestResult{"TestA": {Action: "pass"}, "TestB": {Action: "fail"}}
	rows := Evaluate([]Requirement{req("P1", "TestA"), req("U1"), req("F1", "TestB"), req("P2", "TestA")}, results, nil, nil)
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"F1", "U1", "P1", "P2"}, ids)
	assert.Equal(t, "conformance: 4 requirements, 2 passed, 1 failed, 1 untested", Summarise(rows).String())
}

func TestParseTestJSONKeepsTopLevelResults(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"a","Test":"TestX"}`,
		`{"Action":"pass","Package":"a","Test":"TestX/sub","Elapsed":0.1}`,
		`{"Action":"pass","Package":"a","Test":"TestX","Elapsed":0.5}`,
		`{"Action":"fail","Package":"b","Test":"TestY","Elapsed":1}`,
		`{"Action":"pass","Package":"c","Test":"TestY","Elapsed":1}`,
		`# a build error line`,
		`{"Action":"pass","Package":"a","Elapsed":2}`,
	}, "\n")
	res, err := ParseTestJSON(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, "pass", res["TestX"].Action)
	assert.Equal(t, 500*time.Millisecond, res["TestX"].Elapsed)
	assert.Equal(t, "fail", res["TestY"].Action, "the worst result of a name wins")
}

func TestCatalogueLoads(t *testing.T) {
	reqs, err := LoadCatalogue(".")
	require.NoError(t, err)
	require.NotEmpty(t, reqs)
	for _, r := range reqs {
		assert.NotEmpty(t, r.Text, r.ID)
		assert.NotEmpty(t, r.Tests, r.ID)
	}
	dir := t.TempDir()
	b := []byte(`[{"id":"X-1","text":"t"}]`)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "requirements.json"), b, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "requirements_more.json"), b, 0o600))
	_, err = LoadCatalogue(dir)
	require.ErrorIs(t, err, ErrCatalogue)
}

func fixture() *Report {
	results := map[string]TestResult{"TestA": {Name: "TestA", Package: "kernel/pump", Action: "pass", Elapsed: time.Second}}
	reqs := []Requirement{req("PUMP-X", "TestA"), req("CMD-Y", "TestA"), req("PUMP-<Z>", "TestGone")}
	fw := []FirmwareCheck{{Target: "linux/arm64 under qemu", Name: "replay", Requirements: []string{"CMD-Y"}, Expected: "refused by implant", Got: "refused by implant", Pass: true}}
	return &Report{Generated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Commit: "abc123", GoVersion: "go1.26", Module: "m",
		Rows:     Evaluate(reqs, results, fw, []ModelResult{{Kernel: "pump", Line: "model pump: states=1 violations=0", Pass: true}}),
		Firmware: fw, Model: []ModelResult{{Kernel: "pump", Line: "model pump: states=1 violations=0", Pass: true}},
		Fuzz:      []FuzzTarget{{Package: "wire", Name: "FuzzDecode", CorpusFiles: 3, Status: Pass}},
		Artefacts: []Artefact{{Path: "build/firmware/implant-linux-arm64", Bytes: 10, SHA256: "00ff"}},
		Modules:   []Module{{"github.com/x/y", "v1.0.0"}}, RapidChecks: "1000"}
}

// dossierFixture is a report over the real catalogue and dossier, every
// named test passed, so that the renderings carry every real ID.
func dossierFixture(t *testing.T) *Report {
	reqs, err := LoadCatalogue(".")
	require.NoError(t, err)
	d, err := LoadDossier(".")
	require.NoError(t, err)
	results := map[string]TestResult{}
	pass := func(n string) {
		results[n] = TestResult{Name: n, Package: "github.com/implantfhe/implantfhe/x", Action: "pass"}
	}
	for _, r := range reqs {
		for _, n := range r.Tests {
			pass(n)
		}
	}
	for _, th := range d.Threats {
		for _, n := range th.Tests {
			pass(n)
		}
	}
	for _, h := range d.Hazards {
		for _, v := range h.Verification {
			pass(v.Ref)
		}
	}
	rep := fixture()
	rep.Rows = Evaluate(reqs, results, rep.Firmware, rep.Model)
	rep.Views = append([]View(nil), viewText...)
	rep.Suites = []string{"attack: 3 rows, 2 passed, 0 failed, 1 known-open"}
	rep.FillDossier(d, results)
	return rep
}

func TestDossierLoadsAndEvaluates(t *testing.T) {
	rep := dossierFixture(t)
	require.NotEmpty(t, rep.Threats)
	require.NotEmpty(t, rep.Hazards)
	require.Len(t, rep.Controls, 8, "the FDA guidance's eight control categories")
	s := rep.DossierSummary()
	assert.Equal(t, len(rep.Threats), s.ThreatsPassed)
	assert.Zero(t, s.HazardsFailed)
	assert.NotEmpty(t, rep.Lifecycle)
	var md, h bytes.Buffer
	require.NoError(t, rep.WriteMarkdown(&md))
	require.NoError(t, rep.WriteHTML(&h))
	for _, out := range []struct {
		text   string
		escape func(string) string
	}{{md.String(), func(s string) string { return s }}, {h.String(), htmltemplate.HTMLEscapeString}} {
		assert.NotContains(t, out.text, "{THR-", "a struct printed instead of a field")
		assert.NotContains(t, out.text, "{HAZ-", "a struct printed instead of a field")
		assert.NotContains(t, out.text, "%!", "a formatting error")
		for _, th := range rep.Threats {
			assert.Contains(t, out.text, th.ID)
			assert.Contains(t, out.text, out.escape(th.Title))
		}
		for _, hz := range rep.Hazards {
			assert.Contains(t, out.text, hz.ID)
			assert.Contains(t, out.text, out.escape(hz.Name))
		}
	}
	assert.Contains(t, h.String(), htmltemplate.HTMLEscapeString(rep.Threats[0].Description))

	dir := t.TempDir()
	for _, f := range []string{"threats.json", "hazards.json", "controls.json", "anomalies.json", "components.json"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "anomalies.json"), []byte(`[{"id":"THR-RADIO-REPLAY","risk":"r"}]`), 0o600))
	_, err := LoadDossier(dir)
	require.ErrorIs(t, err, ErrCatalogue, "an ID used by a threat and an anomaly")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "anomalies.json"), []byte(`[{"id":"A","surprise":1}]`), 0o600))
	_, err = LoadDossier(dir)
	require.ErrorIs(t, err, ErrCatalogue, "an unknown field")
}

func TestThreatWithAKnownOpenTestIsOpen(t *testing.T) {
	d := &Dossier{Threats: []Threat{{ID: "THR-X", Tests: []string{"TestAttack/slow/body", "TestA"}}, {ID: "THR-Y", Tests: []string{"TestA"}}}}
	results := map[string]TestResult{"TestA": {Action: "pass"}, "TestAttack/slow/body": {Action: "pass", KnownOpen: true}}
	threats, _, _ := EvaluateDossier(d, nil, results, nil, nil)
	require.Len(t, threats, 2)
	assert.Equal(t, "THR-X", threats[0].ID, "open before passed")
	assert.Equal(t, Open, threats[0].Result)
	assert.Equal(t, Pass, threats[1].Result)
}

func TestParseTestRunKeepsSubtestsKnownOpenAndSummaries(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"output","Package":"m/attack","Test":"TestAttack/slow/body","Output":"    attack_test.go:1: KNOWN OPEN (does not fail the run): x\n"}`,
		`{"Action":"pass","Package":"m/attack","Test":"TestAttack/slow/body","Elapsed":1}`,
		`{"Action":"pass","Package":"m/attack","Test":"TestAttack/replay/x","Elapsed":1}`,
		`{"Action":"pass","Package":"m/attack","Test":"TestAttack","Elapsed":2}`,
		`{"Action":"output","Package":"m/attack","Output":"attack: 2 rows, 1 passed, 0 failed, 1 known-open\n"}`,
	}, "\n")
	run, err := ParseTestRun(strings.NewReader(in))
	require.NoError(t, err)
	assert.True(t, run.Results["TestAttack/slow/body"].KnownOpen)
	assert.False(t, run.Results["TestAttack/replay/x"].KnownOpen)
	assert.Equal(t, "pass", run.Results["TestAttack"].Action)
	assert.Equal(t, []string{"attack: 2 rows, 1 passed, 0 failed, 1 known-open"}, run.Summaries)
}

func TestCheckLinksFindsEveryMissingLink(t *testing.T) {
	reqs := []Requirement{req("R-1", "TestA"), req("R-2", "TestA"), {ID: "SEC-1", Layer: "system", Code: []string{"nowhere"}, Tests: []string{"TestGone"}}}
	d := &Dossier{
		Threats: []Threat{{ID: "THR-1", Boundary: "b", STRIDE: []string{"S", "Q"}, Assets: []string{"therapy", "money"}, Status: "partial",
			Requirements: []string{"R-1", "R-9", "SEC-1"}, Tests: []string{"TestA", "TestMissing", "TestAttack/row/gone"}}},
		Hazards: []Hazard{{ID: "HAZ-1", Device: "pump", Name: "h", Harm: "x", Severity: "s", Causes: []Cause{{"software", "c"}},
			Requirements: []string{"R-1"}, Verification: []Verification{{"spec", "M.Inv_NONE"}, {"model", "model/none"}, {"conformance", "no such exchange"}, {"unit", "TestNone"}}}},
		Anomalies: []Anomaly{{ID: "ANOM-1", Threats: []string{"THR-9"}}},
	}
	k := Known{Tests: map[string]bool{"TestA": true, "TestAttack": true}, Subtest: func(top, sub string) bool { return sub == "row/here" },
		Invariants: map[string]bool{}, Models: map[string]bool{}, Exchanges: map[string]bool{}, Packages: map[string]bool{}}
	gaps := strings.Join(CheckLinks(reqs, d, k), "\n")
	for _, want := range []string{
		"THR-1: STRIDE category \"Q\"", "THR-1: asset \"money\"", "THR-1: requirement R-9 not in the catalogue",
		"THR-1: test TestMissing not found", "THR-1: test TestAttack/row/gone not found", "THR-1: status partial without a residual risk",
		"HAZ-1: spec verification M.Inv_NONE not found", "HAZ-1: model verification model/none not found",
		"HAZ-1: conformance verification no such exchange not found", "HAZ-1: unit verification TestNone not found",
		"R-2: no hazard or threat names this requirement", "SEC-1: package nowhere not found", "SEC-1: test TestGone not found",
		"ANOM-1: anomaly without a risk assessment", "ANOM-1: threat THR-9 not in threats.json",
	} {
		assert.Contains(t, gaps, want)
	}
	assert.NotContains(t, gaps, "R-1: no hazard")
	assert.True(t, k.TestExists("TestAttack/row/here"))
}

func TestMarkdownHasTheMatrixWithUntestedFirst(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, fixture().WriteMarkdown(&b))
	md := b.String()
	assert.Contains(t, md, "conformance: 3 requirements, 2 passed, 0 failed, 1 untested")
	assert.Less(t, strings.Index(md, "| PUMP-<Z> |"), strings.Index(md, "| PUMP-X |"), "untested before passed")
	assert.Contains(t, md, "`00ff`")
}

func TestHTMLIsStaticAndEscaped(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, fixture().WriteHTML(&b))
	h := b.String()
	assert.NotContains(t, strings.ToLower(h), "<script")
	assert.Contains(t, h, "PUMP-&lt;Z&gt;")
}

// chromium finds the headless browser: skipped outside CI when absent, a
// failure in CI (CI=true), where .ci/extra.sh installs Debian's chromium.
func chromium(t *testing.T) string {
	p, err := Chromium()
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	t.Skip("chromium not installed")
	return ""
}

// TestReportRendersInChromium renders report.html (over the real catalogue
// and dossier) in headless Chromium and prints it to PDF, as make
// conformance does. The rendered DOM must carry the summary line and every
// requirement, threat and hazard ID in a cell that does not wrap; the PDF's
// text (pdftotext, Debian's poppler-utils) must carry every ID too, each on
// one line.
func TestReportRendersInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	rep := dossierFixture(t)
	var b bytes.Buffer
	require.NoError(t, rep.WriteHTML(&b))
	require.NoError(t, os.WriteFile(page, b.Bytes(), 0o600))
	ctx := context.Background()
	dom, err := DumpDOM(ctx, bin, page, dir)
	require.NoError(t, err)
	assert.Contains(t, dom, `<p id="summary">`+rep.Summary().String()+`</p>`)
	assert.Contains(t, dom, `white-space: nowrap`)
	esc := strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace
	var ids []string
	for _, r := range rep.Rows {
		assert.Contains(t, dom, `<td class="id"><code>`+esc(r.ID)+`</code></td>`, r.ID)
		ids = append(ids, r.ID)
	}
	for _, th := range rep.Threats {
		assert.Contains(t, dom, `<td class="id"><code>`+th.ID+`</code></td>`, th.ID)
		ids = append(ids, th.ID)
	}
	for _, h := range rep.Hazards {
		assert.Contains(t, dom, `<td class="id"><code>`+h.ID+`</code></td>`, h.ID)
		ids = append(ids, h.ID)
	}
	assert.Contains(t, dom, "build/firmware/implant-linux-arm64")

	pdf := filepath.Join(dir, "report.pdf")
	require.NoError(t, PrintPDF(ctx, bin, page, pdf, dir))
	text := pdfText(t, pdf)
	if text == "" {
		return
	}
	// pdftotext keeps table cells' lines: an ID that wrapped inside its
	// cell would be cut across two lines and not be found whole.
	for _, id := range ids {
		assert.Contains(t, text, id, "ID %s in the PDF", id)
	}
}

// pdfText is the PDF's text by pdftotext; "" (and the test goes on without
// it) outside CI when poppler-utils is absent.
func pdfText(t *testing.T, pdf string) string {
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pdftotext is not installed (Debian: poppler-utils; .ci/extra.sh installs it)")
		}
		t.Log("pdftotext not installed: PDF size and Chromium's exit status checked only")
		return ""
	}
	out, err := exec.Command(bin, "-layout", pdf, "-").Output()
	require.NoError(t, err)
	return string(out)
}

// TestViewsRenderWithGraphviz renders every architecture view from
// docs/diagrams with dot: skipped outside CI when graphviz is absent.
func TestViewsRenderWithGraphviz(t *testing.T) {
	dir := t.TempDir()
	views, err := RenderViews("..", dir)
	if errors.Is(err, ErrNoGraphviz) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	require.NoError(t, err)
	require.Len(t, views, 4)
	for _, v := range views {
		assert.True(t, strings.HasPrefix(string(v.SVG), "<svg"), v.ID)
		assert.FileExists(t, filepath.Join(dir, v.ID+".svg"))
	}
}
