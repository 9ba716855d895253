package board

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/filestore"
	"github.com/implantfhe/implantfhe/hal/sim"
	"github.com/implantfhe/implantfhe/kernel/units"
)

type pumpRig struct {
	enable, step, occ *fakeLine
	st                *filestore.Store
	sl                *sleeps
	p                 *Pump
}

func newPumpRig(t *testing.T, cfg Config) *pumpRig {
	t.Helper()
	st, err := filestore.Open(cfg.StorageDir)
	require.NoError(t, err)
	r := &pumpRig{enable: &fakeLine{}, step: &fakeLine{}, occ: &fakeLine{level: 1}, st: st, sl: &sleeps{}}
	r.p, err = NewPump(cfg, PumpLines{Enable: r.enable, Step: r.step, Occlusion: r.occ}, st, r.sl.sleep)
	require.NoError(t, err)
	return r
}

func TestPumpStepsTheMotorForTheAmountAndJournalsIt(t *testing.T) {
	cfg := testConfig(t)
	r := newPumpRig(t, cfg)
	require.NoError(t, r.p.Deliver(25))
	assert.Equal(t, 25*cfg.Pump.StepsPerCentiUnit, r.step.rising, "one rising edge per step")
	assert.Equal(t, []int{1, 0}, r.enable.writes, "driver enabled for the run, then disabled")
	assert.Equal(t, time.Duration(25*cfg.Pump.StepsPerCentiUnit*cfg.Pump.StepPeriodUs)*time.Microsecond, r.sl.total)
	left, err := r.p.Reservoir()
	require.NoError(t, err)
	assert.Equal(t, units.CentiUnits(cfg.Pump.ReservoirCentiUnits-25), left)
	j, err := r.st.ReadAll(sim.JournalName)
	require.NoError(t, err)
	assert.Equal(t, "deliver 25\n", string(j))
}

func TestPumpReservoirSurvivesRestart(t *testing.T) {
	cfg := testConfig(t)
	r := newPumpRig(t, cfg)
	require.NoError(t, r.p.Deliver(100))
	require.NoError(t, r.p.Deliver(50))
	again := newPumpRig(t, cfg)
	left, err := again.p.Reservoir()
	require.NoError(t, err)
	assert.Equal(t, units.CentiUnits(cfg.Pump.ReservoirCentiUnits-150), left)
}

func TestPumpReportsFaultsFaithfully(t *testing.T) {
	tests := []struct {
		name      string
		amount    units.CentiUnits
		setup     func(r *pumpRig)
		want      error
		journaled bool
		maxSteps  int
	}{
		{"zero amount", 0, nil, hal.ErrInvalidArgument, false, 0},
		{"negative amount", -5, nil, hal.ErrInvalidArgument, false, 0},
		{"more than the reservoir", 20001, nil, hal.ErrReservoirEmpty, false, 0},
		{"occluded before", 10, func(r *pumpRig) { r.occ.level = 0 }, hal.ErrOcclusion, false, 0},
		{"occluded while running", 100, func(r *pumpRig) {
			r.step.onSet = func() {
				if r.step.rising == 20 {
					r.occ.level = 0
				}
			}
		}, hal.ErrOcclusion, true, 32},
		{"occlusion switch unreadable", 10, func(r *pumpRig) { r.occ.failGet = true }, hal.ErrMotorStuck, false, 0},
		{"step line fails", 10, func(r *pumpRig) { r.step.failSet = true }, hal.ErrMotorStuck, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newPumpRig(t, testConfig(t))
			if tc.setup != nil {
				tc.setup(r)
			}
			err := r.p.Deliver(tc.amount)
			require.ErrorIs(t, err, tc.want)
			assert.LessOrEqual(t, r.step.rising, tc.maxSteps)
			j, jerr := r.st.ReadAll(sim.JournalName)
			if !tc.journaled {
				// Nothing journalled: the journal may not exist at all.
				require.True(t, jerr == nil || errors.Is(jerr, hal.ErrNotFound), "%v", jerr)
			} else {
				require.NoError(t, jerr)
			}
			assert.Equal(t, tc.journaled, len(j) > 0, "a delivery that may have moved the motor is journalled in full")
			if len(r.enable.writes) > 0 {
				assert.Equal(t, 0, r.enable.level, "the driver is left disabled")
			}
		})
	}
}

func TestPumpStopDisablesTheDriver(t *testing.T) {
	r := newPumpRig(t, testConfig(t))
	require.NoError(t, r.enable.SetValue(1))
	require.NoError(t, r.p.Stop())
	assert.Equal(t, 0, r.enable.level)
	r.enable.failSet = true
	require.ErrorIs(t, r.p.Stop(), hal.ErrMotorStuck)
}

func TestPacerPulsesTheChambersLine(t *testing.T) {
	tests := []struct {
		name    string
		chamber hal.Chamber
		amp     hal.MilliVolts
		width   hal.Microseconds
		fail    bool
		want    error
	}{
		{"atrium", hal.ChamberAtrium, 3500, 400, false, nil},
		{"ventricle", hal.ChamberVentricle, 5000, 1000, false, nil},
		{"no chamber", hal.ChamberNone, 3500, 400, false, hal.ErrInvalidArgument},
		{"zero width", hal.ChamberAtrium, 3500, 0, false, hal.ErrInvalidArgument},
		{"zero amplitude", hal.ChamberAtrium, 0, 400, false, hal.ErrInvalidArgument},
		{"line fails", hal.ChamberVentricle, 3500, 400, true, hal.ErrLeadFault},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, v, sl := &fakeLine{}, &fakeLine{failSet: tc.fail}, &sleeps{}
			p := NewPacer(a, v, sl.sleep)
			err := p.Pace(tc.chamber, tc.amp, tc.width)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			l := map[hal.Chamber]*fakeLine{hal.ChamberAtrium: a, hal.ChamberVentricle: v}[tc.chamber]
			assert.Equal(t, []int{1, 0}, l.writes)
			assert.Equal(t, time.Duration(tc.width)*time.Microsecond, sl.total)
		})
	}
}

func TestWatchdogKicksAndCloses(t *testing.T) {
	f := &fakeFile{}
	w := NewWatchdog(f, false)
	require.NoError(t, w.Kick())
	require.NoError(t, w.Kick())
	assert.False(t, w.Expired())
	require.NoError(t, w.Close())
	assert.Equal(t, "kkV", f.String(), "two kicks, then the magic close")
	assert.True(t, f.closed)
	require.ErrorIs(t, NewWatchdog(&fakeFile{failWrite: true}, false).Kick(), hal.ErrWatchdog)
}

func TestWatchdogBootStatus(t *testing.T) {
	tests := []struct {
		content string
		expired bool
		bad     bool
	}{
		{"0\n", false, false},
		{"32\n", true, false},
		{"0x20", true, false},
		{"1\n", false, false},
		{"garbage", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.content, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bootstatus")
			require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o600))
			got, err := ReadBootStatus(p)
			if tc.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.expired, got)
		})
	}
	got, err := ReadBootStatus("")
	require.NoError(t, err)
	assert.False(t, got)
}

func fakeDevices(chip *fakeChip, port, wd *fakeFile) Devices {
	return Devices{
		OpenLine:     chip.open,
		OpenPort:     func(string, int) (Port, error) { return port, nil },
		OpenWatchdog: func(string) (WatchdogFile, error) { return wd, nil },
		OpenStorage:  func(dir string) (hal.Storage, error) { return filestore.Open(dir) },
		Sleep:        func(time.Duration) {},
	}
}

func TestOpenWiresTheDescribedLines(t *testing.T) {
	cfg := testConfig(t)
	chip, port, wd := newFakeChip(), &fakeFile{}, &fakeFile{}
	b, err := Open(cfg, fakeDevices(chip, port, wd))
	require.NoError(t, err)
	want := map[int]Direction{17: Output, 27: Output, 22: Input, 23: Output, 24: Output}
	require.Len(t, chip.lines, len(want))
	for off, dir := range want {
		assert.Equal(t, dir, chip.lines[off].dir, "line %d", off)
		assert.Equal(t, "gpiochip0", chip.lines[off].chip)
	}
	require.NotNil(t, b.HAL.Pump)
	require.NotNil(t, b.HAL.Pacer)
	require.NotNil(t, b.HAL.Watchdog)
	require.NotNil(t, b.HAL.Clock)
	require.NotNil(t, b.HAL.Storage)
	assert.Nil(t, b.HAL.Glucose, "no CGM driver on this board")
	chip.lines[22].level = 1 // occlusion switch released (active low)
	require.NoError(t, b.HAL.Pump.Deliver(1))
	assert.Equal(t, cfg.Pump.StepsPerCentiUnit, chip.lines[17].rising)
	require.NoError(t, b.HAL.Watchdog.Kick())
	require.NoError(t, b.Close())
	assert.Equal(t, "kV", wd.String())
	assert.True(t, port.closed)
	for off, l := range chip.lines {
		assert.True(t, l.closed, "line %d released", off)
	}
}

func TestOpenFailureReleasesWhatItTook(t *testing.T) {
	cfg := testConfig(t)
	chip := newFakeChip()
	chip.refuse = cfg.GPIO.PacerAtrium
	wd := &fakeFile{}
	_, err := Open(cfg, fakeDevices(chip, &fakeFile{}, wd))
	require.ErrorIs(t, err, errHW)
	for off, l := range chip.lines {
		assert.True(t, l.closed, "line %d released", off)
	}
	assert.Empty(t, wd.String(), "the watchdog was never armed")
}

func TestProbeReachesEveryDeviceWithoutArmingTheWatchdog(t *testing.T) {
	cfg := testConfig(t)
	chip := newFakeChip()
	armed := false
	dev := fakeDevices(chip, &fakeFile{}, &fakeFile{})
	dev.OpenWatchdog = func(string) (WatchdogFile, error) { armed = true; return &fakeFile{}, nil }
	require.NoError(t, Probe(cfg, dev))
	assert.False(t, armed)
	assert.Len(t, chip.lines, 5)
	for off, l := range chip.lines {
		assert.True(t, l.closed, "line %d released", off)
		assert.Empty(t, l.writes, "probe drives nothing (line %d)", off)
	}
	cfg.Watchdog.Device = filepath.Join(t.TempDir(), "absent")
	chip.refuse = cfg.GPIO.PumpStep
	err := Probe(cfg, dev)
	require.ErrorIs(t, err, hal.ErrWatchdog)
	require.ErrorIs(t, err, errHW)
}

type fakeWatch struct{ closed bool }

func (w *fakeWatch) Close() error { w.closed = true; return nil }

// TestSensingLinesFeedTheCardiacChannel: each rising edge of a sensing line
// is a sensed beat of its chamber, polled in order; a flood past the queue's
// bound is reported as a dropout; Close releases the watches.
func TestSensingLinesFeedTheCardiacChannel(t *testing.T) {
	cfg := testConfig(t)
	cfg.GPIO.SenseAtrium, cfg.GPIO.SenseVentricle = 5, 6
	require.NoError(t, cfg.Validate())
	chip, port, wd := newFakeChip(), &fakeFile{}, &fakeFile{}
	dev := fakeDevices(chip, port, wd)
	edges := map[int]func(){}
	var watches []*fakeWatch
	dev.WatchEdges = func(c string, off int, on func()) (io.Closer, error) {
		assert.Equal(t, "gpiochip0", c)
		edges[off] = on
		w := &fakeWatch{}
		watches = append(watches, w)
		return w, nil
	}
	b, err := Open(cfg, dev)
	require.NoError(t, err)
	require.NotNil(t, b.HAL.Cardiac)
	edges[5]()
	edges[6]()
	ev, err := b.HAL.Cardiac.Poll()
	require.NoError(t, err)
	require.Len(t, ev, 2)
	assert.Equal(t, hal.ChamberAtrium, ev[0].Chamber)
	assert.Equal(t, hal.ChamberVentricle, ev[1].Chamber)
	assert.LessOrEqual(t, ev[0].At, ev[1].At)
	for range MaxPendingSenses + 3 {
		edges[6]()
	}
	ev, err = b.HAL.Cardiac.Poll()
	assert.ErrorIs(t, err, hal.ErrSensorDropout)
	assert.Len(t, ev, MaxPendingSenses)
	require.NoError(t, b.Close())
	for _, w := range watches {
		assert.True(t, w.closed)
	}
	cfg.GPIO.SenseVentricle = cfg.GPIO.PacerVentricle
	assert.ErrorIs(t, cfg.Validate(), ErrConfig, "a sensing line that is also a pacing output")
}
