package fwcheck

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/internal/scenario"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// build compiles cmd/implant for goarch with test-only FHE parameters
// allowed (the test provisions TestOnlyN11 keys to stay fast).
func build(t *testing.T, goarch string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "implant-"+goarch)
	cmd := exec.Command("go", "build", "-tags", "fhe_testonly", "-trimpath", "-o", bin, "./cmd/implant")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build implant for %s: %s", goarch, out)
	return bin
}

func runChecks(t *testing.T, target Target) {
	t.Helper()
	keys := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, Provision(keys, fhe.TestOnlyN11))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	checks, err := Run(ctx, target, keys, t.TempDir())
	require.NoError(t, err)
	steps, err := scenario.Parse(scenario.Commands)
	require.NoError(t, err)
	// The self-test, every row of the shared command scenario, three updates.
	require.Len(t, checks, 1+len(steps)+3, "every scripted exchange ran")
	for _, c := range checks {
		assert.True(t, c.Pass, "%s: expected %q, got %q (%s)", c.Name, c.Expected, c.Got, c.Detail)
		t.Logf("%-55s %-40s %s", c.Name, c.Got, c.Detail)
	}
}

// TestHostFirmwareDecidesEachRequirementClass runs every scripted exchange
// against the implant built for the host.
func TestHostFirmwareDecidesEachRequirementClass(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the implant is a Linux program")
	}
	runChecks(t, Target{Name: "host", Binary: build(t, runtime.GOARCH)})
}

// TestFirmwareUnderQEMU is the board image's smoke test: the linux/arm64
// implant runs under qemu-user, passes its self-test and decides signed
// commands delivered over its radio link. Outside CI it skips when
// qemu-aarch64-static is absent; in CI (CI=true) that is a failure.
func TestFirmwareUnderQEMU(t *testing.T) {
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("qemu-aarch64-static is not installed (Debian: qemu-user-static; .ci/extra.sh installs it)")
		}
		t.Skip("qemu-aarch64-static not installed")
	}
	runChecks(t, Target{Name: "linux/arm64 under qemu", Binary: build(t, "arm64"), Emulator: qemu, StartTimeout: 2 * time.Minute})
}
