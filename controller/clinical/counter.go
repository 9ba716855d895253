package clinical

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Counter file format: one line,
//
//	ifhe-counter v1 last=<decimal> sha256=<hex SHA-256 of everything before " sha256=">\n
//
// where last is the highest counter value handed out or known to be used.
// A file is accepted only if it is byte for byte the encoding of its value,
// so a torn write, a flipped bit or an edit is refused, never repaired.
const (
	counterMagic   = "ifhe-counter v1 last="
	counterSumSep  = " sha256="
	maxCounterFile = 128 // the longest encoding is 107 bytes
	counterMode    = 0o600
)

// Sentinels of the counter; test with errors.Is. A missing file wraps
// fs.ErrNotExist, and CreateCounter over an existing one wraps fs.ErrExist.
var (
	// ErrCorrupt: the counter file is empty, torn or altered (*CorruptError).
	ErrCorrupt = errors.New("counter file corrupt")
	// ErrExhausted: the counter is at math.MaxUint64; no value is left.
	ErrExhausted = errors.New("counter exhausted")
	// ErrClosed: the Counter was closed.
	ErrClosed = errors.New("counter closed")
)

// CorruptError is a counter file that does not check out. It is never reset:
// a counter below one already used would make the implant refuse every
// command as a replay, and one silently reused is worse.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("clinical: counter file %s: %v: %s (refused, not reset: restore it, or create a new one above the implant's last accepted counter)",
		e.Path, ErrCorrupt, e.Reason)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// Counter hands out strictly increasing command counters for one device,
// from a file shared by every process on this machine. Every read-modify-write
// holds an exclusive flock(2) on path+".lock" (a separate file: the counter
// file itself is replaced by rename), and Next makes a value durable before it
// returns it. Safe for concurrent use.
type Counter struct {
	path string
	mu   sync.Mutex
	lock *os.File // nil once closed
}

// CreateCounter creates the counter file at provisioning, with last as the
// highest value already used (0 for a new device): Current reports last and
// the first Next returns last+1. It refuses to replace an existing file
// (the error wraps fs.ErrExist). The directory must exist.
func CreateCounter(path string, last uint64) error {
	lock, err := openLock(path)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := flock(lock, lockExclusive); err != nil {
		return fmt.Errorf("clinical: locking counter %s: %w", path, err)
	}
	defer flock(lock, lockRelease)
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("clinical: counter file %s: %w (a counter is never recreated over a used one)", path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clinical: counter file: %w", err)
	}
	tmp, err := writeTemp(path, last)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	// link, unlike rename, fails if path exists, so even a writer that
	// ignores the lock cannot be overwritten.
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("clinical: creating counter file: %w", err)
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("clinical: creating counter file: %w", err)
	}
	return syncDir(path)
}

// OpenCounter opens an existing counter file and checks it. A missing file
// wraps fs.ErrNotExist; a file that does not check out is a *CorruptError.
func OpenCounter(path string) (*Counter, error) {
	lock, err := openLock(path)
	if err != nil {
		return nil, err
	}
	c := &Counter{path: path, lock: lock}
	if _, err := c.Current(); err != nil {
		lock.Close()
		return nil, err
	}
	return c, nil
}

// Path is the counter file's path.
func (c *Counter) Path() string { return c.path }

// Next reserves and returns the next counter value. The value is on disk
// (temporary file written and fsynced, renamed over the counter file, the
// directory fsynced) before Next returns it, so a crash at any point
// afterwards wastes the value but never hands it out again. On any error no
// value is handed out and the file is left as it was or at the new value.
func (c *Counter) Next() (uint64, error) {
	var v uint64
	err := c.locked(lockExclusive, func() error {
		cur, err := readCounter(c.path)
		if err != nil {
			return err
		}
		if cur == math.MaxUint64 {
			return fmt.Errorf("clinical: counter file %s: %w at %d", c.path, ErrExhausted, cur)
		}
		if err := writeCounter(c.path, cur+1); err != nil {
			return err
		}
		v = cur + 1
		return nil
	})
	if err != nil {
		return 0, err
	}
	return v, nil
}

// Current returns the highest value handed out or known used (Next returns
// more). It reads the file, so it sees other processes' reservations.
func (c *Counter) Current() (uint64, error) {
	var v uint64
	err := c.locked(lockShared, func() error {
		var err error
		v, err = readCounter(c.path)
		return err
	})
	return v, err
}

// AdvanceTo raises the counter to at least v, never lowers it: after it,
// Next returns more than v. Use it when the implant reports a last accepted
// counter above Current (another controller, or a restored backup).
func (c *Counter) AdvanceTo(v uint64) error {
	return c.locked(lockExclusive, func() error {
		cur, err := readCounter(c.path)
		if err != nil || v <= cur {
			return err
		}
		return writeCounter(c.path, v)
	})
}

// Close releases the lock file. Closing twice is harmless; any other method
// after Close returns ErrClosed.
func (c *Counter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lock == nil {
		return nil
	}
	err := c.lock.Close()
	c.lock = nil
	return err
}

// locked runs f holding c.mu (goroutines of this process) and a flock of kind
// how on the lock file (other processes, and other Counters on the same path:
// each has its own open file description).
func (c *Counter) locked(how int, f func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lock == nil {
		return fmt.Errorf("clinical: counter %s: %w", c.path, ErrClosed)
	}
	if err := flock(c.lock, how); err != nil {
		return fmt.Errorf("clinical: locking counter %s: %w", c.path, err)
	}
	defer flock(c.lock, lockRelease)
	return f()
}

func openLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, counterMode)
	if err != nil {
		return nil, fmt.Errorf("clinical: counter lock: %w", err)
	}
	return f, nil
}

// readCounter reads and checks the counter file.
func readCounter(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("clinical: counter file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCounterFile+1))
	if err != nil {
		return 0, fmt.Errorf("clinical: counter file: %w", err)
	}
	v, reason := decodeCounter(b)
	if reason != "" {
		return 0, &CorruptError{Path: path, Reason: reason}
	}
	return v, nil
}

func encodeCounter(v uint64) []byte {
	body := counterMagic + strconv.FormatUint(v, 10)
	sum := sha256.Sum256([]byte(body))
	return []byte(body + counterSumSep + hex.EncodeToString(sum[:]) + "\n")
}

// decodeCounter returns the value of an encoded counter, or why b is not the
// encoding of any value.
func decodeCounter(b []byte) (uint64, string) {
	switch {
	case len(b) == 0:
		return 0, "empty"
	case len(b) > maxCounterFile:
		return 0, fmt.Sprintf("longer than %d bytes", maxCounterFile)
	case b[len(b)-1] != '\n':
		return 0, "no final newline (truncated or torn)"
	}
	line := string(b[:len(b)-1])
	if !strings.HasPrefix(line, counterMagic) {
		return 0, "not an ifhe-counter v1 file"
	}
	body, sumHex, ok := strings.Cut(line, counterSumSep)
	if !ok {
		return 0, "no checksum"
	}
	want := sha256.Sum256([]byte(body))
	got, err := hex.DecodeString(sumHex)
	if err != nil || !bytes.Equal(got, want[:]) {
		return 0, "checksum mismatch"
	}
	v, err := strconv.ParseUint(body[len(counterMagic):], 10, 64)
	if err != nil {
		return 0, "value is not a decimal uint64"
	}
	if !bytes.Equal(b, encodeCounter(v)) {
		return 0, "not in canonical form"
	}
	return v, ""
}

// writeCounter replaces the counter file with value v durably: temporary
// file written and fsynced, renamed over path, directory fsynced. The caller
// holds the exclusive lock, so the temporary name is fixed, and a leftover
// from a crashed writer is simply replaced.
func writeCounter(path string, v uint64) error {
	tmp, err := writeTemp(path, v)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("clinical: writing counter file: %w", err)
	}
	return syncDir(path)
}

// writeTemp writes the encoding of v to path+".tmp", mode 0600, fsynced.
func writeTemp(path string, v uint64) (string, error) {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("clinical: writing counter file: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, counterMode)
	if err != nil {
		return "", fmt.Errorf("clinical: writing counter file: %w", err)
	}
	_, err = f.Write(encodeCounter(v))
	if err == nil {
		err = f.Chmod(counterMode) // whatever the umask
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("clinical: writing counter file %s: %w", tmp, err)
	}
	return tmp, nil
}

// syncDir fsyncs the directory holding path, so a rename or link in it is
// durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("clinical: syncing counter directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("clinical: syncing counter directory %s: %w", filepath.Dir(path), err)
	}
	return nil
}
