package firmware

import (
	"bytes"
	"testing"
)

// FuzzDecodeState: any state bytes decode or fail cleanly (the kernel's
// corruption check judges the values).
func FuzzDecodeState(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0}, 16))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = decodeState(in)
	})
}
