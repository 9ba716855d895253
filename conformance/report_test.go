package conformance

import (
	"bytes"
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
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (Debian: chromium; .ci/extra.sh installs it)")
	}
	t.Skip("chromium not installed")
	return ""
}

// TestReportRendersInChromium renders report.html in headless Chromium and
// checks the rendered DOM: the summary line and every requirement ID.
func TestReportRendersInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	require.NoError(t, err)
	rep := fixture()
	require.NoError(t, rep.WriteHTML(f))
	require.NoError(t, f.Close())
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--dump-dom", "file://"+page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", stderr.String())
	assert.Contains(t, string(dom), `<p id="summary">`+rep.Summary().String()+`</p>`)
	for _, r := range rep.Rows {
		assert.Contains(t, string(dom), `<td><code>`+strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(r.ID)+`</code></td>`, r.ID)
	}
	assert.Contains(t, string(dom), "build/firmware/implant-linux-arm64")
}
