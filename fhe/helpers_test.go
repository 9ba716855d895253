package fhe

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// testSet is the parameter set unit tests run on: test-only, small ring,
// same moduli and circuit as ProdN14 (production sets run in proofs/compare).
var testSet = TestOnlyN11

type fixture struct {
	params   *Params
	implant  *SecretKeys
	clinic   *SecretKeys
	relayI   *RelayKeys
	relayC   *RelayKeys
	schemaPB Schema
}

var (
	fixOnce sync.Once
	fix     fixture
	fixErr  error
)

// getFixture generates keys once per test binary (key generation is the
// slow part under -race).
func getFixture(t testing.TB) *fixture {
	t.Helper()
	fixOnce.Do(func() {
		var f fixture
		if f.params, fixErr = NewParams(testSet); fixErr != nil {
			return
		}
		if f.implant, fixErr = GenerateKeys(f.params, DomainImplant); fixErr != nil {
			return
		}
		if f.clinic, fixErr = GenerateKeys(f.params, DomainClinic); fixErr != nil {
			return
		}
		if f.relayI, fixErr = f.implant.RelayKeys(); fixErr != nil {
			return
		}
		if f.relayC, fixErr = f.clinic.RelayKeys(); fixErr != nil {
			return
		}
		f.schemaPB = Schema{
			{BolusCentiUnits, AtMost}, {BasalCentiUnitsPerHour, AtMost},
			{PacingRatePPM, AtMost}, {PacingRatePPM, AtLeast},
			{GlucoseMgPerDL, AtMost}, {HeartRateBPM, AtLeast},
		}
		fix = f
	})
	require.NoError(t, fixErr)
	return &fix
}
