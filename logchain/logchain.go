// Package logchain is the implant log's record format: length, sequence and
// checksum header, the previous record's hash, the payload and the record's
// own hash (SHA-256 over a domain tag, the sequence, the previous hash and
// the payload). Auditors verify a log image with it offline; package implog
// writes and recovers the log on the implant's storage with it. It links no
// device code.
package logchain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"iter"
)

// Tag is the domain-separation prefix of every record hash.
const Tag = "implantfhe/implog/v1 record\x00"

// Sizes of the record layout (see the package doc).
const (
	HeaderSize = 16
	HashSize   = sha256.Size
	// Overhead is the size of a record with an empty payload.
	Overhead = HeaderSize + 2*HashSize
	// MaxPayload bounds one payload, so a header cannot make a reader
	// allocate or skip more than this.
	MaxPayload = 1 << 16
)

// Hash is a record hash, the link of the chain.
type Hash [HashSize]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Record is one decoded log record.
type Record struct {
	Seq     uint64
	Prev    Hash
	Payload []byte
	Hash    Hash
}

var (
	// ErrChainBroken: the log holds a record that does not verify and is not
	// a torn tail. The error is a *ChainError.
	ErrChainBroken = errors.New("implog: chain broken")
	// ErrTornTail: the data ends inside a record (a power cut mid-append).
	// Verify reports it; Open repairs it.
	ErrTornTail = errors.New("implog: torn tail")
	// ErrPayloadTooLarge: Append was given more than MaxPayload bytes.
	ErrPayloadTooLarge = errors.New("implog: payload too large")
	// ErrNeedsRecovery: a failed append left storage in an unknown state;
	// Open the log again.
	ErrNeedsRecovery = errors.New("implog: needs recovery")
)

// ChainError locates the first record that does not verify.
type ChainError struct {
	// Index is the seq the bad record should have (1-based): records
	// 1..Index-1 verified.
	Index  uint64
	Offset int64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("implog: chain broken at record %d (offset %d): %s", e.Index, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrChainBroken) true for a *ChainError.
func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordHash is SHA-256(Tag || seq || prev || payload).
func recordHash(seq uint64, prev *Hash, payload []byte) Hash {
	h := sha256.New()
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	h.Write([]byte(Tag))
	h.Write(s[:])
	h.Write(prev[:])
	h.Write(payload)
	var out Hash
	h.Sum(out[:0])
	return out
}

// AppendRecord encodes a record onto dst and returns it with the record's hash.
func AppendRecord(dst []byte, seq uint64, prev *Hash, payload []byte) ([]byte, Hash) {
	var hdr [HeaderSize]byte
	binary.BigEndian.PutUint32(hdr[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint64(hdr[4:12], seq)
	binary.BigEndian.PutUint32(hdr[12:16], crc32.Checksum(hdr[:12], castagnoli))
	h := recordHash(seq, prev, payload)
	dst = append(dst, hdr[:]...)
	dst = append(dst, prev[:]...)
	dst = append(dst, payload...)
	dst = append(dst, h[:]...)
	return dst, h
}

// scanner walks a log image record by record. It never reads outside data and
// never allocates beyond the records it returns.
type scanner struct {
	data []byte
	off  int
	seq  uint64
	head Hash
	err  error // ErrTornTail (wrapped) or *ChainError once the walk stops early
}

// next decodes the record at s.off; false at the end or on error (s.err).
func (s *scanner) next() (Record, bool) {
	rest := s.data[s.off:]
	if len(rest) == 0 || s.err != nil {
		return Record{}, false
	}
	want := s.seq + 1
	broken := func(reason string) (Record, bool) {
		s.err = &ChainError{Index: want, Offset: int64(s.off), Reason: reason}
		return Record{}, false
	}
	torn := func() (Record, bool) {
		s.err = fmt.Errorf("%w: record %d at offset %d has %d of its bytes", ErrTornTail, want, s.off, len(rest))
		return Record{}, false
	}
	if len(rest) < HeaderSize {
		return torn()
	}
	if crc32.Checksum(rest[:12], castagnoli) != binary.BigEndian.Uint32(rest[12:16]) {
		return broken("header checksum mismatch")
	}
	n := binary.BigEndian.Uint32(rest[0:4])
	if n > MaxPayload {
		return broken(fmt.Sprintf("payload length %d exceeds %d", n, MaxPayload))
	}
	if seq := binary.BigEndian.Uint64(rest[4:12]); seq != want {
		return broken(fmt.Sprintf("sequence %d, want %d", seq, want))
	}
	size := Overhead + int(n)
	if len(rest) < size {
		return torn()
	}
	r := Record{Seq: want, Payload: rest[48 : 48+n : 48+n]}
	copy(r.Prev[:], rest[16:48])
	copy(r.Hash[:], rest[48+n:size])
	if r.Prev != s.head {
		return broken("previous hash does not match the chain")
	}
	if h := recordHash(r.Seq, &r.Prev, r.Payload); !bytes.Equal(h[:], r.Hash[:]) {
		return broken("record hash mismatch")
	}
	s.seq, s.head, s.off = want, r.Hash, s.off+size
	return r, true
}

// Scan walks a whole log image and returns the number of records that
// verify, the last one's hash, the offset where they end, and why the walk
// stopped early (nil, ErrTornTail wrapped, or a *ChainError).
func Scan(data []byte) (n uint64, head Hash, end int, err error) {
	s := scanner{data: data}
	for {
		if _, ok := s.next(); !ok {
			return s.seq, s.head, s.off, s.err
		}
	}
}

// Verify checks a whole log image offline. It returns the number of records
// that verify and the hash of the last of them (zero for none); err is nil
// when the whole image verifies, wraps ErrTornTail when it ends inside a
// record, and is a *ChainError when a record is damaged. Verify never panics
// and does not retain data.
func Verify(data []byte) (n uint64, head Hash, err error) {
	s := scanner{data: data}
	for {
		if _, ok := s.next(); !ok {
			return s.seq, s.head, s.err
		}
	}
}

// Decode yields the records of a log image in order. If the image does not
// verify, the last pair yielded carries the error (as Verify's) and a zero
// Record. Payloads alias data.
func Decode(data []byte) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		s := scanner{data: data}
		for {
			r, ok := s.next()
			if !ok {
				if s.err != nil {
					yield(Record{}, s.err)
				}
				return
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}
