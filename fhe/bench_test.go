package fhe

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// benchParams uses the test set unless FHE_BENCH_SET names another, e.g.
// FHE_BENCH_SET=ProdN14 go test -run x -bench . ./fhe/
func benchParams(b *testing.B) *Params {
	name := os.Getenv("FHE_BENCH_SET")
	if name == "" {
		name = testSet.Name
	}
	ps, err := ParamSetByName(name)
	require.NoError(b, err)
	p, err := NewParams(ps)
	require.NoError(b, err)
	return p
}

var benchSchema = Schema{{BolusCentiUnits, AtMost}, {BasalCentiUnitsPerHour, AtMost}, {PacingRatePPM, AtMost}, {PacingRatePPM, AtLeast}}

type benchEnv struct {
	k     *SecretKeys
	rk    *RelayKeys
	relay *Relay
	cmd   *Ciphertext
	lim   *Ciphertext
}

func newBenchEnv(b *testing.B) *benchEnv {
	p := benchParams(b)
	k, err := GenerateKeys(p, DomainImplant)
	require.NoError(b, err)
	rk, err := k.RelayKeys()
	require.NoError(b, err)
	cmd, err := rk.PublicKey().EncryptCommand(benchSchema, []int64{500, 120, 100, 60})
	require.NoError(b, err)
	lim, err := rk.PublicKey().EncryptLimits(benchSchema, []int64{1000, 200, 150, 50})
	require.NoError(b, err)
	return &benchEnv{k: k, rk: rk, relay: NewRelay(rk), cmd: cmd, lim: lim}
}

func BenchmarkKeyGen(b *testing.B) {
	p := benchParams(b)
	for i := 0; i < b.N; i++ {
		k, err := GenerateKeys(p, DomainImplant)
		require.NoError(b, err)
		_, err = k.RelayKeys()
		require.NoError(b, err)
	}
}

func BenchmarkEncryptCommand(b *testing.B) {
	e := newBenchEnv(b)
	pk := e.rk.PublicKey()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := pk.EncryptCommand(benchSchema, []int64{500, 120, 100, 60})
		require.NoError(b, err)
	}
}

func BenchmarkCompare(b *testing.B) {
	e := newBenchEnv(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := e.relay.Compare(benchSchema, e.cmd, e.lim)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(benchSchema)), "ns/value")
}

func BenchmarkForImplant(b *testing.B) {
	e := newBenchEnv(b)
	v, err := e.relay.Compare(benchSchema, e.cmd, e.lim)
	require.NoError(b, err)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := e.relay.ForImplant(benchSchema, e.cmd, v)
		require.NoError(b, err)
	}
}

func BenchmarkOpenCommand(b *testing.B) {
	e := newBenchEnv(b)
	v, err := e.relay.Compare(benchSchema, e.cmd, e.lim)
	require.NoError(b, err)
	pkt, err := e.relay.ForImplant(benchSchema, e.cmd, v)
	require.NoError(b, err)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := e.k.OpenCommand(benchSchema, pkt)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(pkt.Size()), "packet_bytes")
}
