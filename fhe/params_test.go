package fhe

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

func TestProductionSetsAre128BitSecure(t *testing.T) {
	for _, ps := range ProductionSets() {
		p, err := NewParams(ps)
		require.NoError(t, err, ps.Name)
		assert.Equal(t, 128, p.SecurityBits())
		assert.LessOrEqual(t, p.LogQP(), float64(heStandardMaxLogQP[ps.LogN]), ps.Name)
	}
}

func TestInsecureLiteralIsRefused(t *testing.T) {
	tests := []struct {
		name string
		set  ParamSet
	}{
		{"too much modulus for N=2^14", ParamSet{Name: "bad", ID: 77, LogN: 14,
			LogQ: []int{60, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40}, LogP: []int{61}, LogScale: 40, RadioLogN: 12}},
		{"radio ring too small for q0·p0", ParamSet{Name: "bad", ID: 78, LogN: 14,
			LogQ: ProdN14.LogQ, LogP: ProdN14.LogP, LogScale: 30, RadioLogN: 11}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewParams(tc.set)
			assert.ErrorIs(t, err, ErrInsecureParams)
		})
	}
	assert.ErrorIs(t, SecurityCheck(16, 100), ErrInsecureParams, "logN outside the table")
}

func TestTestOnlySetsWorkOnlyInTests(t *testing.T) {
	// In a test binary testing.Testing() is true, so test-only sets are
	// accepted; cmd/fhebench's test covers the refusal in a real binary.
	p, err := NewParams(TestOnlyN12)
	require.NoError(t, err)
	assert.Equal(t, 0, p.SecurityBits())
	assert.ErrorIs(t, SecurityCheck(TestOnlyN12.LogN, p.LogQP()), ErrInsecureParams, "test-only set is indeed insecure")
}

func TestQuantitiesFitTwoDigits(t *testing.T) {
	for _, q := range Quantities() {
		require.NoError(t, q.Validate(), q.Name)
		for _, v := range []int64{q.Min, q.Min + 1, (q.Min + q.Max) / 2, q.Max - 1, q.Max} {
			hi, lo, err := q.digits(v)
			require.NoError(t, err)
			back, err := q.fromDigits(hi, lo)
			require.NoError(t, err)
			assert.Equal(t, v, back, q.Name)
		}
		_, _, err := q.digits(q.Max + 1)
		assert.ErrorIs(t, err, ErrOutOfRange)
	}
}

// TestRelayKeysCannotHoldASecretKey walks the RelayKeys type: no field,
// however deep, may be an rlwe.SecretKey.
func TestRelayKeysCannotHoldASecretKey(t *testing.T) {
	secret := reflect.TypeOf(rlwe.SecretKey{})
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type) bool
	walk = func(ty reflect.Type) bool {
		if ty == secret {
			return true
		}
		if seen[ty] {
			return false
		}
		seen[ty] = true
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			return walk(ty.Elem())
		case reflect.Struct:
			for i := 0; i < ty.NumField(); i++ {
				if walk(ty.Field(i).Type) {
					return true
				}
			}
		case reflect.Interface:
			return true // an interface could hold anything
		}
		return false
	}
	rk := reflect.TypeOf(RelayKeys{})
	for i := 0; i < rk.NumField(); i++ {
		if rk.Field(i).Name == "params" {
			continue // parameters only: moduli, polynomials, no key material
		}
		assert.False(t, walk(rk.Field(i).Type), "RelayKeys.%s can reach a secret key", rk.Field(i).Name)
	}
}
