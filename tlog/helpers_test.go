package tlog

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "relay.implantfhe.test/log"

// testKeys returns a fresh checkpoint signer and its verifier.
func testKeys(t testing.TB, name string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := GenerateKey(name)
	require.NoError(t, err)
	s, err := note.NewSigner(skey)
	require.NoError(t, err)
	v, err := note.NewVerifier(vkey)
	require.NoError(t, err)
	return s, v
}

// testEntries returns n distinct entries of varying length (including empty).
func testEntries(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		e := make([]byte, i%7*5)
		for j := range e {
			e[j] = byte(i*31 + j)
		}
		out[i] = append(e, fmt.Sprintf("entry-%d", i)...)
	}
	out[0] = []byte{} // an empty entry is a valid entry
	return out
}

func openLog(t testing.TB, dir string, s note.Signer) *Log {
	t.Helper()
	l, err := Open(dir, s, testOrigin)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func appendAll(t testing.TB, l *Log, entries [][]byte) {
	t.Helper()
	for _, e := range entries {
		want := l.Size()
		got, err := l.Append(e)
		require.NoError(t, err)
		require.Equal(t, want, got, "Append returned the wrong index")
	}
}

func dataPath(dir string) string { return filepath.Join(dir, dataFileName) }

func readData(t testing.TB, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(dataPath(dir))
	require.NoError(t, err)
	return b
}

// --- Reference RFC 6962 computations, written from RFC 6962 §2.1 and
// independent of the merkle library used by the package. ---

func refLeaf(e []byte) []byte {
	h := sha256.Sum256(append([]byte{0}, e...))
	return h[:]
}

func refNode(l, r []byte) []byte {
	h := sha256.Sum256(append(append([]byte{1}, l...), r...))
	return h[:]
}

// refSplit returns the largest power of two smaller than n (n > 1).
func refSplit(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// refMTH is MTH(D[n]) of RFC 6962 §2.1.
func refMTH(d [][]byte) []byte {
	switch len(d) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return refLeaf(d[0])
	}
	k := refSplit(len(d))
	return refNode(refMTH(d[:k]), refMTH(d[k:]))
}

// refPath is PATH(m, D[n]) of RFC 6962 §2.1.1.
func refPath(m int, d [][]byte) [][]byte {
	if len(d) <= 1 {
		return nil
	}
	k := refSplit(len(d))
	if m < k {
		return append(refPath(m, d[:k]), refMTH(d[k:]))
	}
	return append(refPath(m-k, d[k:]), refMTH(d[:k]))
}

// refProof is PROOF(m, D[n]) of RFC 6962 §2.1.2.
func refProof(m int, d [][]byte) [][]byte {
	if m == 0 || m == len(d) {
		return nil
	}
	return refSubproof(m, d, true)
}

func refSubproof(m int, d [][]byte, b bool) [][]byte {
	n := len(d)
	if m == n {
		if b {
			return nil
		}
		return [][]byte{refMTH(d)}
	}
	k := refSplit(n)
	if m <= k {
		return append(refSubproof(m, d[:k], b), refMTH(d[k:]))
	}
	return append(refSubproof(m-k, d[k:], false), refMTH(d[:k]))
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}

func cloneProof(p [][]byte) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = append([]byte(nil), p[i]...)
	}
	return out
}
