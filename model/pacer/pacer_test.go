package pacer

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/model/pacerinv"
)

// TestModelCheckIsClean runs the exhaustive check of the reduced domain
// in-process (the full domain runs in `make model`, cmd/model -kernel=pacer).
// It checks every PACE-* and CMD-* invariant of pacerinv on every transition,
// with slot switches granted (and their blackouts simulated) and refused.
func TestModelCheckIsClean(t *testing.T) {
	m := New()
	m.Full = false
	m.Switches = map[reason.Code]int{}
	start := time.Now()
	res, err := Check(m)
	require.NoError(t, err)
	assert.Zero(t, res.Violations, "counterexample: %v", res.First)
	assert.Greater(t, res.States, 5000, "the model explores a real state space")
	for _, r := range []reason.Code{reason.OK, reason.SwitchEscapeDeadline, reason.Faulted} {
		assert.Positive(t, m.Switches[r], "no switch answer %s (answers: %v)", r, m.Switches)
	}
	t.Logf("model pacer (reduced): states=%d transitions=%d invariants=%d violations=%d time=%s",
		res.States, res.Transitions, len(pacerinv.IDs), res.Violations, time.Since(start).Round(time.Millisecond))
}

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestModelCheckFindsPlantedBug shows the checker bites: built with the
// plantbug tag, the kernel's DDD upper-rate tracking paces one model step
// (10 ms) early, and the model check must report PACE-URL.
func TestModelCheckFindsPlantedBug(t *testing.T) {
	cmd := exec.Command("go", "test", "-count=1", "-tags", "plantbug", "-run", "^TestPlantedURLBugIsFound$", "-v", "./model/pacer")
	cmd.Dir = root()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "--- PASS: TestPlantedURLBugIsFound", "%s", out)
	assert.Contains(t, string(out), "violation PACE-URL")
}

// TestCLIFindsPlantedBug is the cmd/model contract: with the planted bug,
// `go run -tags plantbug ./cmd/model -kernel=pacer` exits 1 and prints the
// PACE-URL counterexample.
func TestCLIFindsPlantedBug(t *testing.T) {
	cmd := exec.Command("go", "run", "-tags", "plantbug", "./cmd/model", "-kernel=pacer")
	cmd.Dir = root()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "model check of the planted bug must fail; output:\n%s", out)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, string(out), "violation PACE-URL")
	assert.Regexp(t, `violations=[1-9]`, string(out))
	assert.Contains(t, string(out), "sense A", "the counterexample is a readable trace")
}

// TestModelCheckFindsPlantedSwitchBug shows the checker bites on
// PACE-UPDATE-SWITCH: built with the plantswitch tag, the kernel grants a
// slot switch one ms too late, and the model check must report it, both as
// PACE-UPDATE-SWITCH and, through the simulated blackout, as PACE-LRL.
func TestModelCheckFindsPlantedSwitchBug(t *testing.T) {
	cmd := exec.Command("go", "test", "-count=1", "-tags", "plantswitch", "-run", "^TestPlantedSwitchBugIsFound$", "-v", "./model/pacer")
	cmd.Dir = root()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "--- PASS: TestPlantedSwitchBugIsFound", "%s", out)
	assert.Contains(t, string(out), "violation PACE-UPDATE-SWITCH")
	assert.Contains(t, string(out), "violation PACE-LRL")
}

// TestCounterStepInputs: CMD-COUNTER-STEP is in the domain. From power-on,
// the command at exactly the step above the last counter is admitted (its
// counter consumed), the one a step and one above is refused as a jump and
// consumes nothing, and the observer finds no violation in either.
func TestCounterStepInputs(t *testing.T) {
	m := New()
	s := m.Initial()[0]
	cases := []struct {
		prefix   string
		wantLast uint64
	}{
		{"program VVI 150/175 counter=last+step", guard.MaxCounterStep},
		{"JUMP program VVI counter=last+step+1", 0},
	}
	for _, tc := range cases {
		t.Run(tc.prefix, func(t *testing.T) {
			found := 0
			for _, in := range m.Inputs(s) {
				if !strings.Contains(in.Label, tc.prefix) {
					continue
				}
				found++
				nxt, vs := m.Apply(s, in.In)
				assert.Empty(t, vs)
				assert.Equal(t, tc.wantLast, nxt.K.Guard.LastCounter)
				assert.Equal(t, tc.wantLast, nxt.G.MaxSignedCounter, "the observer tracks the consumed counter")
			}
			assert.Equal(t, 1, found, "the domain offers one %q", tc.prefix)
		})
	}
}
