package heart

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/kernel/units"
)

// TestClosedLoop24h runs every scenario for 24 simulated hours and checks
// PACE-LRL (no ventricular interval longer than 60000/LRL ms) and PACE-URL
// (no interval ending in a ventricular pace shorter than 60000/URL ms).
// Intrinsic beats may come faster than the upper rate: the pacemaker cannot
// prevent them, so PACE-URL bounds paced intervals only.
func TestClosedLoop24h(t *testing.T) {
	for _, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			res, err := Simulate(sc, units.Day)
			require.NoError(t, err)
			t.Log(res.String())
			require.Greater(t, res.VEvents, 24*60*30, "a day of heartbeats")
			assert.LessOrEqual(t, res.MaxIntervalMs, res.LRIMs, "PACE-LRL")
			if res.HavePaced {
				assert.GreaterOrEqual(t, res.MinPacedIntervalMs, res.URIMs, "PACE-URL")
			}
		})
	}
}

// TestSimulationIsDeterministic: same scenario and seed, same result.
func TestSimulationIsDeterministic(t *testing.T) {
	sc := Scenarios()[4]
	a, err := Simulate(sc, units.Hour)
	require.NoError(t, err)
	b, err := Simulate(sc, units.Hour)
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

// TestScenariosExerciseThePacer: bradycardia and block are paced, normal
// sinus rhythm is mostly not.
func TestScenariosExerciseThePacer(t *testing.T) {
	byName := map[string]Result{}
	for _, sc := range Scenarios() {
		res, err := Simulate(sc, units.Hour)
		require.NoError(t, err)
		byName[sc.Name] = res
	}
	assert.Greater(t, byName["sinus-bradycardia"].APaces, byName["sinus-bradycardia"].VEvents/2)
	assert.Greater(t, byName["complete-av-block"].VPaces, byName["complete-av-block"].VEvents*9/10)
	assert.Less(t, byName["normal-sinus"].VPaces, byName["normal-sinus"].VEvents/10)
}
