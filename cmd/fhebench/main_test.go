package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProductionBinaryRefusesTestOnlySet builds fhebench without the
// fhe_testonly tag and checks that asking for a test-only set fails.
func TestProductionBinaryRefusesTestOnlySet(t *testing.T) {
	if testing.Short() {
		t.Log("runs in short mode too: it only builds and starts the binary")
	}
	bin := t.TempDir() + "/fhebench"
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	out, err = exec.Command(bin, "-set", "TestOnlyN11", "-runs", "3").CombinedOutput()
	require.Error(t, err, "a production build must refuse a test-only set")
	assert.True(t, strings.Contains(string(out), "test-only parameter set refused"), string(out))
}
