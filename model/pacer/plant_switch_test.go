//go:build plantswitch

package pacer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/model/pacerinv"
)

// TestPlantedSwitchBugIsFound runs only with -tags plantswitch (see
// TestModelCheckFindsPlantedSwitchBug): the kernel grants a slot switch
// whose blackout ends one ms after the lower-rate deadline. The reduced
// model check must report PACE-UPDATE-SWITCH at the grant; and with that
// invariant ignored, PACE-LRL must still catch the bug on its own once the
// model has simulated the blackout (a late pace at the resumption).
func TestPlantedSwitchBugIsFound(t *testing.T) {
	m := New()
	m.Full = false
	res, err := Check(m)
	require.NoError(t, err)
	require.NotNil(t, res.First, "planted switch bug not found")
	require.Contains(t, res.First.Violation, pacerinv.UpdateSwitch)
	t.Log(res.First.String())

	m = New()
	m.Full = false
	m.Ignore = []string{pacerinv.UpdateSwitch}
	res, err = Check(m)
	require.NoError(t, err)
	require.NotNil(t, res.First, "the blackout did not break PACE-LRL")
	require.Contains(t, res.First.Violation, pacerinv.LRL)
	require.True(t, strings.Contains(strings.Join(res.First.Trace, "\n"), "resume after the slot switch"), "%s", res.First)
	t.Log(res.First.String())
}
