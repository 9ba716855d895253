package firmware

import (
	"bytes"
	"testing"

	"github.com/implantfhe/implantfhe/kernel/pump"
)

// FuzzDecodeState: any state bytes decode or fail cleanly (the kernel's
// corruption check judges the values).
func FuzzDecodeState(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0}, 16))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = decodeState[pump.State](in)
	})
}
