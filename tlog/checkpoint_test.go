package tlog

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
)

func TestCheckpointIsASignedNoteInTheCheckpointFormat(t *testing.T) {
	s, v := testKeys(t, "relay")
	dir := t.TempDir()
	l := openLog(t, dir, s)
	entries := testEntries(5)
	appendAll(t, l, entries)
	msg, err := l.Checkpoint()
	require.NoError(t, err)

	body := testOrigin + "\n5\n" + base64.StdEncoding.EncodeToString(refMTH(entries)) + "\n"
	require.True(t, strings.HasPrefix(string(msg), body+"\n— relay "), "note:\n%s", msg)

	stored, err := os.ReadFile(filepath.Join(dir, checkpointFileName))
	require.NoError(t, err)
	require.Equal(t, msg, stored, "the checkpoint is stored for offline audit")

	cp, err := ParseCheckpoint(msg, v)
	require.NoError(t, err)
	require.Equal(t, Checkpoint{Origin: testOrigin, Size: 5, Root: refMTH(entries)}, cp)
}

func TestEmptyLogCheckpoint(t *testing.T) {
	s, v := testKeys(t, "relay")
	dir := t.TempDir()
	l := openLog(t, dir, s)
	msg, err := l.Checkpoint()
	require.NoError(t, err)
	cp, err := ParseCheckpoint(msg, v)
	require.NoError(t, err)
	require.Equal(t, uint64(0), cp.Size)
	require.Equal(t, refMTH(nil), cp.Root)
	a, err := VerifyLogDir(dir, v)
	require.NoError(t, err)
	require.Equal(t, uint64(0), a.Entries)
}

func TestCheckpointSignaturesAreChecked(t *testing.T) {
	s, v := testKeys(t, "relay")
	other, otherV := testKeys(t, "relay") // same name, different key
	stranger, _ := testKeys(t, "stranger")
	l := openLog(t, t.TempDir(), s)
	appendAll(t, l, testEntries(3))
	good, err := l.Checkpoint()
	require.NoError(t, err)
	body := good[:bytes.Index(good, []byte("\n\n"))+1]

	sign := func(signers ...note.Signer) []byte {
		msg, err := note.Sign(&note.Note{Text: string(body)}, signers...)
		require.NoError(t, err)
		return msg
	}
	tamperedBody := bytes.Replace(good, []byte("\n3\n"), []byte("\n4\n"), 1)
	sig := good[bytes.Index(good, []byte("\n\n"))+2:]
	tamperedSig := append(append([]byte(nil), good[:len(good)-len(sig)]...), bytes.Replace(sig, []byte("relay "), []byte("relay A"), 1)...)

	for _, tc := range []struct {
		name     string
		msg      []byte
		verifier note.Verifier
	}{
		{"signed by another key of the same name", sign(other), v},
		{"signed by another name", sign(stranger), v},
		{"unsigned", body, v},
		{"body altered after signing", tamperedBody, v},
		{"signature altered", tamperedSig, v},
		{"verified with the wrong key", good, otherV},
		{"no verifier", good, nil},
		{"empty", nil, v},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCheckpoint(tc.msg, tc.verifier)
			require.ErrorIs(t, err, ErrBadSignature)
		})
	}

	// A note with an extra signature by an unknown key still verifies.
	cp, err := ParseCheckpoint(sign(s, stranger), v)
	require.NoError(t, err)
	require.Equal(t, uint64(3), cp.Size)
}

func TestMalformedCheckpointBodiesAreRefused(t *testing.T) {
	s, v := testKeys(t, "relay")
	root := base64.StdEncoding.EncodeToString(refMTH([][]byte{[]byte("a")}))
	empty := base64.StdEncoding.EncodeToString(refMTH(nil))
	for _, tc := range []struct {
		name string
		body string
		want error
	}{
		{"two lines", "o\n1\n", ErrCorrupt},
		{"extension line", "o\n1\n" + root + "\next\n", ErrCorrupt},
		{"empty origin", "\n1\n" + root + "\n", ErrCorrupt},
		{"leading zero", "o\n01\n" + root + "\n", ErrCorrupt},
		{"plus sign", "o\n+1\n" + root + "\n", ErrCorrupt},
		{"negative", "o\n-1\n" + root + "\n", ErrCorrupt},
		{"overflow", "o\n18446744073709551616\n" + root + "\n", ErrCorrupt},
		{"hex size", "o\n0x1\n" + root + "\n", ErrCorrupt},
		{"short root", "o\n1\n" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\n", ErrCorrupt},
		{"long root", "o\n1\n" + base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n", ErrCorrupt},
		{"unpadded root", "o\n1\n" + strings.TrimRight(root, "=") + "\n", ErrCorrupt},
		{"url base64 root", "o\n1\n" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)) + "\n", ErrCorrupt},
		{"empty tree with non-empty root", "o\n0\n" + root + "\n", ErrRootMismatch},
		{"ok", "o\n1\n" + root + "\n", nil},
		{"ok empty", "o\n0\n" + empty + "\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := note.Sign(&note.Note{Text: tc.body}, s)
			require.NoError(t, err)
			_, err = ParseCheckpoint(msg, v)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
	_, err := ParseCheckpoint(make([]byte, MaxCheckpointSize+1), v)
	require.ErrorIs(t, err, ErrCorrupt, "oversized note")
}

func TestVerifyLogDirAuditsADirectoryOffline(t *testing.T) {
	s, v := testKeys(t, "relay")
	_, otherV := testKeys(t, "relay")
	dir := t.TempDir()
	l := openLog(t, dir, s)
	entries := testEntries(12)
	appendAll(t, l, entries[:7])
	n7, err := l.Checkpoint()
	require.NoError(t, err)
	cp7, err := ParseCheckpoint(n7, v)
	require.NoError(t, err)
	appendAll(t, l, entries[7:10])
	_, err = l.Checkpoint()
	require.NoError(t, err)
	appendAll(t, l, entries[10:]) // not yet checkpointed

	a, err := VerifyLogDir(dir, v, cp7)
	require.NoError(t, err)
	require.Equal(t, Audit{Checkpoint: Checkpoint{Origin: testOrigin, Size: 10, Root: refMTH(entries[:10])}, Entries: 12}, a)

	_, err = VerifyLogDir(dir, otherV)
	require.ErrorIs(t, err, ErrBadSignature, "a checkpoint by another key")

	forged := cp7
	forged.Root = refMTH(entries[1:8])
	_, err = VerifyLogDir(dir, v, forged)
	require.ErrorIs(t, err, ErrRootMismatch, "a retained checkpoint the data no longer matches")

	ahead := Checkpoint{Origin: testOrigin, Size: 13, Root: refMTH(append(entries, []byte("x")))}
	_, err = VerifyLogDir(dir, v, ahead)
	require.ErrorIs(t, err, ErrRootMismatch, "a retained checkpoint beyond the data")

	foreign := cp7
	foreign.Origin = "elsewhere"
	_, err = VerifyLogDir(dir, v, foreign)
	require.ErrorIs(t, err, ErrRootMismatch, "a retained checkpoint of another log")

	// A torn tail (an interrupted append) is tolerated and reported, and the
	// auditor does not repair it.
	require.NoError(t, l.Close())
	full := readData(t, dir)
	torn := append(append([]byte(nil), full...), encodeRecord([]byte("interrupted"))[:9]...)
	require.NoError(t, os.WriteFile(dataPath(dir), torn, 0o600))
	a, err = VerifyLogDir(dir, v, cp7)
	require.NoError(t, err)
	require.Equal(t, int64(9), a.TornTailBytes)
	require.Equal(t, torn, readData(t, dir), "the audit must not modify the directory")
}

func TestRewrittenHistoryIsCaughtByARetainedCheckpoint(t *testing.T) {
	// The relay holds its signing key, so it can rebuild a log with other
	// entries and sign it. Only a checkpoint kept from before catches that.
	s, v := testKeys(t, "relay")
	dir := t.TempDir()
	l, err := Open(dir, s, testOrigin)
	require.NoError(t, err)
	entries := testEntries(6)
	appendAll(t, l, entries)
	old, err := l.Checkpoint()
	require.NoError(t, err)
	retained, err := ParseCheckpoint(old, v)
	require.NoError(t, err)
	require.NoError(t, l.Close())

	require.NoError(t, os.RemoveAll(dir))
	l = openLog(t, dir, s)
	rewritten := testEntries(8)
	rewritten[2] = []byte("a verdict the relay would rather not have signed")
	appendAll(t, l, rewritten)
	newNote, err := l.Checkpoint()
	require.NoError(t, err)

	_, err = VerifyLogDir(dir, v)
	require.NoError(t, err, "the rewritten log is self-consistent")
	_, err = VerifyLogDir(dir, v, retained)
	require.ErrorIs(t, err, ErrRootMismatch)

	newer, err := ParseCheckpoint(newNote, v)
	require.NoError(t, err)
	p, err := l.ConsistencyProof(retained.Size, newer.Size)
	require.NoError(t, err)
	require.ErrorIs(t, VerifyConsistency(retained, newer, p), ErrProof)
}

func TestReadEntriesFeedsVerifyEntriesAndReportsATornTail(t *testing.T) {
	s, v := testKeys(t, "relay")
	dir := t.TempDir()
	l := openLog(t, dir, s)
	entries := testEntries(9)
	appendAll(t, l, entries)
	msg, err := l.Checkpoint()
	require.NoError(t, err)
	require.NoError(t, l.Close())
	cp, err := ParseCheckpoint(msg, v)
	require.NoError(t, err)

	got, err := ReadEntries(dir)
	require.NoError(t, err)
	require.Equal(t, entries, got)
	require.NoError(t, VerifyEntries(got, cp))

	full := readData(t, dir)
	torn := append(append([]byte(nil), full...), encodeRecord([]byte("interrupted"))[:13]...)
	require.NoError(t, os.WriteFile(dataPath(dir), torn, 0o600))
	got, err = ReadEntries(dir)
	require.ErrorIs(t, err, ErrTornTail)
	require.Equal(t, entries, got, "complete entries come back with ErrTornTail")
	require.Equal(t, torn, readData(t, dir), "ReadEntries must not repair")

	require.NoError(t, os.WriteFile(dataPath(dir), flip(full, 20), 0o600))
	got, err = ReadEntries(dir)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Nil(t, got)
}
