package link

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, Write(&b, TypeBundle, []byte("frame")))
	require.NoError(t, Write(&b, TypeStatus, nil))
	typ, p, err := Read(&b)
	require.NoError(t, err)
	assert.Equal(t, TypeBundle, typ)
	assert.Equal(t, []byte("frame"), p)
	typ, p, err = Read(&b)
	require.NoError(t, err)
	assert.Equal(t, TypeStatus, typ)
	assert.Empty(t, p)
}

func TestOversizedAndTruncatedMessagesAreRefused(t *testing.T) {
	_, _, err := Read(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, 'B'}))
	assert.ErrorIs(t, err, ErrTooLarge)
	_, _, err = Read(bytes.NewReader([]byte{0, 0, 0, 0}))
	assert.ErrorIs(t, err, ErrTooLarge)
	_, _, err = Read(bytes.NewReader([]byte{0, 0, 0, 9, 'B', 1}))
	assert.Error(t, err)
}

func FuzzRead(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 'B', 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		typ, p, err := Read(bytes.NewReader(in))
		if err == nil && len(p)+5 > len(in) {
			t.Fatalf("read %c with %d bytes from %d", typ, len(p), len(in))
		}
	})
}
