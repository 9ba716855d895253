package update_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/update"
)

// FuzzDecodeManifest: the decoder never panics, and whatever it accepts
// re-encodes to exactly the bytes it read (the bytes a signature covers).
func FuzzDecodeManifest(f *testing.F) {
	for _, s := range manifestSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := update.DecodeManifest(b)
		if err != nil {
			return
		}
		again, err := m.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted a manifest that does not re-encode to itself: %v", err)
		}
		_ = m.Body.Chunks()
	})
}

// FuzzDecodeStateRecord: the slot-state decoder never panics, and what it
// accepts re-encodes to itself and satisfies the state invariants.
func FuzzDecodeStateRecord(f *testing.F) {
	for _, s := range stateSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkStateRecord(t, b)
		// The checksum stops most mutations at the framing; also feed the
		// input as a correctly framed CBOR body to reach the decoder.
		if len(b) > 20 {
			checkStateRecord(t, reframe(b[16:len(b)-4]))
		}
	})
}

func checkStateRecord(t *testing.T, b []byte) {
	gen, st, err := update.DecodeStateRecord(b)
	if err != nil {
		return
	}
	again, err := update.EncodeStateRecord(gen, st)
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("accepted a state record that does not re-encode to itself: %v", err)
	}
	if !st.Images[st.Active].Valid {
		t.Fatal("accepted a state whose active slot holds no image")
	}
}

// reframe wraps body as state record generation 1 (the layout in state.go).
func reframe(body []byte) []byte {
	b := append([]byte("IUS1"), 0, 0, 0, 0, 0, 0, 0, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

func manifestSeeds(t testing.TB) [][]byte {
	f := newFixture(t, 30)
	r := f.release(t, f.bytes(1300), 2, 2, f.mfr[:2])
	return [][]byte{r.manifest, r.manifest[:len(r.manifest)/2], {0xa0}, {0xa2, 0x01, 0xa0, 0x02, 0x80}}
}

func stateSeeds(t testing.TB) [][]byte {
	f := newFixture(t, 31)
	s := f.open(t)
	var seeds [][]byte
	grab := func() {
		for _, name := range []string{"update.state.a", "update.state.b"} {
			if b, ok := f.board.Storage.Peek(name); ok {
				seeds = append(seeds, b)
			}
		}
	}
	r := f.release(t, f.bytes(700), 2, 2, f.mfr[:2])
	require.NoError(t, s.Begin(r.manifest))
	grab() // idle + downloading
	for i, c := range r.chunks {
		require.NoError(t, s.WriteChunk(i, c))
	}
	require.NoError(t, s.Finish())
	_, err := s.Boot(true)
	require.NoError(t, err)
	grab() // pending + trying
	return append(seeds, []byte("IUS1"))
}

// TestWriteFuzzCorpus regenerates testdata/fuzz when UPDATE_FUZZ_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("UPDATE_FUZZ_CORPUS") != "1" {
		t.Skip("set UPDATE_FUZZ_CORPUS=1 to regenerate the seed corpora")
	}
	for target, seeds := range map[string][][]byte{
		"FuzzDecodeManifest":    manifestSeeds(t),
		"FuzzDecodeStateRecord": stateSeeds(t),
	} {
		dir := filepath.Join("testdata", "fuzz", target)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644))
		}
	}
}
