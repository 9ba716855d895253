package tlog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// On-disk format of the data file (one per log directory):
//
//	file   = magic record*
//	magic  = "IFTLOG" 0x00 0x01                  (8 bytes, format version 1)
//	record = len:u32be  crc32c(len):u32be  data[len]  crc32c(data):u32be
//
// The header checksum covers the length on its own, so a damaged length in
// the middle of the file is reported as corruption instead of being mistaken
// for an incomplete last record (which would make Open truncate acknowledged
// entries). Only a record cut short by the end of the file is a torn tail.
const (
	dataFileName       = "entries.dat"
	checkpointFileName = "checkpoint"
	lockFileName       = "LOCK"

	// MaxEntrySize bounds one entry. The largest entries the relay logs are
	// command envelopes carrying a fresh top-level CKKS ciphertext (2.6–8.9 MB
	// per docs/architecture.md); 64 MiB leaves headroom while
	// keeping a damaged length from asking for gigabytes.
	MaxEntrySize = 64 << 20

	recordHeaderSize  = 8
	recordTrailerSize = 4
	recordOverhead    = recordHeaderSize + recordTrailerSize
)

var fileMagic = [8]byte{'I', 'F', 'T', 'L', 'O', 'G', 0, 1}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeRecord returns the framed record for one entry.
func encodeRecord(entry []byte) []byte {
	rec := make([]byte, recordHeaderSize+len(entry)+recordTrailerSize)
	binary.BigEndian.PutUint32(rec[0:4], uint32(len(entry)))
	binary.BigEndian.PutUint32(rec[4:8], crc32.Checksum(rec[0:4], castagnoli))
	copy(rec[recordHeaderSize:], entry)
	binary.BigEndian.PutUint32(rec[recordHeaderSize+len(entry):], crc32.Checksum(entry, castagnoli))
	return rec
}

// decodeHeader checks a record header and returns the entry length.
func decodeHeader(hdr []byte, off int64) (uint32, error) {
	n := binary.BigEndian.Uint32(hdr[0:4])
	if crc32.Checksum(hdr[0:4], castagnoli) != binary.BigEndian.Uint32(hdr[4:8]) {
		return 0, fmt.Errorf("%w: record header checksum mismatch at offset %d", ErrCorrupt, off)
	}
	if n > MaxEntrySize {
		return 0, fmt.Errorf("%w: record at offset %d has length %d > %d", ErrCorrupt, off, n, MaxEntrySize)
	}
	return n, nil
}

// scanResult describes the data file as scanned.
type scanResult struct {
	// end is the offset just past the last complete record (or past the
	// magic); everything from end on is a torn tail.
	end int64
	// torn is the number of bytes of the incomplete last record (0 if none).
	torn int64
	// headerTorn reports that the file is shorter than the magic (a crash
	// while creating it); the repair is to rewrite the magic.
	headerTorn bool
}

// scan reads a data file of the given size from r, calling visit for each
// complete, checksum-valid record with its offset and data. visit must not
// keep data. Corruption before the last record is ErrCorrupt; an incomplete
// last record is reported in the result, not as an error.
func scan(r io.Reader, size int64, visit func(off int64, data []byte) error) (scanResult, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if size < int64(len(fileMagic)) {
		got := make([]byte, size)
		if _, err := io.ReadFull(br, got); err != nil {
			return scanResult{}, fmt.Errorf("tlog: read data file header: %w", err)
		}
		if !bytes.HasPrefix(fileMagic[:], got) {
			return scanResult{}, fmt.Errorf("%w: data file header %q is not %q", ErrCorrupt, got, fileMagic[:])
		}
		return scanResult{end: 0, torn: size, headerTorn: true}, nil
	}
	var magic [8]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return scanResult{}, fmt.Errorf("tlog: read data file header: %w", err)
	}
	if magic != fileMagic {
		return scanResult{}, fmt.Errorf("%w: data file header %q is not %q", ErrCorrupt, magic[:], fileMagic[:])
	}
	off := int64(len(fileMagic))
	var hdr [recordHeaderSize]byte
	var trailer [recordTrailerSize]byte
	var buf []byte
	for off < size {
		if size-off < recordHeaderSize {
			return scanResult{end: off, torn: size - off}, nil
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return scanResult{}, fmt.Errorf("tlog: read record header at offset %d: %w", off, err)
		}
		n, err := decodeHeader(hdr[:], off)
		if err != nil {
			return scanResult{}, err
		}
		recLen := int64(recordOverhead) + int64(n)
		if size-off < recLen {
			return scanResult{end: off, torn: size - off}, nil
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		data := buf[:n]
		if _, err := io.ReadFull(br, data); err != nil {
			return scanResult{}, fmt.Errorf("tlog: read record at offset %d: %w", off, err)
		}
		if _, err := io.ReadFull(br, trailer[:]); err != nil {
			return scanResult{}, fmt.Errorf("tlog: read record trailer at offset %d: %w", off, err)
		}
		if crc32.Checksum(data, castagnoli) != binary.BigEndian.Uint32(trailer[:]) {
			return scanResult{}, fmt.Errorf("%w: record data checksum mismatch at offset %d", ErrCorrupt, off)
		}
		if err := visit(off, data); err != nil {
			return scanResult{}, err
		}
		off += recLen
	}
	return scanResult{end: off}, nil
}
