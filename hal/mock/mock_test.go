package mock_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/kernel/units"
)

func newBoard(p mock.Plan) *mock.Board { return mock.New(mock.Config{Seed: 1, Plan: p}) }

func TestPumpFaults(t *testing.T) {
	tests := []struct {
		name    string
		plan    mock.PumpFaults
		amount  units.CentiUnits
		res     units.CentiUnits
		wantErr error
	}{
		{"healthy delivery", mock.PumpFaults{}, 150, 30000, nil},
		{"occlusion", mock.PumpFaults{Occlusion: mock.Always}, 150, 30000, hal.ErrOcclusion},
		{"motor stuck", mock.PumpFaults{MotorStuck: mock.Always}, 150, 30000, hal.ErrMotorStuck},
		{"reservoir short", mock.PumpFaults{}, 150, 100, hal.ErrReservoirEmpty},
		{"non-positive amount", mock.PumpFaults{}, 0, 30000, hal.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mock.New(mock.Config{Seed: 1, Plan: mock.Plan{Pump: tc.plan}, ReservoirCU: tc.res})
			err := b.Pump.Deliver(tc.amount)
			if tc.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tc.amount, b.Pump.Delivered())
				left, err := b.Pump.Reservoir()
				require.NoError(t, err)
				assert.Equal(t, tc.res-tc.amount, left)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			// hal tells the caller to assume the full amount; the mock may
			// have moved any part of it, never more.
			assert.LessOrEqual(t, b.Pump.Delivered(), max(tc.amount, 0))
		})
	}
}

func TestPumpFaultsAreStickyUntilCleared(t *testing.T) {
	const third = mock.Always / 3
	for _, tc := range []struct {
		name string
		plan mock.PumpFaults
		want error
	}{
		{"occlusion", mock.PumpFaults{Occlusion: third}, hal.ErrOcclusion},
		{"motor stuck", mock.PumpFaults{MotorStuck: third}, hal.ErrMotorStuck},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBoard(mock.Plan{Pump: tc.plan})
			for b.Pump.Deliver(1) == nil {
			}
			for i := range 20 {
				require.ErrorIs(t, b.Pump.Deliver(1), tc.want, "call %d after the fault: it must stay until ClearFaults", i)
			}
			require.NoError(t, b.Pump.Stop(), "Stop must work on a faulted pump")
			b.Pump.ClearFaults()
			ok := false
			for range 20 {
				ok = ok || b.Pump.Deliver(1) == nil
			}
			assert.True(t, ok, "after ClearFaults the pump delivers again")
		})
	}
}

func TestGlucoseFaults(t *testing.T) {
	tests := []struct {
		name    string
		plan    mock.GlucoseFaults
		wantErr error
		stale   bool
	}{
		{"fresh", mock.GlucoseFaults{}, nil, false},
		{"dropout", mock.GlucoseFaults{Dropout: mock.Always}, hal.ErrSensorDropout, false},
		{"stale repeats old reading and time", mock.GlucoseFaults{Stale: mock.Always}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBoard(mock.Plan{Glucose: tc.plan})
			b.Glucose.Set(100)
			v0, at0, err0 := b.Glucose.Read()
			b.Clock.Advance(5 * units.Minute)
			b.Glucose.Set(180)
			v, at, err := b.Glucose.Read()
			if tc.wantErr != nil {
				require.ErrorIs(t, err0, tc.wantErr)
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err0)
			require.NoError(t, err)
			assert.Equal(t, units.MgDL(100), v0)
			assert.Equal(t, units.Millis(0), at0)
			if tc.stale {
				assert.Equal(t, v0, v)
				assert.Equal(t, at0, at)
			} else {
				assert.Equal(t, units.MgDL(180), v)
				assert.Equal(t, 5*units.Minute, at)
			}
		})
	}
}

func TestCardiacSense(t *testing.T) {
	for _, tc := range []struct {
		name    string
		plan    mock.CardiacFaults
		wantErr error
		want    int
	}{
		{"events delivered in order", mock.CardiacFaults{}, nil, 2},
		{"dropout loses events", mock.CardiacFaults{Dropout: mock.Always}, hal.ErrSensorDropout, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBoard(mock.Plan{Cardiac: tc.plan})
			b.Cardiac.Inject(hal.ChamberAtrium)
			b.Clock.Advance(150)
			b.Cardiac.Inject(hal.ChamberVentricle)
			ev, err := b.Cardiac.Poll()
			require.ErrorIs(t, err, tc.wantErr)
			require.Len(t, ev, tc.want)
			if tc.want == 2 {
				assert.Equal(t, []hal.SenseEvent{{Chamber: hal.ChamberAtrium, At: 0}, {Chamber: hal.ChamberVentricle, At: 150}}, ev)
			}
			ev, err = b.Cardiac.Poll()
			require.ErrorIs(t, err, tc.wantErr)
			assert.Empty(t, ev, "events are delivered once")
		})
	}
}

func TestPacer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		plan    mock.PacerFaults
		chamber hal.Chamber
		wantErr error
		pulses  int
	}{
		{"pace recorded", mock.PacerFaults{}, hal.ChamberVentricle, nil, 1},
		{"lead fault still recorded", mock.PacerFaults{LeadFault: mock.Always}, hal.ChamberVentricle, hal.ErrLeadFault, 1},
		{"no such chamber", mock.PacerFaults{}, hal.ChamberNone, hal.ErrInvalidArgument, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBoard(mock.Plan{Pacer: tc.plan})
			b.Clock.Advance(42)
			err := b.Pacer.Pace(tc.chamber, 3500, 400)
			require.ErrorIs(t, err, tc.wantErr)
			p := b.Pacer.Pulses()
			require.Len(t, p, tc.pulses)
			if tc.pulses == 1 {
				assert.Equal(t, mock.Pulse{At: 42, Chamber: tc.chamber, Amplitude: 3500, Width: 400, Fault: tc.wantErr != nil}, p[0])
			}
		})
	}
}

func frames(n int) [][]byte {
	var f [][]byte
	for i := range n {
		f = append(f, []byte(fmt.Sprintf("frame-%d", i)))
	}
	return f
}

func recvAll(t *testing.T, r hal.Radio) [][]byte {
	t.Helper()
	var got [][]byte
	for {
		f, err := r.Recv()
		require.NoError(t, err)
		if f == nil {
			return got
		}
		got = append(got, f)
	}
}

func TestRadioFaults(t *testing.T) {
	sent := frames(2)
	tests := []struct {
		name  string
		plan  mock.RadioFaults
		check func(t *testing.T, got [][]byte)
	}{
		{"clean link", mock.RadioFaults{}, func(t *testing.T, got [][]byte) { assert.Equal(t, sent, got) }},
		{"loss", mock.RadioFaults{Drop: mock.Always}, func(t *testing.T, got [][]byte) { assert.Empty(t, got) }},
		{"duplication", mock.RadioFaults{Duplicate: mock.Always}, func(t *testing.T, got [][]byte) {
			assert.Equal(t, [][]byte{sent[0], sent[0], sent[1], sent[1]}, got)
		}},
		{"reordering", mock.RadioFaults{Reorder: mock.Always}, func(t *testing.T, got [][]byte) {
			assert.Equal(t, [][]byte{sent[1], sent[0]}, got)
		}},
		{"bit flip", mock.RadioFaults{BitFlip: mock.Always}, func(t *testing.T, got [][]byte) {
			require.Len(t, got, 2)
			for i := range got {
				require.Len(t, got[i], len(sent[i]))
				diff := 0
				for j := range got[i] {
					diff += bits.OnesCount8(got[i][j] ^ sent[i][j])
				}
				assert.Equal(t, 1, diff, "exactly one bit flipped in frame %d", i)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Both directions see the same faults.
			b := newBoard(mock.Plan{Radio: tc.plan})
			for _, f := range sent {
				b.Radio.Inject(f)
			}
			tc.check(t, recvAll(t, b.Radio))

			b = newBoard(mock.Plan{Radio: tc.plan})
			for _, f := range sent {
				require.NoError(t, b.Radio.Send(f))
			}
			tc.check(t, b.Radio.TakeSent())
		})
	}
}

func TestRadioLinkDownAndFrameSize(t *testing.T) {
	b := newBoard(mock.Plan{Radio: mock.RadioFaults{LinkDown: mock.Always}})
	require.ErrorIs(t, b.Radio.Send([]byte("x")), hal.ErrRadioLoss)
	_, err := b.Radio.Recv()
	require.ErrorIs(t, err, hal.ErrRadioLoss)

	b = newBoard(mock.Plan{})
	require.ErrorIs(t, b.Radio.Send(nil), hal.ErrFrameSize)
	require.ErrorIs(t, b.Radio.Send(make([]byte, b.Radio.MaxFrame()+1)), hal.ErrFrameSize)
	require.NoError(t, b.Radio.Send(make([]byte, b.Radio.MaxFrame())))
}

func TestClockJumps(t *testing.T) {
	for _, tc := range []struct {
		name string
		jump units.Millis
		want units.Millis
	}{
		{"forward", units.Hour, 1000 + units.Hour},
		{"backward", -500, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBoard(mock.Plan{})
			b.Clock.Advance(1000)
			b.Clock.Jump(tc.jump)
			assert.Equal(t, tc.want, b.Clock.Now())
			b.Clock.Advance(10)
			assert.Equal(t, tc.want+10, b.Clock.Now(), "time keeps running from the jumped value")
		})
	}

	t.Run("plan jumps stay within MaxJump both ways", func(t *testing.T) {
		b := newBoard(mock.Plan{Clock: mock.ClockFaults{Jump: mock.Always, MaxJump: 100}})
		prev := b.Clock.Now()
		var back, fwd bool
		for range 200 {
			now := b.Clock.Now()
			d := now - prev
			require.NotZero(t, d)
			require.LessOrEqual(t, max(d, -d), units.Millis(100))
			back, fwd = back || d < 0, fwd || d > 0
			prev = now
		}
		assert.True(t, back && fwd, "jumps go both ways")
	})
}

func TestWatchdog(t *testing.T) {
	b := mock.New(mock.Config{Seed: 1, WatchdogTimeout: 100})
	b.Clock.Advance(100)
	require.NoError(t, b.Watchdog.Kick())
	b.Clock.Advance(100)
	assert.False(t, b.Watchdog.Expired(), "exactly the timeout is still in time")
	b.Clock.Jump(units.Hour)
	assert.False(t, b.Watchdog.Expired(), "a clock jump does not fire the watchdog: it runs on its own oscillator")
	b.Clock.Advance(101)
	assert.True(t, b.Watchdog.Expired())
	require.ErrorIs(t, b.Watchdog.Kick(), hal.ErrWatchdog, "a late kick does not un-fire it")
	b.Restart()
	assert.False(t, b.Watchdog.Expired())
	b.Watchdog.Expire()
	assert.True(t, b.Watchdog.Expired())
}

func TestStorageWriteFailureLeavesPrefix(t *testing.T) {
	b := newBoard(mock.Plan{Storage: mock.StorageFaults{WriteFail: mock.Always}})
	b.Storage.Poke("f", []byte("old"))
	payload := []byte("0123456789")
	err := b.Storage.Append("f", payload)
	require.ErrorIs(t, err, hal.ErrStorageWrite)
	got, err := b.Storage.ReadAll("f")
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(got, []byte("old")))
	tail := got[3:]
	assert.Less(t, len(tail), len(payload), "a failed write is never complete")
	assert.Equal(t, payload[:len(tail)], tail, "a failed write leaves a prefix of the bytes")
}

func TestStoragePowerCutAtEveryByte(t *testing.T) {
	writes := [][]byte{[]byte("abc"), []byte("defgh"), []byte("ij")}
	all := bytes.Join(writes, nil)
	for cut := int64(0); cut <= int64(len(all)); cut++ {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			b := newBoard(mock.Plan{})
			b.Storage.CutPowerAfterBytes(cut)
			var failed bool
			for _, w := range writes {
				err := b.Storage.Append("log", w)
				if failed {
					require.ErrorIs(t, err, hal.ErrPowerLoss, "every call after the cut fails")
					continue
				}
				if err != nil {
					require.ErrorIs(t, err, hal.ErrPowerLoss)
					failed = true
				}
			}
			assert.Equal(t, cut < int64(len(all)), failed)
			_, err := b.Storage.ReadAll("log")
			if failed {
				require.ErrorIs(t, err, hal.ErrPowerLoss)
				require.ErrorIs(t, b.Storage.Sync("log"), hal.ErrPowerLoss)
				require.ErrorIs(t, b.Pump.Deliver(1), hal.ErrPowerLoss, "power loss is board-wide")
			}
			b.Restart()
			got, err := b.Storage.ReadAll("log")
			if cut == 0 {
				// The first Append created the object but wrote nothing.
				require.NoError(t, err)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, all[:cut], got, "exactly the bytes before the cut survive")
		})
	}
}

func TestStorageOverwriteTear(t *testing.T) {
	for _, tc := range []struct {
		cut  int64
		want string
	}{
		{0, "OLDOLDOLD"}, {3, "newOLDOLD"}, {5, "new12DOLD"},
	} {
		t.Run(fmt.Sprint(tc.cut), func(t *testing.T) {
			b := newBoard(mock.Plan{})
			b.Storage.Poke("c", []byte("OLDOLDOLD"))
			b.Storage.CutPowerAfterBytes(tc.cut)
			require.ErrorIs(t, b.Storage.Overwrite("c", []byte("new123")), hal.ErrPowerLoss)
			b.Restart()
			got, err := b.Storage.ReadAll("c")
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
	b := newBoard(mock.Plan{})
	b.Storage.Poke("c", []byte("OLDOLDOLD"))
	require.NoError(t, b.Storage.Overwrite("c", []byte("new")))
	got, _ := b.Storage.Peek("c")
	assert.Equal(t, "new", string(got), "a completed overwrite replaces the whole content")
}

func TestStorageDropUnsynced(t *testing.T) {
	b := newBoard(mock.Plan{Storage: mock.StorageFaults{DropUnsynced: true}})
	require.NoError(t, b.Storage.Append("log", []byte("synced")))
	require.NoError(t, b.Storage.Sync("log"))
	require.NoError(t, b.Storage.Append("log", []byte("cached")))
	b.CutPower()
	b.Restart()
	got, err := b.Storage.ReadAll("log")
	require.NoError(t, err)
	assert.Equal(t, "synced", string(got))
}

func TestStorageCutAtOp(t *testing.T) {
	ops := []func(s hal.Storage) error{
		func(s hal.Storage) error { return s.Append("f", []byte("ab")) },
		func(s hal.Storage) error { return s.Sync("f") },
		func(s hal.Storage) error { return s.Truncate("f", 1) },
		func(s hal.Storage) error { return s.Overwrite("g", []byte("xy")) },
	}
	wantF := []string{"", "ab", "ab", "a", "a"}
	for k := range len(ops) + 1 {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			b := newBoard(mock.Plan{})
			b.Storage.CutPowerAtOp(int64(k))
			for i, op := range ops {
				err := op(b.Storage)
				if i < k {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, hal.ErrPowerLoss)
				}
			}
			b.Restart()
			got, _ := b.Storage.Peek("f")
			assert.Equal(t, wantF[k], string(got))
			_, hasG := b.Storage.Peek("g")
			assert.Equal(t, k == len(ops), hasG)
		})
	}
}

func TestStorageNotFoundAndBadTruncate(t *testing.T) {
	b := newBoard(mock.Plan{})
	_, err := b.Storage.ReadAll("none")
	require.ErrorIs(t, err, hal.ErrNotFound)
	require.ErrorIs(t, b.Storage.Truncate("none", 0), hal.ErrNotFound)
	require.NoError(t, b.Storage.Append("f", []byte("abc")))
	require.ErrorIs(t, b.Storage.Truncate("f", 4), hal.ErrInvalidArgument)
}

// workload drives every device and returns what it observed, so two runs can
// be compared call by call.
func workload(b *mock.Board) []string {
	var trace []string
	note := func(what string, err error) {
		if err != nil {
			trace = append(trace, what+": "+err.Error())
		} else {
			trace = append(trace, what)
		}
	}
	for i := range 300 {
		b.Clock.Advance(10)
		note(fmt.Sprint("now ", b.Clock.Now()), nil)
		note("deliver", b.Pump.Deliver(5))
		if i%7 == 0 {
			b.Pump.ClearFaults()
		}
		note("pace", b.Pacer.Pace(hal.ChamberVentricle, 2500, 400))
		v, at, err := b.Glucose.Read()
		note(fmt.Sprint("glucose ", v, at), err)
		b.Cardiac.Inject(hal.ChamberAtrium)
		ev, err := b.Cardiac.Poll()
		note(fmt.Sprint("poll ", len(ev)), err)
		b.Radio.Inject([]byte{byte(i), byte(i >> 8)})
		f, err := b.Radio.Recv()
		note(fmt.Sprintf("recv %x", f), err)
		note("send", b.Radio.Send([]byte{byte(i)}))
		note("append", b.Storage.Append("log", []byte{byte(i)}))
	}
	for _, f := range b.Radio.TakeSent() {
		trace = append(trace, fmt.Sprintf("sent %x", f))
	}
	data, _ := b.Storage.ReadAll("log")
	trace = append(trace, fmt.Sprintf("log %x", data))
	return trace
}

func chaos() mock.Plan {
	const c = 50_000 // 5 %
	return mock.Plan{
		Pump:    mock.PumpFaults{Occlusion: c, MotorStuck: c},
		Pacer:   mock.PacerFaults{LeadFault: c},
		Glucose: mock.GlucoseFaults{Dropout: c, Stale: c},
		Cardiac: mock.CardiacFaults{Dropout: c},
		Radio:   mock.RadioFaults{LinkDown: c, Drop: c, Duplicate: c, Reorder: c, BitFlip: c},
		Clock:   mock.ClockFaults{Jump: c, MaxJump: units.Second},
		Storage: mock.StorageFaults{WriteFail: c},
	}
}

func TestSameSeedSameFaults(t *testing.T) {
	run := func(seed uint64) ([]mock.Fault, []string) {
		b := mock.New(mock.Config{Seed: seed, Plan: chaos()})
		tr := workload(b)
		return b.Faults(), tr
	}
	f1, t1 := run(7)
	f2, t2 := run(7)
	require.NotEmpty(t, f1)
	kinds := map[string]bool{}
	for _, f := range f1 {
		kinds[f.Device+"/"+f.Kind] = true
	}
	assert.Len(t, kinds, 13, "every kind of fault fires in the workload: %v", kinds)
	assert.Equal(t, f1, f2, "same seed, same faults")
	assert.Equal(t, t1, t2, "same seed, same observations")
	f3, _ := run(8)
	assert.NotEqual(t, f1, f3, "another seed, other faults")
}

func TestPowerLossIsBoardWide(t *testing.T) {
	b := newBoard(mock.Plan{})
	b.CutPower()
	require.True(t, b.PoweredOff())
	checks := map[string]error{
		"deliver": b.Pump.Deliver(1),
		"stop":    b.Pump.Stop(),
		"pace":    b.Pacer.Pace(hal.ChamberAtrium, 1000, 100),
		"send":    b.Radio.Send([]byte("x")),
		"kick":    b.Watchdog.Kick(),
		"append":  b.Storage.Append("f", []byte("x")),
	}
	_, _, checks["glucose"] = b.Glucose.Read()
	_, checks["poll"] = b.Cardiac.Poll()
	_, checks["recv"] = b.Radio.Recv()
	_, checks["reservoir"] = b.Pump.Reservoir()
	for name, err := range checks {
		assert.True(t, errors.Is(err, hal.ErrPowerLoss), "%s: got %v", name, err)
	}
	b.Restart()
	require.NoError(t, b.Pump.Deliver(1))
}
