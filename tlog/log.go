package tlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/mod/sumdb/note"
)

// Log is an append-only, file-backed RFC 6962 Merkle log. It is safe for
// concurrent use. Only one Log (one process) may hold a directory at a time.
type Log struct {
	dir    string
	origin string
	signer note.Signer

	mu      sync.Mutex
	lock    *os.File
	data    *os.File
	end     int64   // offset just past the last record
	offsets []int64 // offsets[i] is where record i starts
	tree    *tree   // hashes of entries [0, Size())
	torn    int64   // bytes of torn tail truncated by Open
	failed  error   // sticky: set when a write or fsync failed
	closed  bool
	// cp is the last signed checkpoint, of the tree of size cpSize.
	cp     []byte
	cpSize uint64
}

// Open opens (creating if needed) the log in dir. Checkpoints are signed by
// signer and carry origin as their first line.
//
// Open scans every record, checking checksums and rebuilding the tree. An
// incomplete last record (a crash during an Append that never returned) is
// truncated away, see Recovered; any other damage is ErrCorrupt and nothing
// is modified. If the directory holds a checkpoint from an earlier run, the
// data must still contain the tree it signed, or Open fails with
// ErrRootMismatch: acknowledged history was lost or rewritten.
func Open(dir string, signer note.Signer, origin string) (*Log, error) {
	if signer == nil {
		return nil, errors.New("tlog: open: nil signer")
	}
	if err := validOrigin(origin); err != nil {
		return nil, fmt.Errorf("tlog: open: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlog: open: create directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tlog: open lock file: %w", err)
	}
	if err := lockFile(lock); err != nil {
		_ = lock.Close()
		return nil, err
	}
	l := &Log{dir: dir, origin: origin, signer: signer, lock: lock, tree: newTree()}
	if err := l.load(); err != nil {
		_ = l.closeFiles()
		return nil, err
	}
	return l, nil
}

func (l *Log) load() error {
	path := filepath.Join(l.dir, dataFileName)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("tlog: open data file: %w", err)
	}
	l.data = f
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("tlog: stat data file: %w", err)
	}
	res, err := scan(f, st.Size(), func(off int64, data []byte) error {
		l.offsets = append(l.offsets, off)
		return l.tree.append(hasher.HashLeaf(data))
	})
	if err != nil {
		return fmt.Errorf("tlog: open %s: %w", path, err)
	}
	if res.headerTorn {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("tlog: reset data file: %w", err)
		}
		if _, err := f.WriteAt(fileMagic[:], 0); err != nil {
			return fmt.Errorf("tlog: write data file header: %w", err)
		}
		res.end = int64(len(fileMagic))
	} else if res.torn > 0 {
		if err := f.Truncate(res.end); err != nil {
			return fmt.Errorf("tlog: truncate torn tail at offset %d: %w", res.end, err)
		}
	}
	if res.headerTorn || res.torn > 0 {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("tlog: sync data file after repair: %w", err)
		}
	}
	if created || res.headerTorn {
		if err := syncDir(l.dir); err != nil {
			return err
		}
	}
	l.end = res.end
	l.torn = res.torn
	return l.checkStoredCheckpoint()
}

// checkStoredCheckpoint cross-checks the last checkpoint this log wrote
// against the data just loaded.
func (l *Log) checkStoredCheckpoint() error {
	b, err := os.ReadFile(filepath.Join(l.dir, checkpointFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tlog: read stored checkpoint: %w", err)
	}
	cp, err := parseUnverifiedCheckpoint(b)
	if err != nil {
		return fmt.Errorf("tlog: stored checkpoint: %w", err)
	}
	if cp.Origin != l.origin {
		return fmt.Errorf("tlog: stored checkpoint has origin %q, log opened with %q", cp.Origin, l.origin)
	}
	if cp.Size > l.tree.size() {
		return fmt.Errorf("%w: stored checkpoint covers %d entries, data holds only %d", ErrRootMismatch, cp.Size, l.tree.size())
	}
	root, err := l.tree.rootAt(cp.Size)
	if err != nil {
		return err
	}
	if !equalHash(root, cp.Root) {
		return fmt.Errorf("%w: data differs from stored checkpoint at size %d", ErrRootMismatch, cp.Size)
	}
	return nil
}

// Recovered returns the number of bytes of torn tail that Open truncated
// (0 if the data file ended cleanly). A relay should report a nonzero value.
func (l *Log) Recovered() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.torn
}

// Append adds entry to the log and returns its index. The record is written
// and fsynced before Append returns. After a failed write or fsync the Log
// refuses further appends (ErrFailed) until reopened: retrying an fsync after
// a failure can report success for data that was never stored.
func (l *Log) Append(entry []byte) (uint64, error) {
	if len(entry) > MaxEntrySize {
		return 0, fmt.Errorf("tlog: append: entry is %d bytes, limit %d", len(entry), MaxEntrySize)
	}
	rec := encodeRecord(entry)
	leaf := hasher.HashLeaf(entry)

	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return 0, err
	}
	if _, err := l.data.WriteAt(rec, l.end); err != nil {
		l.failed = err
		return 0, fmt.Errorf("tlog: append: write record at offset %d: %w", l.end, err)
	}
	if err := l.data.Sync(); err != nil {
		l.failed = err
		return 0, fmt.Errorf("tlog: append: fsync: %w", err)
	}
	index := l.tree.size()
	if err := l.tree.append(leaf); err != nil {
		l.failed = err
		return 0, err
	}
	l.offsets = append(l.offsets, l.end)
	l.end += int64(len(rec))
	return index, nil
}

func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	if l.failed != nil {
		return fmt.Errorf("%w: %v", ErrFailed, l.failed)
	}
	return nil
}

// Size returns the number of entries in the log.
func (l *Log) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.size()
}

// Entry reads entry i back from disk, checking its checksum and that it
// still hashes to the leaf the tree was built from.
func (l *Log) Entry(i uint64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if i >= l.tree.size() {
		return nil, fmt.Errorf("tlog: entry %d: log size is %d", i, l.tree.size())
	}
	off := l.offsets[i]
	var hdr [recordHeaderSize]byte
	if _, err := l.data.ReadAt(hdr[:], off); err != nil {
		return nil, fmt.Errorf("tlog: entry %d: read header: %w", i, err)
	}
	n, err := decodeHeader(hdr[:], off)
	if err != nil {
		return nil, fmt.Errorf("tlog: entry %d: %w", i, err)
	}
	buf := make([]byte, int(n)+recordTrailerSize)
	if _, err := l.data.ReadAt(buf, off+recordHeaderSize); err != nil {
		return nil, fmt.Errorf("tlog: entry %d: read data: %w", i, err)
	}
	data := buf[:n]
	if crc32.Checksum(data, castagnoli) != binary.BigEndian.Uint32(buf[n:]) {
		return nil, fmt.Errorf("%w: entry %d: data checksum mismatch at offset %d", ErrCorrupt, i, off)
	}
	if !equalHash(hasher.HashLeaf(data), l.tree.leaf(i)) {
		return nil, fmt.Errorf("%w: entry %d changed on disk since the log was opened", ErrCorrupt, i)
	}
	return data, nil
}

// Root returns the RFC 6962 root hash of the first size entries.
func (l *Log) Root(size uint64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.rootAt(size)
}

// Checkpoint signs the current size and root as a checkpoint note
// ("<origin>\n<size>\n<base64 root>\n" plus signature), stores it in the log
// directory (atomically, fsynced) for offline audit, and returns it.
func (l *Log) Checkpoint() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	size := l.tree.size()
	if l.cp != nil && l.cpSize == size {
		// Signed when the log grows, not per request: the same size has
		// the same checkpoint.
		return append([]byte(nil), l.cp...), nil
	}
	root, err := l.tree.rootAt(size)
	if err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: checkpointText(l.origin, size, root)}, l.signer)
	if err != nil {
		return nil, fmt.Errorf("tlog: sign checkpoint at size %d: %w", size, err)
	}
	if err := writeFileAtomic(l.dir, checkpointFileName, msg); err != nil {
		return nil, fmt.Errorf("tlog: store checkpoint at size %d: %w", size, err)
	}
	l.cp, l.cpSize = msg, size
	return append([]byte(nil), msg...), nil
}

// InclusionProof returns the RFC 6962 audit path proving that entry index is
// in the tree of the given size (index < size <= Size()).
func (l *Log) InclusionProof(index, size uint64) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.inclusion(index, size)
}

// ConsistencyProof returns the RFC 6962 proof that the tree of size1 is a
// prefix of the tree of size2 (size1 <= size2 <= Size()).
func (l *Log) ConsistencyProof(size1, size2 uint64) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.consistency(size1, size2)
}

// Close releases the data file and the directory lock.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.closeFiles()
}

func (l *Log) closeFiles() error {
	var errs []error
	if l.data != nil {
		if err := l.data.Close(); err != nil {
			errs = append(errs, fmt.Errorf("tlog: close data file: %w", err))
		}
	}
	if l.lock != nil {
		if err := l.lock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("tlog: close lock file: %w", err))
		}
	}
	return errors.Join(errs...)
}

// writeFileAtomic replaces dir/name with data: write a temporary file,
// fsync it, rename it over the old one, fsync the directory.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("tlog: open directory for fsync: %w", err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("tlog: fsync directory %s: %w", dir, err)
	}
	return nil
}

func equalHash(a, b []byte) bool {
	return len(a) == HashSize && len(b) == HashSize && string(a) == string(b)
}
