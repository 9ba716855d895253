package counter_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/implog/counter"
)

const (
	name       = "counters"
	cmdCounter = 0
	bootCount  = 1
	nCounters  = 2
)

func newBoard(p mock.Plan) *mock.Board { return mock.New(mock.Config{Seed: 1, Plan: p}) }

func openOK(t *testing.T, st hal.Storage) *counter.Counters {
	t.Helper()
	c, err := counter.Open(st, name, nCounters)
	require.NoError(t, err)
	return c
}

func TestCountersPersistAcrossReopen(t *testing.T) {
	b := newBoard(mock.Plan{})
	c := openOK(t, b.Storage)
	assert.Equal(t, []uint64{0, 0}, c.Snapshot())
	v, err := c.Increment(bootCount)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), v)
	require.NoError(t, c.Advance(cmdCounter, 1000))
	require.NoError(t, c.Advance(cmdCounter, 1001))

	c = openOK(t, b.Storage)
	assert.Equal(t, []uint64{1001, 1}, c.Snapshot())
	assert.Equal(t, uint64(1001), c.Get(cmdCounter))
	_, hasA := b.Storage.Peek(name + ".a")
	_, hasB := b.Storage.Peek(name + ".b")
	assert.True(t, hasA && hasB, "writes alternate between the two slots")
}

func TestAdvanceRefusesNonIncreasing(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    uint64
		want error
	}{
		{"replayed value", 10, counter.ErrNotIncreasing},
		{"older value", 9, counter.ErrNotIncreasing},
		{"next value", 11, nil},
		{"jump ahead", 1 << 40, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBoard(mock.Plan{})
			c := openOK(t, b.Storage)
			require.NoError(t, c.Advance(cmdCounter, 10))
			ops := b.Storage.MutatingOps()
			err := c.Advance(cmdCounter, tc.v)
			require.ErrorIs(t, err, tc.want)
			if tc.want != nil {
				assert.Equal(t, uint64(10), c.Get(cmdCounter))
				assert.Equal(t, ops, b.Storage.MutatingOps(), "a refused value writes nothing")
			}
		})
	}
	c := openOK(t, newBoard(mock.Plan{}).Storage)
	require.ErrorIs(t, c.Advance(nCounters, 1), hal.ErrInvalidArgument)
	require.NoError(t, c.Advance(bootCount, ^uint64(0)))
	_, err := c.Increment(bootCount)
	require.ErrorIs(t, err, counter.ErrNotIncreasing, "no wrap-around at the maximum")
}

func TestDamagedSlots(t *testing.T) {
	setup := func() *mock.Board {
		b := newBoard(mock.Plan{})
		c := openOK(t, b.Storage)
		require.NoError(t, c.Advance(cmdCounter, 5)) // gen 1 → .b
		require.NoError(t, c.Advance(cmdCounter, 6)) // gen 2 → .a
		return b
	}
	flip := func(b *mock.Board, slot string) {
		d, _ := b.Storage.Peek(name + slot)
		d[20] ^= 1
		b.Storage.Poke(name+slot, d)
	}
	t.Run("newest slot damaged falls back to the other", func(t *testing.T) {
		b := setup()
		flip(b, ".a")
		assert.Equal(t, uint64(5), openOK(t, b.Storage).Get(cmdCounter))
	})
	t.Run("both slots damaged is an error, never zero", func(t *testing.T) {
		b := setup()
		flip(b, ".a")
		flip(b, ".b")
		_, err := counter.Open(b.Storage, name, nCounters)
		require.ErrorIs(t, err, counter.ErrCorrupt)
	})
	t.Run("another layout is an error", func(t *testing.T) {
		b := setup()
		_, err := counter.Open(b.Storage, name, 3)
		require.ErrorIs(t, err, counter.ErrLayout)
	})
}

// op is one step of the crash script.
type op struct {
	i   int
	inc bool
	v   uint64
}

var script = []op{
	{i: bootCount, inc: true}, {i: cmdCounter, v: 100}, {i: cmdCounter, v: 101},
	{i: bootCount, inc: true}, {i: cmdCounter, v: 1 << 33}, {i: cmdCounter, v: 1<<33 + 1},
	{i: bootCount, inc: true}, {i: cmdCounter, v: ^uint64(0) - 1},
}

// apply returns the state after op o from state s.
func apply(s []uint64, o op) []uint64 {
	s = append([]uint64(nil), s...)
	if o.inc {
		s[o.i]++
	} else {
		s[o.i] = o.v
	}
	return s
}

func run(c *counter.Counters, o op) error {
	if o.inc {
		_, err := c.Increment(o.i)
		return err
	}
	return c.Advance(o.i, o.v)
}

// crashRun runs the script until a call fails; it returns the last
// acknowledged state and the state that was in flight.
func crashRun(c *counter.Counters) (acked, inFlight []uint64, err error) {
	acked = c.Snapshot()
	for _, o := range script {
		next := apply(acked, o)
		if err := run(c, o); err != nil {
			return acked, next, err
		}
		acked = next
	}
	return acked, acked, nil
}

func scriptBytes(t *testing.T) int64 {
	b := newBoard(mock.Plan{})
	_, _, err := crashRun(openOK(t, b.Storage))
	require.NoError(t, err)
	return b.Storage.Written()
}

// TestPowerCutAtEveryByte: wherever the power fails, the counters reopen
// without error and read either the last acknowledged state or the one in
// flight: never older, never corrupt.
func TestPowerCutAtEveryByte(t *testing.T) {
	total := scriptBytes(t)
	for cut := int64(0); cut <= total; cut++ {
		b := newBoard(mock.Plan{})
		c := openOK(t, b.Storage)
		b.Storage.CutPowerAfterBytes(cut)
		acked, inFlight, err := crashRun(c)
		if cut < total {
			require.ErrorIs(t, err, hal.ErrPowerLoss, "cut %d", cut)
		}
		b.Restart()
		c, err = counter.Open(b.Storage, name, nCounters)
		require.NoError(t, err, "cut %d: counters must never read as corrupt", cut)
		got := c.Snapshot()
		if !assert.ObjectsAreEqual(acked, got) {
			require.Equal(t, inFlight, got, "cut %d: counters hold neither the acknowledged state %v nor the one in flight", cut, acked)
		}
	}
	t.Logf("%d power-cut points over %d bytes", total+1, total)
}

// TestRepeatedPowerCuts cuts power again and again at random bytes from a
// seed and checks that no counter ever reads lower than it did before.
func TestRepeatedPowerCuts(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		b := newBoard(mock.Plan{})
		seen := make([]uint64, nCounters)
		for round := range 60 {
			c, err := counter.Open(b.Storage, name, nCounters)
			require.NoError(t, err, "seed %d round %d", seed, round)
			got := c.Snapshot()
			for i := range got {
				require.GreaterOrEqual(t, got[i], seen[i], "seed %d round %d: counter %d went back", seed, round, i)
			}
			seen = got
			b.Storage.CutPowerAfterBytes(int64(rng.IntN(3 * 34)))
			for err == nil {
				if rng.IntN(2) == 0 {
					_, err = c.Increment(bootCount)
				} else {
					err = c.Advance(cmdCounter, c.Get(cmdCounter)+uint64(rng.IntN(5))+1)
				}
			}
			require.ErrorIs(t, err, hal.ErrPowerLoss)
			b.Restart()
		}
	}
}

func TestWriteFailureKeepsOldOrNew(t *testing.T) {
	b := mock.New(mock.Config{Seed: 9, Plan: mock.Plan{Storage: mock.StorageFaults{WriteFail: mock.Always / 2}}})
	c := openOK(t, b.Storage)
	failures := 0
	for want := uint64(1); want <= 50; want++ {
		before := c.Get(cmdCounter)
		err := c.Advance(cmdCounter, want)
		if err != nil {
			require.ErrorIs(t, err, hal.ErrStorageWrite)
			failures++
			assert.Contains(t, []uint64{before, want}, c.Get(cmdCounter))
		}
		if c.Get(cmdCounter) < want {
			want-- // retry the same value
		}
	}
	require.Positive(t, failures)
	assert.Equal(t, uint64(50), openOK(t, b.Storage).Get(cmdCounter))
}

func BenchmarkAdvance(b *testing.B) {
	m := newBoard(mock.Plan{})
	c, err := counter.Open(m.Storage, name, nCounters)
	require.NoError(b, err)
	var v uint64
	b.ReportAllocs()
	for b.Loop() {
		v++
		if err := c.Advance(cmdCounter, v); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleCounters() {
	board := mock.New(mock.Config{Seed: 1})
	c, err := counter.Open(board.Storage, "counters", 2)
	if err != nil {
		panic(err)
	}
	boots, _ := c.Increment(1)
	if err := c.Advance(0, 41); err != nil {
		panic(err)
	}
	err = c.Advance(0, 41) // a replayed command counter
	fmt.Println(boots, c.Get(0), err != nil)
	// Output: 1 41 true
}
