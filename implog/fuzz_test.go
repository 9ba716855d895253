package implog_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/implog"
)

// The committed seed corpus (testdata/fuzz/Fuzz*) holds an empty log, a
// valid log, a torn one, a damaged one and a header announcing a huge payload.

func FuzzVerify(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		n, head, err := implog.Verify(data)
		require.LessOrEqual(t, n*implog.Overhead, uint64(len(data)))
		var ce *implog.ChainError
		if err != nil && !errors.Is(err, implog.ErrTornTail) && !errors.As(err, &ce) {
			t.Fatalf("Verify returned an untyped error: %v", err)
		}
		// Decode agrees with Verify record for record.
		var m uint64
		var last implog.Hash
		var derr error
		for r, err := range implog.Decode(data) {
			if err != nil {
				derr = err
				break
			}
			m++
			require.Equal(t, m, r.Seq)
			last = r.Hash
		}
		require.Equal(t, n, m)
		require.Equal(t, head, last)
		require.Equal(t, err == nil, derr == nil)
	})
}

func FuzzOpen(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := mock.New(mock.Config{Seed: 1})
		b.Storage.Poke(logName, data)
		vn, _, verr := implog.Verify(data)
		l, rec, err := implog.Open(b.Storage, logName)
		if err != nil {
			require.ErrorIs(t, err, implog.ErrChainBroken, "with healthy storage only damage stops Open")
			require.ErrorIs(t, verr, implog.ErrChainBroken)
			after, _ := b.Storage.Peek(logName)
			require.True(t, bytes.Equal(data, after), "a damaged log is left as it was")
			return
		}
		require.Equal(t, vn, rec.Records)
		require.Equal(t, errors.Is(verr, implog.ErrTornTail), rec.TornBytes > 0)
		after, _ := b.Storage.Peek(logName)
		require.True(t, bytes.Equal(data[:len(data)-int(rec.TornBytes)], after), "Open only cuts a tail")
		seq, err := l.Append([]byte("after-fuzz"))
		require.NoError(t, err)
		require.Equal(t, vn+1, seq)
		final, _ := b.Storage.Peek(logName)
		n, _, err := implog.Verify(final)
		require.NoError(t, err)
		require.Equal(t, vn+1, n)
	})
}
