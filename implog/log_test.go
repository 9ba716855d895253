package implog_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/implog"
)

const logName = "decisions.log"

// script is the payloads every crash test appends: empty, tiny, and larger
// than a header, so cuts land in every field of a record.
var script = func() [][]byte {
	var s [][]byte
	for i, n := range []int{0, 1, 17, 64, 200, 3, 100, 255, 8, 40} {
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(i*31 + j)
		}
		s = append(s, p)
	}
	return s
}()

func scriptBytes() int64 {
	var n int64
	for _, p := range script {
		n += int64(implog.Overhead + len(p))
	}
	return n
}

func newBoard(p mock.Plan) *mock.Board { return mock.New(mock.Config{Seed: 1, Plan: p}) }

func openOK(t *testing.T, st hal.Storage) (*implog.Log, implog.Recovery) {
	t.Helper()
	l, rec, err := implog.Open(st, logName)
	require.NoError(t, err)
	return l, rec
}

func payloads(t *testing.T, l *implog.Log) [][]byte {
	t.Helper()
	var got [][]byte
	var seq uint64
	for r, err := range l.Records() {
		require.NoError(t, err)
		seq++
		require.Equal(t, seq, r.Seq)
		got = append(got, r.Payload)
	}
	return got
}

func appendAll(t *testing.T, l *implog.Log, ps [][]byte) {
	t.Helper()
	for _, p := range ps {
		_, err := l.Append(p)
		require.NoError(t, err)
	}
}

func TestAppendThenReopenGivesSameRecords(t *testing.T) {
	b := newBoard(mock.Plan{})
	l, rec := openOK(t, b.Storage)
	assert.Equal(t, implog.Recovery{}, rec)
	seq, head := l.Head()
	assert.Zero(t, seq)
	assert.Zero(t, head)
	appendAll(t, l, script)
	seq, head = l.Head()
	assert.Equal(t, uint64(len(script)), seq)

	l2, rec := openOK(t, b.Storage)
	assert.Equal(t, implog.Recovery{Records: uint64(len(script))}, rec)
	seq2, head2 := l2.Head()
	assert.Equal(t, seq, seq2)
	assert.Equal(t, head, head2)
	assert.Equal(t, script, payloads(t, l2))
}

// TestLayoutMatchesPackageDoc decodes a log by the documented layout alone,
// with no implog code, so the doc and the auditor's tools cannot drift.
func TestLayoutMatchesPackageDoc(t *testing.T) {
	b := newBoard(mock.Plan{})
	l, _ := openOK(t, b.Storage)
	appendAll(t, l, script[:4])
	data, _ := b.Storage.Peek(logName)

	var prev [32]byte
	off := 0
	for i, p := range script[:4] {
		r := data[off:]
		n := int(binary.BigEndian.Uint32(r[0:4]))
		require.Equal(t, len(p), n)
		require.Equal(t, uint64(i+1), binary.BigEndian.Uint64(r[4:12]))
		require.Equal(t, crc32.Checksum(r[0:12], crc32.MakeTable(crc32.Castagnoli)), binary.BigEndian.Uint32(r[12:16]))
		require.Equal(t, prev[:], r[16:48])
		require.Equal(t, p, r[48:48+n])
		h := sha256.Sum256(bytes.Join([][]byte{[]byte("implantfhe/implog/v1 record\x00"), r[4:12], prev[:], p}, nil))
		require.Equal(t, h[:], r[48+n:80+n])
		prev, off = h, off+80+n
	}
	require.Equal(t, len(data), off)
	_, head := l.Head()
	assert.Equal(t, prev, [32]byte(head))
}

func TestOpenTruncatesTornTail(t *testing.T) {
	b := newBoard(mock.Plan{})
	l, _ := openOK(t, b.Storage)
	appendAll(t, l, script[:3])
	good, _ := b.Storage.Peek(logName)
	next := 80 + len(script[3])
	for _, cut := range []int{1, implog.HeaderSize - 1, implog.HeaderSize, 48, 48 + 10, next - 1} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			b := newBoard(mock.Plan{})
			b.Storage.Poke(logName, good)
			l, _ := openOK(t, b.Storage)
			_, err := l.Append(script[3])
			require.NoError(t, err)
			full, _ := b.Storage.Peek(logName)
			torn := full[:len(good)+cut]

			n, _, err := implog.Verify(torn)
			require.ErrorIs(t, err, implog.ErrTornTail, "the auditor is told")
			assert.Equal(t, uint64(3), n)

			b.Storage.Poke(logName, torn)
			l, rec := openOK(t, b.Storage)
			assert.Equal(t, implog.Recovery{Records: 3, TornBytes: int64(cut)}, rec)
			after, _ := b.Storage.Peek(logName)
			assert.Equal(t, good, after)
			_, err = l.Append([]byte("next"))
			require.NoError(t, err)
			data, _ := b.Storage.Peek(logName)
			n, _, err = implog.Verify(data)
			require.NoError(t, err)
			assert.Equal(t, uint64(4), n)
		})
	}
}

func TestDamageIsChainBrokenNeverDropped(t *testing.T) {
	b := newBoard(mock.Plan{})
	l, _ := openOK(t, b.Storage)
	appendAll(t, l, script[:4])
	good, _ := b.Storage.Peek(logName)
	recOff := func(i int) int { // offset of record i (0-based)
		o := 0
		for _, p := range script[:i] {
			o += 80 + len(p)
		}
		return o
	}
	flip := func(off int) func([]byte) []byte {
		return func(d []byte) []byte { d[off] ^= 0x40; return d }
	}
	tests := []struct {
		name   string
		damage func([]byte) []byte
		index  uint64
		reason string
	}{
		{"length field of a middle record", flip(recOff(2) + 2), 3, "header checksum"},
		{"seq of a middle record", flip(recOff(1) + 11), 2, "header checksum"},
		{"prev hash of a middle record", flip(recOff(2) + 20), 3, "previous hash"},
		{"payload of a middle record", flip(recOff(1) + 48), 2, "record hash"},
		{"hash of a middle record", flip(recOff(1) + 48 + len(script[1])), 2, "record hash"},
		{"payload of the complete last record", flip(recOff(3) + 50), 4, "record hash"},
		{"a record replayed at the end", func(d []byte) []byte {
			return append(d, d[recOff(1):recOff(2)]...)
		}, 5, "sequence"},
		{"a record removed from the middle", func(d []byte) []byte {
			return append(d[:recOff(1):recOff(1)], d[recOff(2):]...)
		}, 2, "sequence"},
		{"garbage after the last record", func(d []byte) []byte {
			return append(d, bytes.Repeat([]byte{0xff}, 40)...)
		}, 5, "header checksum"},
		{"first record's prev not zero", flip(16), 1, "previous hash"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.damage(append([]byte(nil), good...))
			n, _, err := implog.Verify(data)
			var ce *implog.ChainError
			require.ErrorAs(t, err, &ce)
			require.ErrorIs(t, err, implog.ErrChainBroken)
			assert.Equal(t, tc.index, ce.Index)
			assert.Contains(t, ce.Reason, tc.reason)
			assert.Equal(t, tc.index-1, n, "records before the damage still verify")

			b := newBoard(mock.Plan{})
			b.Storage.Poke(logName, data)
			l, rec, err := implog.Open(b.Storage, logName)
			require.ErrorIs(t, err, implog.ErrChainBroken)
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.index, ce.Index)
			assert.Nil(t, l)
			assert.Equal(t, tc.index-1, rec.Records)
			after, _ := b.Storage.Peek(logName)
			assert.Equal(t, data, after, "Open never rewrites a damaged log")
		})
	}
}

func TestAppendRejectsOversizedPayload(t *testing.T) {
	l, _ := openOK(t, newBoard(mock.Plan{}).Storage)
	_, err := l.Append(make([]byte, implog.MaxPayload+1))
	require.ErrorIs(t, err, implog.ErrPayloadTooLarge)
	seq, err := l.Append(make([]byte, implog.MaxPayload))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), seq)
}

// TestWriteFailuresAreRolledBack: with a third of writes failing after a
// random prefix, retried appends still give exactly the acknowledged records.
func TestWriteFailuresAreRolledBack(t *testing.T) {
	b := mock.New(mock.Config{Seed: 3, Plan: mock.Plan{Storage: mock.StorageFaults{WriteFail: mock.Always / 3}}})
	l, _ := openOK(t, b.Storage)
	failures := 0
	for _, p := range script {
		for {
			_, err := l.Append(p)
			if err == nil {
				break
			}
			require.ErrorIs(t, err, hal.ErrStorageWrite)
			failures++
		}
	}
	require.Positive(t, failures)
	assert.Equal(t, script, payloads(t, l))
	data, _ := b.Storage.Peek(logName)
	n, _, err := implog.Verify(data)
	require.NoError(t, err)
	assert.Equal(t, uint64(len(script)), n)
}

// crashRun appends script from where the log stands until an Append fails,
// and returns how many records were acknowledged.
func crashRun(l *implog.Log, from int) (acked int, err error) {
	for _, p := range script[from:] {
		if _, err := l.Append(p); err != nil {
			return acked, err
		}
		acked++
	}
	return acked, nil
}

// checkRecovered opens the log after a restart and checks the crash
// properties; it returns the recovered log and its record count.
func checkRecovered(t *testing.T, b *mock.Board, acked, attempted int) (*implog.Log, int) {
	t.Helper()
	l, rec, err := implog.Open(b.Storage, logName)
	require.NoError(t, err, "the log opens after every power cut")
	got := payloads(t, l)
	require.GreaterOrEqual(t, len(got), acked, "an acknowledged record was lost")
	require.LessOrEqual(t, len(got), attempted, "a record appeared that was never appended")
	for i := range got {
		require.True(t, bytes.Equal(script[i], got[i]), "record %d: records are an exact prefix of the script, each once", i+1)
	}
	data, _ := b.Storage.Peek(logName)
	n, head, err := implog.Verify(data)
	require.NoError(t, err, "the recovered log verifies offline")
	seq, h := l.Head()
	require.Equal(t, uint64(len(got)), n)
	require.Equal(t, rec.Records, n)
	require.Equal(t, seq, n)
	require.Equal(t, h, head)
	return l, len(got)
}

// TestPowerCutAtEveryByte cuts power at every byte offset of the script's
// writes, with and without a write-back cache, and after each restart checks
// that nothing acknowledged is lost, nothing is duplicated or invented, the
// log verifies, and appending resumes to the full script.
func TestPowerCutAtEveryByte(t *testing.T) {
	total := scriptBytes()
	for _, dropUnsynced := range []bool{false, true} {
		t.Run(fmt.Sprint("dropUnsynced=", dropUnsynced), func(t *testing.T) {
			points := 0
			for cut := int64(0); cut <= total; cut++ {
				b := newBoard(mock.Plan{Storage: mock.StorageFaults{DropUnsynced: dropUnsynced}})
				l, _ := openOK(t, b.Storage)
				b.Storage.CutPowerAfterBytes(cut)
				acked, err := crashRun(l, 0)
				if cut < total {
					require.ErrorIs(t, err, hal.ErrPowerLoss, "cut %d", cut)
				} else {
					require.NoError(t, err)
				}
				b.Restart()
				attempted := min(acked+1, len(script))
				l, n := checkRecovered(t, b, acked, attempted)
				_, err = crashRun(l, n)
				require.NoError(t, err)
				require.Equal(t, script, payloads(t, l), "cut %d: appending resumes after recovery", cut)
				points++
			}
			t.Logf("%d power-cut points over %d bytes", points, total)
		})
	}
}

// TestPowerCutAtEveryStorageCall cuts power before each mutating storage call
// (append, sync, truncate), which reaches the window between a record's write
// and its sync that byte cuts cannot.
func TestPowerCutAtEveryStorageCall(t *testing.T) {
	b := newBoard(mock.Plan{})
	l, _ := openOK(t, b.Storage)
	_, err := crashRun(l, 0)
	require.NoError(t, err)
	calls := b.Storage.MutatingOps()
	for _, dropUnsynced := range []bool{false, true} {
		for k := int64(0); k <= calls; k++ {
			b := newBoard(mock.Plan{Storage: mock.StorageFaults{DropUnsynced: dropUnsynced}})
			l, _ := openOK(t, b.Storage)
			b.Storage.CutPowerAtOp(k)
			acked, _ := crashRun(l, 0)
			b.Restart()
			l, n := checkRecovered(t, b, acked, min(acked+1, len(script)))
			_, err := crashRun(l, n)
			require.NoError(t, err)
		}
	}
}

// TestRepeatedPowerCuts cuts power again and again, including during the
// recovery itself, from a seed; a failure prints the seed to replay.
func TestRepeatedPowerCuts(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		b := mock.New(mock.Config{Seed: seed, Plan: mock.Plan{Storage: mock.StorageFaults{DropUnsynced: seed%2 == 0}}})
		acked := 0
		for round := 0; acked < len(script); round++ {
			require.Less(t, round, 1000, "seed %d makes no progress", seed)
			b.Storage.CutPowerAtOp(int64(rng.IntN(3))) // maybe during Open's truncate
			l, _, err := implog.Open(b.Storage, logName)
			if err != nil {
				require.ErrorIs(t, err, hal.ErrPowerLoss, "seed %d", seed)
				b.Restart()
				continue
			}
			b.Storage.CutPowerAtOp(-1)
			b.Storage.CutPowerAfterBytes(int64(rng.IntN(600)))
			seq, _ := l.Head()
			n, _ := crashRun(l, int(seq))
			acked = int(seq) + n
			b.Restart()
			_, got := checkRecovered(t, b, acked, min(acked+1, len(script)))
			acked = got
		}
	}
}

func TestLogNeedsRecoveryAfterFailedRollback(t *testing.T) {
	b := newBoard(mock.Plan{})
	l, _ := openOK(t, b.Storage)
	b.Storage.CutPowerAfterBytes(5)
	_, err := l.Append([]byte("lost"))
	require.ErrorIs(t, err, hal.ErrPowerLoss)
	b.Restart()
	_, err = l.Append([]byte("refused"))
	require.ErrorIs(t, err, implog.ErrNeedsRecovery, "a log whose storage state is unknown refuses to append")
	l, rec := openOK(t, b.Storage)
	assert.Equal(t, implog.Recovery{TornBytes: 5}, rec)
	_, err = l.Append([]byte("fine"))
	require.NoError(t, err)
}

func TestRecordsReportsReadErrors(t *testing.T) {
	b := newBoard(mock.Plan{})
	l, _ := openOK(t, b.Storage)
	appendAll(t, l, script[:2])
	b.CutPower()
	var errs []error
	for _, err := range l.Records() {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	assert.True(t, errors.Is(errs[0], hal.ErrPowerLoss))
}

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprint(size, "B"), func(b *testing.B) {
			m := newBoard(mock.Plan{})
			l, _, err := implog.Open(m.Storage, logName)
			require.NoError(b, err)
			p := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Append(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	m := newBoard(mock.Plan{})
	l, _, _ := implog.Open(m.Storage, logName)
	p := make([]byte, 64)
	for range 1000 {
		_, _ = l.Append(p)
	}
	data, _ := m.Storage.Peek(logName)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := implog.Verify(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConcurrentAppendsFormOneChain(t *testing.T) {
	b := newBoard(mock.Plan{})
	l, _ := openOK(t, b.Storage)
	const writers, each = 4, 50
	done := make(chan []uint64)
	for w := range writers {
		go func() {
			var seqs []uint64
			for i := range each {
				seq, err := l.Append([]byte(fmt.Sprintf("w%d-%d", w, i)))
				if err != nil {
					panic(err)
				}
				seqs = append(seqs, seq)
			}
			done <- seqs
		}()
	}
	seen := map[uint64]bool{}
	for range writers {
		for _, s := range <-done {
			require.False(t, seen[s], "seq %d handed out twice", s)
			seen[s] = true
		}
	}
	data, _ := b.Storage.Peek(logName)
	n, _, err := implog.Verify(data)
	require.NoError(t, err)
	assert.Equal(t, uint64(writers*each), n)
}
