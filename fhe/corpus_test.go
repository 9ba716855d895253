package fhe

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWriteFuzzCorpus regenerates testdata/fuzz when FHE_WRITE_CORPUS=1;
// otherwise it checks that every fuzz target has a committed seed corpus.
func TestWriteFuzzCorpus(t *testing.T) {
	targets := []string{"FuzzUnmarshalPublicKey", "FuzzUnmarshalCiphertext", "FuzzUnmarshalRadioCiphertext", "FuzzUnmarshalSecretKeys", "FuzzUnmarshalRelayKeys"}
	if os.Getenv("FHE_WRITE_CORPUS") != "1" {
		for _, tg := range targets {
			ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", tg))
			require.NoError(t, err, "seed corpus of %s", tg)
			require.NotEmpty(t, ents, "seed corpus of %s", tg)
		}
		return
	}
	f := getFixture(t)
	relay := NewRelay(f.relayI)
	s := Schema{{BolusCentiUnits, AtMost}}
	cmd, err := f.relayI.PublicKey().EncryptCommand(s, []int64{10})
	require.NoError(t, err)
	lim, err := f.relayI.PublicKey().EncryptLimits(s, []int64{20})
	require.NoError(t, err)
	v, err := relay.Compare(s, cmd, lim)
	require.NoError(t, err)
	pkt, err := relay.ForImplant(s, cmd, v)
	require.NoError(t, err)
	radio, err := pkt.MarshalBinary()
	require.NoError(t, err)
	hdr := func(kind Kind, domain Domain, role Role, n uint32) []byte {
		b := putHeader(header{kind: kind, domain: domain, role: role, set: testSet.ID}, 0)
		b[12], b[13], b[14], b[15] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		return b
	}
	seeds := map[string][][]byte{
		"FuzzUnmarshalPublicKey":       {hdr(KindPublicKey, DomainImplant, 0, 0), hdr(KindPublicKey, DomainClinic, 0, 8)},
		"FuzzUnmarshalCiphertext":      {append(hdr(KindCiphertext, DomainClinic, RoleReadings, 10), 0, 9, 0, 0, 0, 0, 0, 0, 0xd0, 0x41)},
		"FuzzUnmarshalRadioCiphertext": {radio, radio[:len(radio)/2]},
		"FuzzUnmarshalSecretKeys":      {hdr(KindSecretKeys, DomainImplant, 0, 16)},
		"FuzzUnmarshalRelayKeys":       {hdr(KindRelayKeys, DomainClinic, 0, 0)},
	}
	for tg, list := range seeds {
		dir := filepath.Join("testdata", "fuzz", tg)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for i, b := range list {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644))
		}
	}
}
