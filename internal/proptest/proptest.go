// Package proptest is what the project's rapid property tests share: a
// TestMain that raises rapid's default number of checks, and draws of
// int64 and uint64 values from the edges of their machine types, where
// wrap-around bugs live (the TLA+ spec's integers are unbounded and cannot
// see them). It is imported by tests only.
package proptest

import (
	"flag"
	"math"
	"os"
	"testing"

	"pgregory.net/rapid"
)

// Checks is how many cases each property runs by default.
const Checks = "1000"

// Main runs the tests with rapid's checks raised to Checks (from rapid's
// 100); an explicit -rapid.checks on the command line wins.
func Main(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.checks" })
	if !explicit {
		_ = flag.Set("rapid.checks", Checks)
	}
	os.Exit(m.Run())
}

// EdgeInt64 are the int64 values where wrap-around bugs live.
var EdgeInt64 = []int64{
	math.MinInt64, math.MinInt64 + 1, math.MinInt64 + 2,
	-(1 << 62) - (1 << 61), -(1 << 62) - 1, -(1 << 62), -(1 << 62) + 1,
	-300_001, -300_000, -2, -1, 0, 1, 2, 300_000, 300_001,
	1<<62 - 1, 1 << 62, 1<<62 + 1, 1<<62 + 1<<61,
	math.MaxInt64 - 2, math.MaxInt64 - 1, math.MaxInt64,
}

// EdgeUint64 are the uint64 values where wrap-around bugs live, with the
// values around a counter step of step.
func EdgeUint64(step uint64) []uint64 {
	return []uint64{
		0, 1, 2, 3, step - 1, step, step + 1,
		1<<32 - 1, 1 << 32, 1_000_000_000_000_000,
		1<<62 - 1, 1 << 62, 1<<63 - 1, 1 << 63, 1<<63 + 1,
		math.MaxUint64 - step - 1, math.MaxUint64 - step, math.MaxUint64 - step + 1,
		math.MaxUint64 - 2, math.MaxUint64 - 1, math.MaxUint64,
	}
}

// Int64 draws an int64 that is an edge value, near base (offsets wrap,
// which is the point: near math.MaxInt64 a small step lands near
// math.MinInt64), within ±10 min of base, base plus an edge, or anything.
func Int64(t *rapid.T, label string, base int64) int64 {
	switch rapid.IntRange(0, 4).Draw(t, label+"/how") {
	case 0:
		return rapid.SampledFrom(EdgeInt64).Draw(t, label+"/edge")
	case 1:
		return base + rapid.Int64Range(-3, 3).Draw(t, label+"/near")
	case 2:
		return base + rapid.Int64Range(-600_000, 600_000).Draw(t, label+"/ms")
	case 3:
		return base + rapid.SampledFrom(EdgeInt64).Draw(t, label+"/far")
	default:
		return rapid.Int64().Draw(t, label+"/any")
	}
}

// Uint64 is Int64 for counters, with the values around base + step.
func Uint64(t *rapid.T, label string, base, step uint64) uint64 {
	switch rapid.IntRange(0, 4).Draw(t, label+"/how") {
	case 0:
		return rapid.SampledFrom(EdgeUint64(step)).Draw(t, label+"/edge")
	case 1:
		return base + uint64(rapid.Int64Range(-3, 3).Draw(t, label+"/near"))
	case 2:
		return base + step + uint64(rapid.Int64Range(-3, 3).Draw(t, label+"/step"))
	case 3:
		return base + rapid.SampledFrom(EdgeUint64(step)).Draw(t, label+"/far")
	default:
		return rapid.Uint64().Draw(t, label+"/any")
	}
}
