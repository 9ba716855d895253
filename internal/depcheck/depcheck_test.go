// Package depcheck holds the dependency rule of the trust boundaries as a
// test: the untrusted relay and the clinician's side link no implant code,
// and the implant links neither the relay's log nor the model checker.
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/implantfhe/implantfhe/"

var rules = []struct {
	pkgs      []string
	forbidden []string
	why       string
}{
	{[]string{"cmd/relay", "cmd/ifhe", "relay", "controller"},
		[]string{"firmware", "hal", "implog", "kernel/pump", "kernel/pacer", "model"},
		"the relay and the clinic link only the protocol, wire, fhe and log packages, never implant code"},
	{[]string{"cmd/implant"}, []string{"tlog", "model", "provision"},
		"the implant links neither the relay's Merkle log, the model checker nor key generation"},
}

func deps(t *testing.T, pkg string) []string {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", mod+pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

func TestDependencyRule(t *testing.T) {
	for _, r := range rules {
		for _, p := range r.pkgs {
			for _, d := range deps(t, p) {
				for _, f := range r.forbidden {
					if d == mod+f || strings.HasPrefix(d, mod+f+"/") {
						t.Errorf("%s links %s: %s", p, strings.TrimPrefix(d, mod), r.why)
					}
				}
			}
		}
	}
}

// TestRuleCanFail: the check sees a forbidden link where one exists.
func TestRuleCanFail(t *testing.T) {
	found := false
	for _, d := range deps(t, "firmware") {
		found = found || d == mod+"hal"
	}
	if !found {
		t.Fatal("firmware's dependencies do not include hal: the check reads nothing")
	}
}
