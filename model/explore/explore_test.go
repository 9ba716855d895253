package explore

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counter is a toy system: a value 0..n that can be incremented or reset;
// reaching bad is a violation.
type counter struct{ n, bad int }

func (c counter) Initial() []int   { return []int{0, 0} }
func (c counter) Key(s int) string { return fmt.Sprint(s) }
func (c counter) Successors(s int) []Step[int] {
	var out []Step[int]
	if s < c.n {
		st := Step[int]{Label: fmt.Sprintf("inc to %d", s+1), Next: s + 1}
		if s+1 == c.bad {
			st.Violations = []string{"BAD: reached"}
		}
		out = append(out, st)
	}
	return append(out, Step[int]{Label: "reset", Next: 0})
}

func TestRunCountsStatesAndTransitions(t *testing.T) {
	res, err := Run[int](counter{n: 5, bad: -1}, Options{})
	require.NoError(t, err)
	assert.Equal(t, 6, res.States, "duplicate initial states are merged")
	assert.Equal(t, 11, res.Transitions)
	assert.Zero(t, res.Violations)
	assert.Nil(t, res.First)
}

func TestRunReturnsTheShortestCounterexample(t *testing.T) {
	res, err := Run[int](counter{n: 5, bad: 3}, Options{})
	require.NoError(t, err)
	require.NotNil(t, res.First)
	assert.Equal(t, "BAD: reached", res.First.Violation)
	assert.Equal(t, []string{"inc to 1", "inc to 2", "inc to 3"}, res.First.Trace)
	assert.Contains(t, res.First.String(), "3. inc to 3")
}

func TestRunStopsAtTheStateBound(t *testing.T) {
	_, err := Run[int](counter{n: 100, bad: -1}, Options{MaxStates: 10})
	assert.Error(t, err)
}
