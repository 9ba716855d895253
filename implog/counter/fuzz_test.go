package counter_test

import (
	"errors"
	"testing"

	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/implog/counter"
)

// FuzzOpen: any two slot images either open or give a typed error; never a
// panic, and a store that opens accepts the next write.
func FuzzOpen(f *testing.F) {
	b := mock.New(mock.Config{Seed: 1})
	c, _ := counter.Open(b.Storage, name, nCounters)
	_ = c.Advance(cmdCounter, 7)
	_ = c.Advance(cmdCounter, 8)
	a, _ := b.Storage.Peek(name + ".a")
	bb, _ := b.Storage.Peek(name + ".b")
	f.Add(a, bb)
	f.Add(a[:10], bb)
	f.Add([]byte{}, []byte("ICT1"))
	f.Fuzz(func(t *testing.T, slotA, slotB []byte) {
		b := mock.New(mock.Config{Seed: 1})
		b.Storage.Poke(name+".a", slotA)
		b.Storage.Poke(name+".b", slotB)
		c, err := counter.Open(b.Storage, name, nCounters)
		if err != nil {
			if !errors.Is(err, counter.ErrCorrupt) && !errors.Is(err, counter.ErrLayout) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		before := c.Snapshot()
		if before[bootCount] == ^uint64(0) {
			return
		}
		if _, err := c.Increment(bootCount); err != nil {
			t.Fatal(err)
		}
		c2, err := counter.Open(b.Storage, name, nCounters)
		if err != nil {
			t.Fatal(err)
		}
		if got := c2.Get(bootCount); got != before[bootCount]+1 {
			t.Fatalf("after increment from %d, reopened %d", before[bootCount], got)
		}
	})
}
