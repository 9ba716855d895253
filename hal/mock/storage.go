package mock

import (
	"fmt"

	"github.com/implantfhe/implantfhe/hal"
)

// Storage is in-memory storage that keeps exactly what the hal.Storage crash
// contract promises. Power can be cut at any byte (CutPowerAfterBytes) or at
// any mutating call (CutPowerAtOp), which is how callers prove their crash
// safety: run a script once per cut point and check what survives Restart.
type Storage struct {
	device
	files    map[string]*file
	cutBytes int64 // bytes still allowed before the cut; -1: disarmed
	cutOps   int64 // mutating calls still allowed before the cut; -1: disarmed
	written  int64
	mutOps   int64
	failOps  int64 // mutating calls before one fails with ErrStorageWrite; 0: none
}

// FailAtOp arms a one-off write failure: the k-th mutating call from now
// (k ≥ 1) returns hal.ErrStorageWrite having written nothing; power stays
// on. k ≤ 0 disarms.
func (s *Storage) FailAtOp(k int64) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.failOps = max(k, 0)
}

type file struct {
	data   []byte
	synced int // prefix of data that survives a cut under DropUnsynced
}

// CutPowerAfterBytes arms a power cut: the next n bytes written reach storage,
// byte n+1 does not, and the call writing it returns hal.ErrPowerLoss. n < 0
// disarms.
func (s *Storage) CutPowerAfterBytes(n int64) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.cutBytes = max(n, -1)
}

// CutPowerAtOp arms a power cut: the next k mutating calls (Append,
// Overwrite, Sync, Truncate) happen, call k+1 does not and returns
// hal.ErrPowerLoss. k < 0 disarms.
func (s *Storage) CutPowerAtOp(k int64) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.cutOps = max(k, -1)
}

// Written is the number of bytes written to storage so far (the range of
// CutPowerAfterBytes worth testing).
func (s *Storage) Written() int64 {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.written
}

// MutatingOps is the number of mutating calls so far (the range of
// CutPowerAtOp worth testing).
func (s *Storage) MutatingOps() int64 {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.mutOps
}

// Peek returns a copy of an object's content regardless of power state, for
// test assertions and for corrupting storage on purpose with Poke.
func (s *Storage) Peek(name string) ([]byte, bool) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	f, ok := s.files[name]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), f.data...), true
}

// Poke replaces an object's content with no fault accounting (bit rot, an
// attacker with flash access, a test fixture).
func (s *Storage) Poke(name string, data []byte) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.files[name] = &file{data: append([]byte(nil), data...), synced: len(data)}
}

// mutate is the common entry of mutating calls: power state and op budget.
func (s *Storage) mutate(op, name string) error {
	if err := s.enter(); err != nil {
		return err
	}
	if s.cutOps == 0 {
		s.b.die()
		return fmt.Errorf("mock storage: %s %q: %w", op, name, hal.ErrPowerLoss)
	}
	if s.cutOps > 0 {
		s.cutOps--
	}
	s.mutOps++
	if s.failOps > 0 {
		s.failOps--
		if s.failOps == 0 {
			s.fault("armed-write-failure")
			return fmt.Errorf("mock storage: %s %q: %w", op, name, hal.ErrStorageWrite)
		}
	}
	return nil
}

// budget returns how many of n bytes reach storage before a cut, and whether
// the cut happens during this write.
func (s *Storage) budget(n int) (int, bool) {
	if s.cutBytes < 0 || int64(n) <= s.cutBytes {
		if s.cutBytes >= 0 {
			s.cutBytes -= int64(n)
		}
		return n, false
	}
	k := int(s.cutBytes)
	s.cutBytes = 0
	return k, true
}

// Append implements hal.Storage.
func (s *Storage) Append(name string, b []byte) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err := s.mutate("append", name); err != nil {
		return err
	}
	f := s.files[name]
	if f == nil {
		f = &file{}
		s.files[name] = f
	}
	n, cut := s.budget(len(b))
	var failed bool
	if !cut && len(b) > 0 && s.roll(s.b.plan.Storage.WriteFail, "write-fail") {
		n, failed = s.rng.IntN(len(b)), true
	}
	f.data = append(f.data, b[:n]...)
	s.written += int64(n)
	switch {
	case cut:
		s.b.die()
		return fmt.Errorf("mock storage: append %q: %d of %d bytes written: %w", name, n, len(b), hal.ErrPowerLoss)
	case failed:
		return fmt.Errorf("mock storage: append %q: %d of %d bytes written: %w", name, n, len(b), hal.ErrStorageWrite)
	}
	return nil
}

// Overwrite implements hal.Storage: a cut after k bytes leaves b[:k] followed
// by the old content from k on.
func (s *Storage) Overwrite(name string, b []byte) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err := s.mutate("overwrite", name); err != nil {
		return err
	}
	f := s.files[name]
	if f == nil {
		f = &file{}
		s.files[name] = f
	}
	n, cut := s.budget(len(b))
	var failed bool
	if !cut && len(b) > 0 && s.roll(s.b.plan.Storage.WriteFail, "write-fail") {
		n, failed = s.rng.IntN(len(b)), true
	}
	s.written += int64(n)
	if n == len(b) && !cut && !failed {
		f.data = append(f.data[:0:0], b...)
	} else {
		torn := append([]byte(nil), b[:n]...)
		if len(f.data) > n {
			torn = append(torn, f.data[n:]...)
		}
		f.data = torn
	}
	f.synced = len(f.data)
	switch {
	case cut:
		s.b.die()
		return fmt.Errorf("mock storage: overwrite %q: %d of %d bytes written: %w", name, n, len(b), hal.ErrPowerLoss)
	case failed:
		return fmt.Errorf("mock storage: overwrite %q: %d of %d bytes written: %w", name, n, len(b), hal.ErrStorageWrite)
	}
	return nil
}

// Sync implements hal.Storage.
func (s *Storage) Sync(name string) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err := s.mutate("sync", name); err != nil {
		return err
	}
	if f := s.files[name]; f != nil {
		f.synced = len(f.data)
	}
	return nil
}

// Truncate implements hal.Storage.
func (s *Storage) Truncate(name string, size int64) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err := s.mutate("truncate", name); err != nil {
		return err
	}
	f := s.files[name]
	if f == nil {
		return fmt.Errorf("mock storage: truncate %q: %w", name, hal.ErrNotFound)
	}
	if size < 0 || size > int64(len(f.data)) {
		return fmt.Errorf("mock storage: truncate %q to %d of %d bytes: %w", name, size, len(f.data), hal.ErrInvalidArgument)
	}
	f.data = f.data[:size]
	f.synced = min(f.synced, int(size))
	return nil
}

// ReadAll implements hal.Storage.
func (s *Storage) ReadAll(name string) ([]byte, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err := s.enter(); err != nil {
		return nil, err
	}
	f := s.files[name]
	if f == nil {
		return nil, fmt.Errorf("mock storage: read %q: %w", name, hal.ErrNotFound)
	}
	return append([]byte(nil), f.data...), nil
}
