package tlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
)

// Test-only key for fuzzing checkpoint notes, fixed so that the committed
// seed corpus (testdata/fuzz) holds validly signed notes. Never use it
// outside tests.
const (
	fuzzSignerKey   = "PRIVATE+KEY+fuzz.test+b7cb9673+AYGjKcGfC1eX1TjvlkQWNRVAigfDiXZka49OaxC5m8qy"
	fuzzVerifierKey = "fuzz.test+b7cb9673+ATMt4AWKCaZkZi9ehjp3o0BkRG8iEHV5el7za2eXFc7y"
)

func fuzzKeys(t testing.TB) (note.Signer, note.Verifier) {
	s, err := note.NewSigner(fuzzSignerKey)
	require.NoError(t, err)
	v, err := note.NewVerifier(fuzzVerifierKey)
	require.NoError(t, err)
	return s, v
}

// FuzzParseCheckpoint: ParseCheckpoint never panics, and whatever it accepts
// carries a valid signature and renders back to the signed body.
func FuzzParseCheckpoint(f *testing.F) {
	s, v := fuzzKeys(f)
	for _, body := range seedCheckpointBodies() {
		msg, err := note.Sign(&note.Note{Text: body}, s)
		require.NoError(f, err)
		f.Add(msg)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		cp, err := ParseCheckpoint(msg, v)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrRootMismatch) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		n, err := note.Open(msg, note.VerifierList(v))
		require.NoError(t, err)
		require.Equal(t, n.Text, checkpointText(cp.Origin, cp.Size, cp.Root), "accepted checkpoint does not render back to its body")
	})
}

// FuzzCheckpointText: the body parser accepts only canonical bodies.
func FuzzCheckpointText(f *testing.F) {
	for _, body := range seedCheckpointBodies() {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		cp, err := parseCheckpointText(body)
		if err != nil {
			return
		}
		require.Equal(t, body, checkpointText(cp.Origin, cp.Size, cp.Root))
		require.Len(t, cp.Root, HashSize)
	})
}

// FuzzScanDataFile: the record scanner never panics; what it accepts
// re-encodes to exactly the bytes it consumed, and a torn tail is a prefix
// of the file's end that is too short to hold its record.
func FuzzScanDataFile(f *testing.F) {
	for _, seed := range seedDataFiles() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rebuilt []byte
		res, err := scan(bytes.NewReader(data), int64(len(data)), func(_ int64, e []byte) error {
			rebuilt = append(rebuilt, encodeRecord(e)...)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		require.Equal(t, int64(len(data)), res.end+res.torn, "scan must account for every byte")
		if res.headerTorn {
			require.Zero(t, res.end)
			return
		}
		require.Equal(t, data[:res.end], append(fileMagic[:], rebuilt...), "accepted records must re-encode to the input")
	})
}

// FuzzOpenDataFile: Open on an arbitrary data file never panics; if it
// succeeds, the file was either intact or cut short, every entry reads back,
// and a reopen sees the same size and root.
func FuzzOpenDataFile(f *testing.F) {
	for _, seed := range seedDataFiles() {
		f.Add(seed)
	}
	s, _ := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(dataPath(dir), data, 0o600))
		l, err := Open(dir, s, "fuzz.test")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("untyped error: %v", err)
			}
			require.Equal(t, data, readData(t, dir), "a refused file must be left as it was")
			return
		}
		size := l.Size()
		root, err := l.Root(size)
		require.NoError(t, err)
		entries := make([][]byte, size)
		for i := range entries {
			entries[i], err = l.Entry(uint64(i))
			require.NoError(t, err)
		}
		require.Equal(t, refMTH(entries), root)
		require.NoError(t, l.Close())

		l, err = Open(dir, s, "fuzz.test")
		require.NoError(t, err)
		defer func() { _ = l.Close() }()
		require.Equal(t, size, l.Size())
		require.Zero(t, l.Recovered(), "a repaired file needs no second repair")
		root2, err := l.Root(size)
		require.NoError(t, err)
		require.Equal(t, root, root2)
	})
}

func seedCheckpointBodies() []string {
	return []string{
		checkpointText("fuzz.test", 0, refMTH(nil)),
		checkpointText("fuzz.test", 1, refMTH([][]byte{[]byte("a")})),
		checkpointText("relay.implantfhe.test/log", 40, refMTH(testEntries(40))),
		checkpointText("fuzz.test", 18446744073709551615, bytes.Repeat([]byte{0xff}, HashSize)),
		"fuzz.test\n01\nAAAA\n",
		"fuzz.test\n1\n" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" + "extension\n",
		"\n\n\n",
	}
}

func seedDataFiles() [][]byte {
	file := func(entries ...[]byte) []byte {
		out := append([]byte(nil), fileMagic[:]...)
		for _, e := range entries {
			out = append(out, encodeRecord(e)...)
		}
		return out
	}
	three := file(testEntries(3)...)
	big := file(bytes.Repeat([]byte{0xa5}, 300), []byte("tail"))
	return [][]byte{
		nil,
		fileMagic[:4],
		file(),
		three,
		three[:len(three)-3],          // torn in the last record's trailer
		three[:len(three)-12],         // torn in the last record's header
		flip(three, len(fileMagic)+2), // corrupt first header
		flip(three, len(three)-6),     // corrupt last data
		big,
		append([]byte("NOTALOG!"), three[8:]...),
	}
}

// TestWriteFuzzSeedCorpus regenerates testdata/fuzz from the seeds above:
//
//	TLOG_WRITE_FUZZ_CORPUS=1 go test -run TestWriteFuzzSeedCorpus ./tlog
func TestWriteFuzzSeedCorpus(t *testing.T) {
	if os.Getenv("TLOG_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set TLOG_WRITE_FUZZ_CORPUS=1 to regenerate testdata/fuzz")
	}
	s, _ := fuzzKeys(t)
	write := func(target string, i int, literal string) {
		dir := filepath.Join("testdata", "fuzz", target)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		body := "go test fuzz v1\n" + literal + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644))
	}
	for i, body := range seedCheckpointBodies() {
		msg, err := note.Sign(&note.Note{Text: body}, s)
		if err != nil {
			continue // bodies note.Sign refuses still seed the text fuzzer
		}
		write("FuzzParseCheckpoint", i, fmt.Sprintf("[]byte(%q)", msg))
	}
	for i, body := range seedCheckpointBodies() {
		write("FuzzCheckpointText", i, fmt.Sprintf("string(%q)", body))
	}
	for i, data := range seedDataFiles() {
		write("FuzzScanDataFile", i, fmt.Sprintf("[]byte(%q)", data))
		write("FuzzOpenDataFile", i, fmt.Sprintf("[]byte(%q)", data))
	}
}
