package implog

import (
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/logchain"
)

// Log is an open hash-chained log. It is safe for concurrent use.
type Log struct {
	mu     sync.Mutex
	st     hal.Storage
	name   string
	seq    uint64
	head   Hash
	size   int64 // bytes of verified, acknowledged records on storage
	broken error
	buf    []byte
}

// Recovery says what Open found.
type Recovery struct {
	// Records is the number of records that verified.
	Records uint64
	// TornBytes is the size of the torn tail Open truncated (0: none).
	TornBytes int64
}

// Open reads and verifies the log stored under name (absent: an empty log),
// truncates a torn tail left by a power cut, and returns the log ready for
// Append. A damaged record is a *ChainError (errors.Is ErrChainBroken) and
// no Log is returned; Recovery.Records then counts the records before it.
func Open(st hal.Storage, name string) (*Log, Recovery, error) {
	data, err := st.ReadAll(name)
	if err != nil && !errors.Is(err, hal.ErrNotFound) {
		return nil, Recovery{}, fmt.Errorf("implog: open %q: %w", name, err)
	}
	seq, head, end, serr := logchain.Scan(data)
	rec := Recovery{Records: seq}
	switch {
	case serr == nil:
	case errors.Is(serr, ErrTornTail):
		rec.TornBytes = int64(len(data) - end)
		if err := st.Truncate(name, int64(end)); err != nil {
			return nil, rec, fmt.Errorf("implog: open %q: truncating %d-byte torn tail: %w", name, rec.TornBytes, err)
		}
	default:
		return nil, rec, fmt.Errorf("implog: open %q: %w", name, serr)
	}
	return &Log{st: st, name: name, seq: seq, head: head, size: int64(end)}, rec, nil
}

// Append adds payload as the next record and returns its seq once the record
// is durable. On error the record was not acknowledged: it is absent after
// recovery, or (if the failure came after the bytes reached storage) present
// exactly once.
func (l *Log) Append(payload []byte) (uint64, error) {
	if len(payload) > MaxPayload {
		return 0, fmt.Errorf("implog: append %d bytes: %w", len(payload), ErrPayloadTooLarge)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		return 0, fmt.Errorf("implog: append to %q: %w (after: %w)", l.name, ErrNeedsRecovery, l.broken)
	}
	seq := l.seq + 1
	var h Hash
	l.buf, h = logchain.AppendRecord(l.buf[:0], seq, &l.head, payload)
	err := l.st.Append(l.name, l.buf)
	if err == nil {
		err = l.st.Sync(l.name)
	}
	if err != nil {
		l.rollback()
		return 0, fmt.Errorf("implog: append record %d to %q: %w", seq, l.name, err)
	}
	l.seq, l.head, l.size = seq, h, l.size+int64(len(l.buf))
	return seq, nil
}

// rollback removes whatever part of a failed record reached storage, so the
// next Append continues the chain; if it cannot, the log needs recovery.
func (l *Log) rollback() {
	err := l.st.Truncate(l.name, l.size)
	if err != nil && !(errors.Is(err, hal.ErrNotFound) && l.size == 0) {
		l.broken = err
	}
}

// Head returns the seq and hash of the last record (0 and the zero hash for
// an empty log).
func (l *Log) Head() (uint64, Hash) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.head
}

// Records reads the log back from storage and yields its acknowledged
// records in order; a read or verification error is yielded last with a
// zero Record.
func (l *Log) Records() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		l.mu.Lock()
		size := l.size
		l.mu.Unlock()
		data, err := l.st.ReadAll(l.name)
		if errors.Is(err, hal.ErrNotFound) && size == 0 {
			return
		}
		if err != nil {
			yield(Record{}, fmt.Errorf("implog: read %q: %w", l.name, err))
			return
		}
		if int64(len(data)) < size {
			yield(Record{}, fmt.Errorf("implog: read %q: %d bytes, want at least %d: %w", l.name, len(data), size, ErrNeedsRecovery))
			return
		}
		for r, err := range Decode(data[:size]) {
			if !yield(r, err) {
				return
			}
		}
	}
}
