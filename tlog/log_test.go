package tlog

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
)

func TestReopenAfterAppendsPreservesSizeAndRoot(t *testing.T) {
	s, v := testKeys(t, "relay")
	dir := t.TempDir()
	entries := testEntries(23)

	l, err := Open(dir, s, testOrigin)
	require.NoError(t, err)
	appendAll(t, l, entries[:10])
	cp1Note, err := l.Checkpoint()
	require.NoError(t, err)
	require.NoError(t, l.Close())

	l, err = Open(dir, s, testOrigin)
	require.NoError(t, err)
	require.Equal(t, uint64(10), l.Size(), "size after first reopen")
	appendAll(t, l, entries[10:])
	cp2Note, err := l.Checkpoint()
	require.NoError(t, err)
	require.NoError(t, l.Close())

	l = openLog(t, dir, s)
	require.Equal(t, uint64(len(entries)), l.Size(), "size after second reopen")
	require.Zero(t, l.Recovered(), "a clean close leaves no torn tail")
	root, err := l.Root(l.Size())
	require.NoError(t, err)
	require.Equal(t, refMTH(entries), root)
	for i, e := range entries {
		got, err := l.Entry(uint64(i))
		require.NoError(t, err)
		require.Equal(t, e, got, "entry %d", i)
	}

	cp1, err := ParseCheckpoint(cp1Note, v)
	require.NoError(t, err)
	cp2, err := ParseCheckpoint(cp2Note, v)
	require.NoError(t, err)
	require.Equal(t, Checkpoint{Origin: testOrigin, Size: 23, Root: refMTH(entries)}, cp2)
	p, err := l.ConsistencyProof(cp1.Size, cp2.Size)
	require.NoError(t, err)
	require.NoError(t, VerifyConsistency(cp1, cp2, p), "checkpoints across restarts must be consistent")
}

func TestTornTailIsTruncatedToThePreviousSizeWithTheSameRoot(t *testing.T) {
	s, _ := testKeys(t, "relay")
	src := t.TempDir()
	entries := testEntries(9)
	entries[8] = []byte("the last record, whose append is interrupted")

	l := openLog(t, src, s)
	appendAll(t, l, entries[:8])
	prevEnd := int64(len(readData(t, src)))
	prevRoot, err := l.Root(8)
	require.NoError(t, err)
	_, err = l.Checkpoint() // the torn record is after the last checkpoint
	require.NoError(t, err)
	checkpoint, err := os.ReadFile(filepath.Join(src, checkpointFileName))
	require.NoError(t, err)
	appendAll(t, l, entries[8:])
	full := readData(t, src)
	require.NoError(t, l.Close())

	for cut := prevEnd; cut < int64(len(full)); cut++ {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(dataPath(dir), full[:cut], 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(dir, checkpointFileName), checkpoint, 0o600))

			l := openLog(t, dir, s)
			require.Equal(t, uint64(8), l.Size(), "size after recovery")
			require.Equal(t, cut-prevEnd, l.Recovered(), "torn bytes reported")
			root, err := l.Root(8)
			require.NoError(t, err)
			require.Equal(t, prevRoot, root, "root after recovery")
			require.Equal(t, full[:prevEnd], readData(t, dir), "the data file must be truncated to the last complete record")

			// The log keeps working: re-appending the lost entry gives the
			// original tree.
			appendAll(t, l, entries[8:])
			root, err = l.Root(9)
			require.NoError(t, err)
			require.Equal(t, refMTH(entries), root)
		})
	}
}

func TestTornHeaderOfANewDataFileIsRecovered(t *testing.T) {
	s, _ := testKeys(t, "relay")
	for n := 0; n < len(fileMagic); n++ {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(dataPath(dir), fileMagic[:n], 0o600))
		l := openLog(t, dir, s)
		require.Zero(t, l.Size(), "header of %d bytes", n)
		require.Equal(t, int64(n), l.Recovered())
		require.Equal(t, fileMagic[:], readData(t, dir))
		appendAll(t, l, testEntries(3))
	}
}

func TestAFlippedByteAnywhereInTheDataFileIsCorruption(t *testing.T) {
	s, v := testKeys(t, "relay")
	src := t.TempDir()
	l := openLog(t, src, s)
	appendAll(t, l, testEntries(4))
	_, err := l.Checkpoint()
	require.NoError(t, err)
	require.NoError(t, l.Close())
	full := readData(t, src)
	checkpoint, err := os.ReadFile(filepath.Join(src, checkpointFileName))
	require.NoError(t, err)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, checkpointFileName), checkpoint, 0o600))
	for i := range full {
		require.NoError(t, os.WriteFile(dataPath(dir), flip(full, i), 0o600))
		l, err := Open(dir, s, testOrigin)
		if err == nil {
			_ = l.Close()
		}
		require.ErrorIs(t, err, ErrCorrupt, "flipped byte %d of %d opened", i, len(full))
		require.Equal(t, flip(full, i), readData(t, dir), "Open must not modify a corrupt file (byte %d)", i)

		_, err = VerifyLogDir(dir, v)
		require.ErrorIs(t, err, ErrCorrupt, "audit accepted flipped byte %d", i)
	}
}

func TestDataBehindItsStoredCheckpointIsRefused(t *testing.T) {
	s, v := testKeys(t, "relay")
	dir := t.TempDir()
	l := openLog(t, dir, s)
	appendAll(t, l, testEntries(5))
	_, err := l.Checkpoint()
	require.NoError(t, err)
	require.NoError(t, l.Close())

	// Drop the last complete record, as an attacker (or a lost write) might.
	full := readData(t, dir)
	n := len(encodeRecord(testEntries(5)[4]))
	require.NoError(t, os.WriteFile(dataPath(dir), full[:len(full)-n], 0o600))

	_, err = Open(dir, s, testOrigin)
	require.ErrorIs(t, err, ErrRootMismatch)
	_, err = VerifyLogDir(dir, v)
	require.ErrorIs(t, err, ErrRootMismatch)
}

func TestReopenWithAnotherOriginIsRefused(t *testing.T) {
	s, _ := testKeys(t, "relay")
	dir := t.TempDir()
	l := openLog(t, dir, s)
	appendAll(t, l, testEntries(2))
	_, err := l.Checkpoint()
	require.NoError(t, err)
	require.NoError(t, l.Close())
	_, err = Open(dir, s, "another.origin")
	require.Error(t, err)
}

func TestEntryDetectsDataChangedUnderAnOpenLog(t *testing.T) {
	s, _ := testKeys(t, "relay")
	dir := t.TempDir()
	l := openLog(t, dir, s)
	entries := testEntries(3)
	appendAll(t, l, entries)

	// Rewrite entry 1 in place with a well-formed record of the same length.
	full := readData(t, dir)
	off := l.offsets[1]
	forged := append([]byte(nil), entries[1]...)
	forged[0] ^= 0xff
	copy(full[off:], encodeRecord(forged))
	require.NoError(t, os.WriteFile(dataPath(dir), full, 0o600))

	_, err := l.Entry(1)
	require.ErrorIs(t, err, ErrCorrupt)
	got, err := l.Entry(2)
	require.NoError(t, err)
	require.Equal(t, entries[2], got)
	_, err = l.Entry(3)
	require.Error(t, err, "entry beyond size")
}

func TestASecondOpenOfTheSameDirectoryIsRefused(t *testing.T) {
	s, _ := testKeys(t, "relay")
	dir := t.TempDir()
	l := openLog(t, dir, s)
	_, err := Open(dir, s, testOrigin)
	require.Error(t, err, "two writers on one log")
	require.NoError(t, l.Close())
	l2, err := Open(dir, s, testOrigin)
	require.NoError(t, err, "the lock is released by Close")
	require.NoError(t, l2.Close())
}

func TestAppendRefusesOversizedEntriesAndClosedLogs(t *testing.T) {
	s, _ := testKeys(t, "relay")
	l := openLog(t, t.TempDir(), s)
	_, err := l.Append(make([]byte, MaxEntrySize+1))
	require.Error(t, err)
	require.Zero(t, l.Size())
	require.NoError(t, l.Close())
	_, err = l.Append([]byte("late"))
	require.ErrorIs(t, err, ErrClosed)
	_, err = l.Checkpoint()
	require.ErrorIs(t, err, ErrClosed)
	_, err = l.Entry(0)
	require.ErrorIs(t, err, ErrClosed)
}

func TestAFailedWriteMakesTheLogRefuseAppendsUntilReopened(t *testing.T) {
	s, _ := testKeys(t, "relay")
	dir := t.TempDir()
	l := openLog(t, dir, s)
	appendAll(t, l, testEntries(2))
	require.NoError(t, l.data.Close()) // simulate an I/O failure
	_, err := l.Append([]byte("x"))
	require.Error(t, err)
	_, err = l.Append([]byte("y"))
	require.ErrorIs(t, err, ErrFailed)
	require.Equal(t, uint64(2), l.Size())
}

func TestOpenRefusesBadArguments(t *testing.T) {
	s, _ := testKeys(t, "relay")
	for name, origin := range map[string]string{
		"empty":    "",
		"newline":  "a\nb",
		"spaces":   " a ",
		"tab":      "a\tb",
		"bad utf8": "a\xffb",
	} {
		_, err := Open(t.TempDir(), s, origin)
		require.Error(t, err, name)
	}
	_, err := Open(t.TempDir(), nil, testOrigin)
	require.Error(t, err, "nil signer")
}

func TestConcurrentAppendsFormOneConsistentTree(t *testing.T) {
	s, v := testKeys(t, "relay")
	dir := t.TempDir()
	l := openLog(t, dir, s)
	const workers, each = 4, 8
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := l.Append([]byte(fmt.Sprintf("w%d-%d", w, i))); err != nil {
					t.Errorf("append: %v", err)
				}
				_ = l.Size()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, uint64(workers*each), l.Size())
	entries := make([][]byte, l.Size())
	for i := range entries {
		e, err := l.Entry(uint64(i))
		require.NoError(t, err)
		entries[i] = e
	}
	n, err := l.Checkpoint()
	require.NoError(t, err)
	cp, err := ParseCheckpoint(n, v)
	require.NoError(t, err)
	require.NoError(t, VerifyEntries(entries, cp))
	require.Equal(t, refMTH(entries), cp.Root)
}

// TestCheckpointSignedOncePerSize: asking again at the same size returns
// the same signed checkpoint without signing (Ed25519 is deterministic, so
// the bytes alone cannot tell: the file's modification time shows no
// rewrite); a larger log gets a new one.
func TestCheckpointSignedOncePerSize(t *testing.T) {
	dir := t.TempDir()
	skey, vkey, err := GenerateKey("test/cp")
	require.NoError(t, err)
	s, err := note.NewSigner(skey)
	require.NoError(t, err)
	v, err := note.NewVerifier(vkey)
	require.NoError(t, err)
	l, err := Open(dir, s, "test/cp")
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Append([]byte("a"))
	require.NoError(t, err)
	a, err := l.Checkpoint()
	require.NoError(t, err)
	st1, err := os.Stat(filepath.Join(dir, checkpointFileName))
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	b, err := l.Checkpoint()
	require.NoError(t, err)
	st2, err := os.Stat(filepath.Join(dir, checkpointFileName))
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.Equal(t, st1.ModTime(), st2.ModTime(), "no re-signing or rewrite at the same size")
	_, err = l.Append([]byte("b"))
	require.NoError(t, err)
	c, err := l.Checkpoint()
	require.NoError(t, err)
	cp, err := ParseCheckpoint(c, v)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), cp.Size)
}
