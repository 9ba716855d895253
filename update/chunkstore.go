package update

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/implantfhe/implantfhe/objstore"
)

// objstore.Storage has no positional write, so a slot is one object per chunk,
// <prefix>.slot.<a|b>.<index>. Chunks arrive in any order and each is
// written once with Overwrite; the chunk object itself is the persistent
// "received" mark. A record binds its plaintext to the image it belongs to,
// so a chunk left from an earlier image in the same slot never counts:
//
//	offset  size  field
//	0       4     magic "IUC1"
//	4       32    SHA-256 of the whole plaintext image
//	36      4     chunk size of that image
//	40      4     chunk index
//	44      4     plaintext length n
//	48      n     plaintext
//	48+n    4     CRC-32C of bytes 0..47+n
//
// The CRC only detects torn writes: the image's SHA-256, checked at Finish
// and at every Boot, is what establishes integrity.
const (
	chunkMagic   = "IUC1"
	chunkHdrSize = 48
)

func chunkObject(prefix string, slot SlotID, i int) string {
	return fmt.Sprintf("%s.slot.%c.%06d", prefix, 'a'+byte(slot), i)
}

type imageRef struct {
	digest    []byte
	size      uint64
	chunkSize uint32
}

func (r imageRef) chunks() int {
	return int((r.size + uint64(r.chunkSize) - 1) / uint64(r.chunkSize))
}

func (r imageRef) plainLen(i int) int {
	if i == r.chunks()-1 {
		return int(r.size) - i*int(r.chunkSize)
	}
	return int(r.chunkSize)
}

func encodeChunk(ref imageRef, i int, pt []byte) []byte {
	b := make([]byte, 0, chunkHdrSize+len(pt)+4)
	b = append(b, chunkMagic...)
	b = append(b, ref.digest...)
	b = binary.BigEndian.AppendUint32(b, ref.chunkSize)
	b = binary.BigEndian.AppendUint32(b, uint32(i))
	b = binary.BigEndian.AppendUint32(b, uint32(len(pt)))
	b = append(b, pt...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeChunk returns the plaintext of a chunk record if it is intact and
// belongs to chunk i of image ref.
func decodeChunk(ref imageRef, i int, b []byte) ([]byte, bool) {
	want := ref.plainLen(i)
	if len(b) != chunkHdrSize+want+4 || !bytes.Equal(b[:4], []byte(chunkMagic)) ||
		!bytes.Equal(b[4:36], ref.digest) ||
		binary.BigEndian.Uint32(b[36:40]) != ref.chunkSize ||
		binary.BigEndian.Uint32(b[40:44]) != uint32(i) ||
		binary.BigEndian.Uint32(b[44:48]) != uint32(want) {
		return nil, false
	}
	end := len(b) - 4
	if crc32.Checksum(b[:end], castagnoli) != binary.BigEndian.Uint32(b[end:]) {
		return nil, false
	}
	return b[chunkHdrSize:end], true
}

// readChunk reads chunk i of ref from slot; ok is false when it is absent,
// torn or belongs to another image.
func readChunk(st objstore.Storage, prefix string, slot SlotID, ref imageRef, i int) ([]byte, bool, error) {
	data, err := st.ReadAll(chunkObject(prefix, slot, i))
	if err != nil {
		if isNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("update: read chunk %d of slot %s: %w", i, slot, err)
	}
	pt, ok := decodeChunk(ref, i, data)
	return pt, ok, nil
}

// hashSlot reads every chunk of ref from slot and checks the image digest.
// With out non-nil the plaintext is appended to it.
func hashSlot(st objstore.Storage, prefix string, slot SlotID, ref imageRef, out *[]byte) error {
	h := sha256.New()
	for i := range ref.chunks() {
		pt, ok, err := readChunk(st, prefix, slot, ref, i)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: slot %s chunk %d missing or torn", ErrDigest, slot, i)
		}
		h.Write(pt)
		if out != nil {
			*out = append(*out, pt...)
		}
	}
	if !bytes.Equal(h.Sum(nil), ref.digest) {
		return fmt.Errorf("%w: slot %s", ErrDigest, slot)
	}
	return nil
}
