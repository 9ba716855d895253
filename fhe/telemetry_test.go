package fhe

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTelemetryFlagsCountsAndSumsFromTwoImplants(t *testing.T) {
	f := getFixture(t)
	relay := NewRelay(f.relayC)
	pk := f.relayC.PublicKey()
	glucoseA := []int64{69, 70, 71, 20, 600, 146, 147, 55}
	glucoseB := []int64{100, 68, 69, 250}
	low := Alert{GlucoseMgPerDL, Below, 70}

	inA, err := pk.EncryptAlertInput(GlucoseMgPerDL, Below, 0, glucoseA)
	require.NoError(t, err)
	inB, err := pk.EncryptAlertInput(GlucoseMgPerDL, Below, 3, glucoseB)
	require.NoError(t, err)
	in, err := relay.Pack(inA, inB)
	require.NoError(t, err)
	flags, err := relay.Flags(in, low)
	require.NoError(t, err)

	gotA, err := f.clinic.DecryptFlags(flags, 0, len(glucoseA))
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false, false, true, false, false, false, true}, gotA)
	gotB, err := f.clinic.DecryptFlags(flags, 3, len(glucoseB))
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true, true, false}, gotB)

	counts, err := relay.WindowCounts(flags)
	require.NoError(t, err)
	cA, err := f.clinic.DecryptCount(counts, 0)
	require.NoError(t, err)
	assert.Equal(t, 3, cA, "low-glucose readings of implant A")
	cB, err := f.clinic.DecryptCount(counts, 3)
	require.NoError(t, err)
	assert.Equal(t, 2, cB, "low-glucose readings of implant B")

	rA, err := pk.EncryptReadings(GlucoseMgPerDL, 0, glucoseA)
	require.NoError(t, err)
	sums, err := relay.WindowSums(rA)
	require.NoError(t, err)
	s, err := f.clinic.DecryptSum(sums, GlucoseMgPerDL, 0, len(glucoseA))
	require.NoError(t, err)
	assert.Equal(t, int64(69+70+71+20+600+146+147+55), s)
}

func TestHeartRateBandFlagsBothSides(t *testing.T) {
	f := getFixture(t)
	relay := NewRelay(f.relayC)
	pk := f.relayC.PublicKey()
	hr := []int64{20, 39, 40, 41, 100, 129, 130, 131, 250}
	lo, err := pk.EncryptAlertInput(HeartRateBPM, Below, 1, hr)
	require.NoError(t, err)
	hi, err := pk.EncryptAlertInput(HeartRateBPM, Above, 1, hr)
	require.NoError(t, err)
	fl, err := relay.Flags(lo, Alert{HeartRateBPM, Below, 40})
	require.NoError(t, err)
	fh, err := relay.Flags(hi, Alert{HeartRateBPM, Above, 130})
	require.NoError(t, err)
	band, err := relay.Or(fl, fh)
	require.NoError(t, err)
	got, err := f.clinic.DecryptFlags(band, 1, len(hr))
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true, false, false, false, false, false, true, true}, got)
}

func TestAlertThresholdOutsideWindowIsRefused(t *testing.T) {
	tests := []Alert{
		{GlucoseMgPerDL, Below, 20},
		{GlucoseMgPerDL, Below, 147},
		{HeartRateBPM, Above, 123},
		{HeartRateBPM, Above, 250},
	}
	for _, a := range tests {
		assert.ErrorIs(t, a.Validate(), ErrOutOfRange, "%+v", a)
	}
	assert.NoError(t, Alert{GlucoseMgPerDL, Below, 70}.Validate())
}
