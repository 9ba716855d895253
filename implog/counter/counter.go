// Package counter keeps the implant's monotonic counters (last accepted
// command counter, boot count, security version, ...) on hal.Storage so that
// no power cut can make one go back or read as corrupt.
//
// hal.Storage.Overwrite is not atomic, so the counters live in two slots,
// <name>.a and <name>.b, written alternately (A/B). Each slot is one record,
// integers big-endian:
//
//	offset  size  field
//	0       4     magic "ICT1"
//	4       8     generation: 1 for the first write, then +1 per write
//	12      2     number of counters n
//	14      8n    the counters
//	14+8n   4     CRC-32C (Castagnoli) of bytes 0..13+8n
//
// Generation g is written to slot g mod 2 (odd: b, even: a), so a write only
// ever touches the slot that does not hold the newest valid record; a torn
// write damages at most the slot being written and the other still holds the
// previous state. Open reads both and takes the valid record with the higher
// generation. No valid slot at all is a fresh store only if no slot holds a
// full-length record (the first write was cut); otherwise it is damage
// (ErrCorrupt), never silently zero, because a counter reset would reopen the
// door to replayed commands.
//
// Counters never decide anything; the kernel says which value to store.
package counter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/implantfhe/implantfhe/hal"
)

const (
	magic   = "ICT1"
	hdrSize = 14
	crcSize = 4
	// MaxCounters bounds n.
	MaxCounters = 64
)

var (
	// ErrNotIncreasing: the new value is not greater than the stored one.
	ErrNotIncreasing = errors.New("counter: value does not increase")
	// ErrCorrupt: neither slot holds a valid record, and one looks written.
	ErrCorrupt = errors.New("counter: both slots corrupt")
	// ErrLayout: the stored record holds a different number of counters.
	ErrLayout = errors.New("counter: stored layout differs")
	// ErrNeedsRecovery: after a failed write the slots could not be re-read;
	// Open again.
	ErrNeedsRecovery = errors.New("counter: needs recovery")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Counters is a fixed set of n monotonic counters. It is safe for concurrent
// use.
type Counters struct {
	mu     sync.Mutex
	st     hal.Storage
	name   string
	gen    uint64
	vals   []uint64
	broken error
	buf    []byte
}

func recordSize(n int) int { return hdrSize + 8*n + crcSize }

func slotName(name string, gen uint64) string {
	if gen%2 == 1 {
		return name + ".b"
	}
	return name + ".a"
}

// Open loads the n counters stored under name (absent: all zero).
func Open(st hal.Storage, name string, n int) (*Counters, error) {
	if n < 1 || n > MaxCounters {
		return nil, fmt.Errorf("counter: open %q with %d counters: %w", name, n, hal.ErrInvalidArgument)
	}
	c := &Counters{st: st, name: name, vals: make([]uint64, n)}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// load reads both slots and adopts the newest valid record.
func (c *Counters) load() error {
	n := len(c.vals)
	var best []byte
	var bestGen uint64
	written := false
	for _, slot := range []string{c.name + ".a", c.name + ".b"} {
		data, err := c.st.ReadAll(slot)
		if errors.Is(err, hal.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("counter: read %q: %w", slot, err)
		}
		written = written || len(data) >= recordSize(n)
		gen, ok, err := parse(data, n)
		if err != nil {
			return fmt.Errorf("counter: slot %q: %w", slot, err)
		}
		if ok && gen > bestGen {
			best, bestGen = data, gen
		}
	}
	if best == nil {
		if written {
			return fmt.Errorf("counter: open %q: %w", c.name, ErrCorrupt)
		}
		clear(c.vals)
		c.gen = 0
		return nil
	}
	for i := range c.vals {
		c.vals[i] = binary.BigEndian.Uint64(best[hdrSize+8*i:])
	}
	c.gen = bestGen
	return nil
}

// parse validates one slot. ok is false for a torn or damaged slot; err is
// set only for a valid record of another layout.
func parse(data []byte, n int) (gen uint64, ok bool, err error) {
	if len(data) < hdrSize+crcSize || !bytes.Equal(data[:4], []byte(magic)) {
		return 0, false, nil
	}
	m := int(binary.BigEndian.Uint16(data[12:14]))
	size := recordSize(m)
	if m > MaxCounters || len(data) != size {
		return 0, false, nil
	}
	if crc32.Checksum(data[:size-crcSize], castagnoli) != binary.BigEndian.Uint32(data[size-crcSize:]) {
		return 0, false, nil
	}
	gen = binary.BigEndian.Uint64(data[4:12])
	if gen == 0 {
		return 0, false, nil
	}
	if m != n {
		return 0, false, fmt.Errorf("%w: %d counters stored, %d expected", ErrLayout, m, n)
	}
	return gen, true, nil
}

// Len is the number of counters.
func (c *Counters) Len() int { return len(c.vals) }

// Get returns counter i. It panics if i is out of range, like a slice index:
// that is a programming error, not a runtime condition.
func (c *Counters) Get(i int) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vals[i]
}

// Snapshot returns all counters.
func (c *Counters) Snapshot() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint64(nil), c.vals...)
}

// Advance stores v as counter i, durably, before returning. v must be greater
// than the current value (ErrNotIncreasing otherwise, and nothing is written).
// On a storage error the counter is re-read: it holds either the old value or
// v.
func (c *Counters) Advance(i int, v uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.vals) {
		return fmt.Errorf("counter: advance %d of %d: %w", i, len(c.vals), hal.ErrInvalidArgument)
	}
	if v <= c.vals[i] {
		return fmt.Errorf("counter: advance %d from %d to %d: %w", i, c.vals[i], v, ErrNotIncreasing)
	}
	return c.store(i, v)
}

// Increment adds one to counter i durably and returns the new value.
func (c *Counters) Increment(i int) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.vals) {
		return 0, fmt.Errorf("counter: increment %d of %d: %w", i, len(c.vals), hal.ErrInvalidArgument)
	}
	if c.vals[i] == ^uint64(0) {
		return 0, fmt.Errorf("counter: increment %d: %w (at maximum)", i, ErrNotIncreasing)
	}
	v := c.vals[i] + 1
	if err := c.store(i, v); err != nil {
		return 0, err
	}
	return v, nil
}

// store writes generation gen+1 with counter i set to v. Called with c.mu held.
func (c *Counters) store(i int, v uint64) error {
	if c.broken != nil {
		return fmt.Errorf("counter: %q: %w (after: %w)", c.name, ErrNeedsRecovery, c.broken)
	}
	if c.gen == ^uint64(0) {
		return fmt.Errorf("counter: %q: generation exhausted: %w", c.name, ErrCorrupt)
	}
	gen := c.gen + 1
	n := len(c.vals)
	b := c.buf[:0]
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint64(b, gen)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	for j, x := range c.vals {
		if j == i {
			x = v
		}
		b = binary.BigEndian.AppendUint64(b, x)
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	c.buf = b
	slot := slotName(c.name, gen)
	if err := c.st.Overwrite(slot, b); err != nil {
		// The slot may hold the old record's remains, the new record, or a
		// tear; re-read rather than guess. Never write the other slot on a
		// guess: it holds the only known-good state.
		if lerr := c.load(); lerr != nil {
			c.broken = lerr
		}
		return fmt.Errorf("counter: write %q generation %d: %w", slot, gen, err)
	}
	c.vals[i], c.gen = v, gen
	return nil
}
