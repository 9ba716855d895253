package firmware

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordRoundTrip(t *testing.T) {
	r := &Record{Type: RecStep, NowMs: 42, Cmd: "bolus", Ctr: 7, Values: []int64{300}, Accepted: true, Reason: "ok",
		Deliver: []int64{300}, Alerts: []string{"verdict-mismatch"}, State: []byte{1, 2, 3}, VerdictCtr: 3, AckCtr: 9}
	b, err := EncodeRecord(r)
	require.NoError(t, err)
	got, err := DecodeRecord(b)
	require.NoError(t, err)
	assert.Equal(t, r, got)
	_, err = DecodeRecord([]byte{0xff})
	assert.Error(t, err)
}

// FuzzDecodeRecord: log and acknowledgement records never panic the decoder.
func FuzzDecodeRecord(f *testing.F) {
	b, _ := EncodeRecord(&Record{Type: RecStep, NowMs: 1, Deliver: []int64{5}})
	f.Add(b)
	f.Add([]byte{0xa1, 0x01, 0x64, 's', 't', 'e', 'p'})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeRecord(in)
		if err != nil {
			return
		}
		if _, err := EncodeRecord(r); err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
	})
}

// FuzzDecodeState: any state bytes decode or fail cleanly (the kernel's
// corruption check judges the values).
func FuzzDecodeState(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0}, 16))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = decodeState(in)
	})
}
