package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/conformance/fwcheck"
	"github.com/implantfhe/implantfhe/fhe"
)

// TestScenarioSurvivesARestartBeforeEveryStep runs the command-path
// scenario (internal/scenario: the rows the demo and the conformance checks
// run) against the built implant, killing and restarting its process before
// every step: every outcome is the one the scenario expects, so no decision
// (a consumed counter, a delivered bolus, a refusal) depends on the process
// staying up.
func TestScenarioSurvivesARestartBeforeEveryStep(t *testing.T) {
	tmp := t.TempDir()
	keys := filepath.Join(tmp, "keys")
	require.NoError(t, fwcheck.Provision(keys, fhe.TestOnlyN11))
	bin := buildImplant(t, tmp)
	res, err := fwcheck.Scenario(context.Background(), fwcheck.Target{Name: "host", Binary: bin}, keys, tmp, true)
	require.NoError(t, err)
	require.NotEmpty(t, res)
	for _, r := range res {
		t.Logf("%-55s %-40s %s", r.Name, r.Got, r.Detail)
		require.True(t, r.Pass, "%s: expected %q, got %q (%s)", r.Name, r.Expect, r.Got, r.Detail)
	}
}
