package pump

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// TestShortHorizonModelCheckIsClean runs the exhaustive check over a shorter
// horizon in-process (the full horizon runs in `make model`).
func TestShortHorizonModelCheckIsClean(t *testing.T) {
	m := New()
	m.Horizon = 20 * units.Minute
	m.Switches = map[reason.Code]int{}
	m.Reached = map[reason.Code]int{}
	res, err := Check(m)
	require.NoError(t, err)
	assert.Zero(t, res.Violations, "counterexample: %v", res.First)
	assert.Greater(t, res.States, 1000, "the model explores a real state space")
	// CMD-COUNTER-STEP is checked on refused jumps.
	assert.Positive(t, m.Reached[reason.CounterJump], "no counter-jump refusal (reached %v)", m.Reached)
	// PUMP-UPDATE-SWITCH is checked on grants and on every kind of refusal.
	for _, r := range []reason.Code{reason.OK, reason.SwitchBolusInProgress, reason.SwitchDurationOutOfRange, reason.Faulted} {
		assert.Positive(t, m.Switches[r], "no switch answer %s (answers: %v)", r, m.Switches)
	}
}

// TestModelCheckFindsPlantedBug shows the checker bites: the kernel built with
// the plantbug tag forgets the oldest bucket of the rolling window
// (PUMP-DAILY-MAX off by one), and the model check must print a
// counterexample for PUMP-DAILY-MAX and exit 1.
func TestModelCheckFindsPlantedBug(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go tool is needed to build the planted-bug kernel: %v", err)
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "run", "-tags", "plantbug", "./cmd/model", "-kernel=pump")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "model check of the planted bug must fail; output:\n%s", out)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, string(out), "violation PUMP-DAILY-MAX")
	assert.Regexp(t, `violations=[1-9]`, string(out))
	assert.True(t, strings.Contains(string(out), "bolus"), "the counterexample is a readable trace:\n%s", out)
}

// TestAccountingDomainReachesEveryDeliveryLimit: the second domain makes
// PUMP-BOLUS-INTERVAL, PUMP-MAX-IOB and PUMP-DAILY-MAX refuse something, so
// their invariants are checked on states where the limits bind.
func TestAccountingDomainReachesEveryDeliveryLimit(t *testing.T) {
	m := NewAccounting()
	m.Reached = map[reason.Code]int{}
	res, err := Check(m)
	require.NoError(t, err)
	assert.Zero(t, res.Violations, "counterexample: %v", res.First)
	for _, r := range []reason.Code{reason.BolusTooSoon, reason.IOBOverMax, reason.DailyOverMax, reason.OK} {
		assert.Positive(t, m.Reached[r], "the accounting domain never produced %s (reached %v)", r, m.Reached)
	}
	t.Logf("states=%d transitions=%d reached=%v", res.States, res.Transitions, m.Reached)
}

// TestCounterStepInputs: CMD-COUNTER-STEP is in the domain. From power-on,
// the command at exactly the step above the last counter is admitted (its
// counter consumed), the one a step and one above is refused as a jump and
// consumes nothing, and the observer finds no violation in either.
func TestCounterStepInputs(t *testing.T) {
	m := New()
	s := m.Initial()[0]
	cases := []struct {
		label    string
		wantLast uint64
	}{
		{"t=0min bolus 19 counter=last+step verdict=within", guard.MaxCounterStep},
		{"t=0min JUMP bolus 19 counter=last+step+1 verdict=within", 0},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			var found bool
			for _, in := range m.Inputs(s) {
				if in.Label != tc.label {
					continue
				}
				found = true
				nxt, vs := m.Apply(s, in.In)
				assert.Empty(t, vs)
				assert.Equal(t, tc.wantLast, nxt.K.Guard.LastCounter)
				assert.Equal(t, tc.wantLast, nxt.G.MaxSignedCounter, "the observer tracks the consumed counter")
			}
			assert.True(t, found, "the domain offers %q", tc.label)
		})
	}
}
