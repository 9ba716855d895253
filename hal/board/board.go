package board

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/filestore"
	"github.com/implantfhe/implantfhe/hal/sim"
)

// Devices opens the board's hardware. Real returns the Linux devices; tests
// substitute fakes.
type Devices struct {
	OpenLine     LineOpener
	OpenPort     PortOpener
	OpenWatchdog func(path string) (WatchdogFile, error)
	OpenStorage  func(dir string) (hal.Storage, error)
	WatchEdges   EdgeWatcher
	// Sleep paces step and pacing pulses.
	Sleep func(time.Duration)
}

// Real is the Linux GPIO character device, serial port, watchdog device and
// fsync'd file storage.
func Real() Devices {
	return Devices{
		OpenLine: OpenGPIOLine,
		OpenPort: OpenSerial,
		OpenWatchdog: func(path string) (WatchdogFile, error) {
			return os.OpenFile(path, os.O_WRONLY, 0)
		},
		OpenStorage: func(dir string) (hal.Storage, error) { return filestore.Open(dir) },
		WatchEdges:  WatchGPIOEdges,
		Sleep:       time.Sleep,
	}
}

// Board is the opened board: the hal devices, and the serial port the radio
// link runs over.
type Board struct {
	HAL   hal.Board
	Radio Port
	Pump  *Pump
	Pacer *Pacer
	// Cardiac is the sensing channel (nil without sensing lines).
	Cardiac *Cardiac
	// Watchdog is armed from Open until Close.
	Watchdog *Watchdog
	lines    []Line
	watches  []io.Closer
}

// Open requests every line of the description, opens the serial port and the
// storage, and arms the watchdog last (so a failure to open the rest does not
// leave an armed watchdog behind). The board has no glucose sensor driver:
// HAL.Glucose is nil, and the kernel treats glucose as stale (no delivery
// that needs it).
func Open(cfg Config, dev Devices) (b *Board, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b = &Board{}
	defer func() {
		if err != nil {
			_ = b.Close()
			b = nil
		}
	}()
	line := func(offset int, dir Direction) (Line, error) {
		if offset < 0 {
			return nil, nil
		}
		l, err := dev.OpenLine(cfg.GPIO.Chip, offset, dir)
		if err != nil {
			return nil, err
		}
		b.lines = append(b.lines, l)
		return l, nil
	}
	var pl PumpLines
	if pl.Enable, err = line(cfg.GPIO.PumpEnable, Output); err != nil {
		return b, err
	}
	if pl.Step, err = line(cfg.GPIO.PumpStep, Output); err != nil {
		return b, err
	}
	if pl.Occlusion, err = line(cfg.GPIO.OcclusionSense, Input); err != nil {
		return b, err
	}
	atrium, err := line(cfg.GPIO.PacerAtrium, Output)
	if err != nil {
		return b, err
	}
	ventricle, err := line(cfg.GPIO.PacerVentricle, Output)
	if err != nil {
		return b, err
	}
	st, err := dev.OpenStorage(cfg.StorageDir)
	if err != nil {
		return b, err
	}
	if b.Pump, err = NewPump(cfg, pl, st, dev.Sleep); err != nil {
		return b, err
	}
	b.Pacer = NewPacer(atrium, ventricle, dev.Sleep)
	if b.Radio, err = dev.OpenPort(cfg.Serial.Device, cfg.Serial.Baud); err != nil {
		return b, err
	}
	expired, err := ReadBootStatus(cfg.Watchdog.BootStatus)
	if err != nil {
		return b, err
	}
	wf, err := dev.OpenWatchdog(cfg.Watchdog.Device)
	if err != nil {
		return b, fmt.Errorf("board watchdog: %w: %v", hal.ErrWatchdog, err)
	}
	b.Watchdog = NewWatchdog(wf, expired)
	b.HAL = hal.Board{Pump: b.Pump, Clock: sim.NewClock(), Storage: st, Watchdog: b.Watchdog}
	if atrium != nil || ventricle != nil {
		b.HAL.Pacer = b.Pacer
	}
	for _, sl := range []struct {
		offset int
		ch     hal.Chamber
	}{{cfg.GPIO.SenseAtrium, hal.ChamberAtrium}, {cfg.GPIO.SenseVentricle, hal.ChamberVentricle}} {
		if sl.offset < 0 {
			continue
		}
		if b.Cardiac == nil {
			b.Cardiac = NewCardiac(b.HAL.Clock)
			b.HAL.Cardiac = b.Cardiac
		}
		if dev.WatchEdges == nil {
			return b, fmt.Errorf("%w: sensing lines described but no edge watcher", ErrConfig)
		}
		ch, card := sl.ch, b.Cardiac
		w, err := dev.WatchEdges(cfg.GPIO.Chip, sl.offset, func() { card.Edge(ch) })
		if err != nil {
			return b, err
		}
		b.watches = append(b.watches, w)
	}
	return b, nil
}

// Close stops the motor, disarms the watchdog (magic close) and releases
// the port and every line.
func (b *Board) Close() error {
	var errs []error
	if b.Pump != nil {
		errs = append(errs, b.Pump.Stop())
	}
	if b.Watchdog != nil {
		errs = append(errs, b.Watchdog.Close())
	}
	if b.Radio != nil {
		errs = append(errs, b.Radio.Close())
	}
	for _, w := range b.watches {
		errs = append(errs, w.Close())
	}
	for _, l := range b.lines {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// Probe checks that every device of the description can be reached without
// driving anything: each line is requested (outputs low) and released, the
// occlusion switch is read, the serial port is opened and closed, the
// storage directory is opened and the watchdog device exists (it is not
// opened: that would arm it). It returns one error per unreachable device.
func Probe(cfg Config, dev Devices) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	var errs []error
	try := func(c io.Closer, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, l := range []struct {
		offset int
		dir    Direction
	}{{cfg.GPIO.PumpEnable, Output}, {cfg.GPIO.PumpStep, Output}, {cfg.GPIO.PacerAtrium, Output}, {cfg.GPIO.PacerVentricle, Output}} {
		if l.offset >= 0 {
			try(dev.OpenLine(cfg.GPIO.Chip, l.offset, l.dir))
		}
	}
	if occ, err := dev.OpenLine(cfg.GPIO.Chip, cfg.GPIO.OcclusionSense, Input); err != nil {
		errs = append(errs, err)
	} else {
		_, verr := occ.Value()
		errs = append(errs, verr, occ.Close())
	}
	try(dev.OpenPort(cfg.Serial.Device, cfg.Serial.Baud))
	if _, err := dev.OpenStorage(cfg.StorageDir); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(cfg.Watchdog.Device); err != nil {
		errs = append(errs, fmt.Errorf("board watchdog: %w: %v", hal.ErrWatchdog, err))
	}
	if _, err := ReadBootStatus(cfg.Watchdog.BootStatus); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
