package tlog

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const proofTestEntries = 40

// proofLog builds a log of proofTestEntries entries once per test.
func proofLog(t *testing.T) (*Log, [][]byte) {
	t.Helper()
	s, _ := testKeys(t, "relay")
	l := openLog(t, t.TempDir(), s)
	entries := testEntries(proofTestEntries)
	appendAll(t, l, entries)
	return l, entries
}

func cpAt(t *testing.T, l *Log, size uint64) Checkpoint {
	t.Helper()
	root, err := l.Root(size)
	require.NoError(t, err)
	return Checkpoint{Origin: testOrigin, Size: size, Root: root}
}

func TestRootsMatchReferenceMTH(t *testing.T) {
	l, entries := proofLog(t)
	for n := 0; n <= len(entries); n++ {
		root, err := l.Root(uint64(n))
		require.NoError(t, err)
		require.Equal(t, refMTH(entries[:n]), root, "root of size %d", n)
	}
	_, err := l.Root(uint64(len(entries) + 1))
	require.Error(t, err, "root beyond the log size must be refused")
}

func TestInclusionProofsVerifyForAllPairsAndFailWhenAltered(t *testing.T) {
	l, entries := proofLog(t)
	for size := uint64(1); size <= proofTestEntries; size++ {
		cp := cpAt(t, l, size)
		for index := uint64(0); index < size; index++ {
			p, err := l.InclusionProof(index, size)
			require.NoError(t, err, "index %d size %d", index, size)
			requireSameProof(t, refPath(int(index), entries[:size]), p, "audit path differs from RFC 6962 PATH for index %d size %d", index, size)
			require.NoError(t, VerifyInclusion(entries[index], index, p, cp), "index %d size %d", index, size)

			altered := map[string]func() error{
				"entry": func() error { return VerifyInclusion(append(entries[index], 'x'), index, p, cp) },
				"root": func() error {
					bad := cp
					bad.Root = flip(cp.Root, 0)
					return VerifyInclusion(entries[index], index, p, bad)
				},
				"index": func() error { return VerifyInclusion(entries[index], (index+1)%size, p, cp) },
				"extra proof node": func() error {
					return VerifyInclusion(entries[index], index, append(cloneProof(p), cp.Root), cp)
				},
				"index beyond size": func() error { return VerifyInclusion(entries[index], size, p, cp) },
			}
			if size == 1 {
				delete(altered, "index") // the only index there is
			}
			for k := range p {
				altered["proof node flipped"] = func() error {
					q := cloneProof(p)
					q[k] = flip(q[k], k%HashSize)
					return VerifyInclusion(entries[index], index, q, cp)
				}
				require.ErrorIs(t, altered["proof node flipped"](), ErrProof, "flipped node %d of proof for index %d size %d", k, index, size)
			}
			if len(p) > 0 {
				altered["proof node dropped"] = func() error { return VerifyInclusion(entries[index], index, p[:len(p)-1], cp) }
			}
			for name, verify := range altered {
				require.ErrorIs(t, verify(), ErrProof, "altered %s accepted for index %d size %d", name, index, size)
			}
		}
	}
}

func TestInclusionProofArgumentsOutOfRangeAreRefused(t *testing.T) {
	l, _ := proofLog(t)
	for _, tc := range []struct{ index, size uint64 }{
		{0, 0}, {5, 5}, {6, 5}, {0, proofTestEntries + 1},
	} {
		_, err := l.InclusionProof(tc.index, tc.size)
		require.Error(t, err, "index %d size %d", tc.index, tc.size)
	}
}

func TestConsistencyProofsVerifyForAllPairsAndFailWhenAltered(t *testing.T) {
	l, entries := proofLog(t)
	for size2 := uint64(0); size2 <= proofTestEntries; size2++ {
		newer := cpAt(t, l, size2)
		for size1 := uint64(0); size1 <= size2; size1++ {
			older := cpAt(t, l, size1)
			p, err := l.ConsistencyProof(size1, size2)
			require.NoError(t, err, "sizes %d→%d", size1, size2)
			requireSameProof(t, refProof(int(size1), entries[:size2]), p, "proof differs from RFC 6962 PROOF for %d→%d", size1, size2)
			require.NoError(t, VerifyConsistency(older, newer, p), "sizes %d→%d", size1, size2)

			if size1 > 0 {
				bad := older
				bad.Root = flip(older.Root, 3)
				require.ErrorIs(t, VerifyConsistency(bad, newer, p), ErrProof, "altered old root accepted %d→%d", size1, size2)
				bad = newer
				bad.Root = flip(newer.Root, 5)
				require.ErrorIs(t, VerifyConsistency(older, bad, p), ErrProof, "altered new root accepted %d→%d", size1, size2)
			}
			for k := range p {
				q := cloneProof(p)
				q[k] = flip(q[k], 7)
				require.ErrorIs(t, VerifyConsistency(older, newer, q), ErrProof, "flipped node %d accepted %d→%d", k, size1, size2)
			}
			if len(p) > 0 {
				require.ErrorIs(t, VerifyConsistency(older, newer, p[:len(p)-1]), ErrProof, "truncated proof accepted %d→%d", size1, size2)
			}
			if size1 < size2 {
				require.ErrorIs(t, VerifyConsistency(newer, older, p), ErrProof, "shrinking log accepted %d→%d", size2, size1)
			}
			other := newer
			other.Origin = "another.log"
			require.ErrorIs(t, VerifyConsistency(older, other, p), ErrProof, "origin change accepted")
		}
	}
}

func TestConsistencyProofArgumentsOutOfRangeAreRefused(t *testing.T) {
	l, _ := proofLog(t)
	for _, tc := range []struct{ size1, size2 uint64 }{
		{5, 4}, {0, proofTestEntries + 1},
	} {
		_, err := l.ConsistencyProof(tc.size1, tc.size2)
		require.Error(t, err, "sizes %d→%d", tc.size1, tc.size2)
	}
}

func TestVerifyEntriesRecomputesTheRoot(t *testing.T) {
	l, entries := proofLog(t)
	cp := cpAt(t, l, proofTestEntries)
	require.NoError(t, VerifyEntries(entries, cp))

	altered := make([][]byte, len(entries))
	copy(altered, entries)
	altered[17] = []byte("rewritten")
	swapped := make([][]byte, len(entries))
	copy(swapped, entries)
	swapped[3], swapped[4] = swapped[4], swapped[3]

	for name, es := range map[string][][]byte{
		"altered entry":  altered,
		"swapped order":  swapped,
		"missing entry":  entries[:len(entries)-1],
		"extra entry":    append(append([][]byte{}, entries...), []byte("extra")),
		"no entries":     nil,
		"dropped middle": append(append([][]byte{}, entries[:10]...), entries[11:]...),
	} {
		require.ErrorIs(t, VerifyEntries(es, cp), ErrRootMismatch, name)
	}
	empty, err := l.Root(0)
	require.NoError(t, err)
	require.NoError(t, VerifyEntries(nil, Checkpoint{Origin: testOrigin, Root: empty}))
}

// requireSameProof compares proofs, treating nil and empty as the same.
func requireSameProof(t *testing.T, want, got [][]byte, msgAndArgs ...any) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	require.Equal(t, want, got, msgAndArgs...)
}
