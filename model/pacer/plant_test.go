//go:build plantbug

package pacer

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPlantedURLBugIsFound runs only with -tags plantbug (see
// TestModelCheckFindsPlantedBug): the reduced model check must find the
// planted PACE-URL bug and print its shortest trace.
func TestPlantedURLBugIsFound(t *testing.T) {
	m := New()
	m.Full = false
	res, err := Check(m)
	require.NoError(t, err)
	require.NotNil(t, res.First, "planted bug not found")
	require.Contains(t, res.First.Violation, "PACE-URL")
	t.Log(res.First.String())
}
