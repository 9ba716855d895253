package fhe

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCommandVerdictsAreExactAtTheLimitEdges(t *testing.T) {
	f := getFixture(t)
	relay := NewRelay(f.relayI)
	pk := f.relayI.PublicKey()
	tests := []struct {
		name   string
		values []int64
		limits []int64
		want   []bool
	}{
		{"equal is within (AtMost) and within (AtLeast)",
			[]int64{500, 100, 120, 60, 180, 50}, []int64{500, 100, 120, 60, 180, 50}, []bool{true, true, true, true, true, true}},
		{"one quantum over/under fails",
			[]int64{501, 101, 121, 59, 181, 49}, []int64{500, 100, 120, 60, 180, 50}, []bool{false, false, false, false, false, false}},
		{"one quantum inside passes",
			[]int64{499, 99, 119, 61, 179, 51}, []int64{500, 100, 120, 60, 180, 50}, []bool{true, true, true, true, true, true}},
		{"range extremes",
			[]int64{6000, 0, 175, 30, 600, 20}, []int64{0, 2500, 30, 175, 20, 250}, []bool{false, true, false, false, false, false}},
		{"digit carry boundaries (bolus base 78)",
			[]int64{77, 78, 155, 156, 400, 100}, []int64{78, 77, 156, 155, 399, 99}, []bool{true, false, true, true, false, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := pk.EncryptCommand(f.schemaPB, tc.values)
			require.NoError(t, err)
			lim, err := pk.EncryptLimits(f.schemaPB, tc.limits)
			require.NoError(t, err)
			v, err := relay.Compare(f.schemaPB, cmd, lim)
			require.NoError(t, err)
			got, err := f.implant.OpenVerdict(f.schemaPB, v)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "verdicts for values %v limits %v", tc.values, tc.limits)

			pkt, err := relay.ForImplant(f.schemaPB, cmd, v)
			require.NoError(t, err)
			d, err := f.implant.OpenCommand(f.schemaPB, pkt)
			require.NoError(t, err)
			assert.Equal(t, tc.values, d.Values, "values carried to the implant")
			assert.Equal(t, tc.want, d.WithinLimits, "verdicts carried to the implant")
		})
	}
}

func TestDenseChecksFindNoWrongVerdictOnTheTestSet(t *testing.T) {
	f := getFixture(t)
	rep, err := f.implant.DenseCompareCheck(f.relayI, PacingRatePPM)
	require.NoError(t, err)
	assert.Equal(t, 0, rep.Wrong, "wrong verdicts of %d", rep.Total)
	assert.Equal(t, (2*PacingRatePPM.MaxHigh()+1)*(2*PacingRatePPM.Base()-1), int64(rep.Total))
	trep, err := f.clinic.DenseTelemetryCheck(f.relayC)
	require.NoError(t, err)
	assert.Equal(t, 0, trep.Wrong, "wrong flags/counts of %d", trep.Total)
}
