package board

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"
)

var errHW = errors.New("fake hardware error")

// fakeLine records every level written and returns a settable input level.
type fakeLine struct {
	mu      sync.Mutex
	chip    string
	offset  int
	dir     Direction
	level   int
	writes  []int
	rising  int
	failSet bool
	failGet bool
	closed  bool
	// onSet runs after each SetValue (tests raise the occlusion mid-run).
	onSet func()
}

func (l *fakeLine) Value() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failGet {
		return 0, errHW
	}
	return l.level, nil
}

func (l *fakeLine) SetValue(v int) error {
	l.mu.Lock()
	if l.failSet {
		l.mu.Unlock()
		return errHW
	}
	if v == 1 && l.level == 0 {
		l.rising++
	}
	l.level = v
	l.writes = append(l.writes, v)
	hook := l.onSet
	l.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil
}

func (l *fakeLine) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

// fakeChip hands out fakeLines and can refuse one offset.
type fakeChip struct {
	lines  map[int]*fakeLine
	refuse int
}

func newFakeChip() *fakeChip { return &fakeChip{lines: map[int]*fakeLine{}, refuse: -1} }

func (c *fakeChip) open(chip string, offset int, dir Direction) (Line, error) {
	if offset == c.refuse {
		return nil, fmt.Errorf("request line %d: %w", offset, errHW)
	}
	l := &fakeLine{chip: chip, offset: offset, dir: dir}
	c.lines[offset] = l
	return l, nil
}

// fakeFile is a watchdog device or serial port that records what it got.
type fakeFile struct {
	bytes.Buffer
	failWrite bool
	closed    bool
}

func (f *fakeFile) Write(b []byte) (int, error) {
	if f.failWrite {
		return 0, errHW
	}
	return f.Buffer.Write(b)
}

func (f *fakeFile) Close() error { f.closed = true; return nil }

// sleeps records requested sleeps instead of sleeping.
type sleeps struct{ total time.Duration }

func (s *sleeps) sleep(d time.Duration) { s.total += d }
