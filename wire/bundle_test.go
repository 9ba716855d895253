package wire

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBundleRoundTripAndLimits(t *testing.T) {
	b := &Bundle{Command: []byte("cmd"), Verdict: []byte("verdict")}
	enc, err := b.Marshal()
	require.NoError(t, err)
	got, err := DecodeBundle(enc, MaxRadioFrame)
	require.NoError(t, err)
	assert.Equal(t, b, got)

	_, err = DecodeBundle(enc, len(enc)-1)
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = DecodeBundle(append(enc, 0), MaxRadioFrame)
	assert.ErrorIs(t, err, ErrMalformed)
	alone, err := (&Bundle{Command: []byte("c")}).Marshal()
	require.NoError(t, err)
	got, err = DecodeBundle(alone, MaxRadioFrame)
	require.NoError(t, err, "a command without a verdict decodes; the implant decides if it needs one")
	assert.Empty(t, got.Verdict)
	empty, err := (&Bundle{Verdict: []byte("v")}).Marshal()
	require.NoError(t, err)
	_, err = DecodeBundle(empty, MaxRadioFrame)
	assert.ErrorIs(t, err, ErrMalformed)
}

func FuzzDecodeBundle(f *testing.F) {
	enc, _ := (&Bundle{Command: []byte("cmd"), Verdict: []byte("verdict")}).Marshal()
	f.Add(enc)
	f.Add([]byte{0xa2, 0x01, 0x41, 0x00, 0x02, 0x41, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := DecodeBundle(in, MaxRadioFrame)
		if err != nil {
			return
		}
		again, err := b.Marshal()
		if err != nil || !bytes.Equal(again, in) {
			t.Fatal("accepted a bundle that does not re-encode to itself")
		}
	})
}
