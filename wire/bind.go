package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// BindKeySize is the size of the clinician–implant binding key.
const BindKeySize = 32

// CommitValues is the commitment a clinician puts in a command's Bind field:
// HMAC-SHA256 under a key shared only by the clinician and the implant, over
// the device, counter, command kind and plaintext values. The relay, which
// never has the key, cannot substitute other values in the packet it sends
// the implant (it could, since it holds pk_I): the implant recomputes the
// commitment over the values it decrypts and refuses a mismatch.
func CommitValues(key []byte, device string, counter uint64, subkind uint8, values []int64) []byte {
	m := hmac.New(sha256.New, key)
	var b [8]byte
	m.Write([]byte("implantfhe/values/v1\x00"))
	m.Write([]byte{byte(len(device))})
	m.Write([]byte(device))
	binary.BigEndian.PutUint64(b[:], counter)
	m.Write(b[:])
	m.Write([]byte{subkind, byte(len(values))})
	for _, v := range values {
		binary.BigEndian.PutUint64(b[:], uint64(v))
		m.Write(b[:])
	}
	return m.Sum(nil)
}

// CheckValues reports whether commit matches the values (constant time).
func CheckValues(key []byte, device string, counter uint64, subkind uint8, values []int64, commit []byte) bool {
	return hmac.Equal(CommitValues(key, device, counter, subkind, values), commit)
}
