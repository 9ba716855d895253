package board

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/implantfhe/implantfhe/hal"
)

// WatchdogFile is the open watchdog device: any write kicks it; writing the
// magic character 'V' before closing disarms it (drivers built without
// NOWAYOUT), so a clean shutdown does not reset the board.
type WatchdogFile interface {
	io.Writer
	io.Closer
}

// wdiofCardReset is WDIOF_CARDRESET (linux/watchdog.h): the last reboot
// was caused by the watchdog.
const wdiofCardReset = 0x0020

// Watchdog is the Linux hardware watchdog. Opening the device arms it.
type Watchdog struct {
	mu      sync.Mutex
	f       WatchdogFile
	expired bool
}

var _ hal.Watchdog = (*Watchdog)(nil)

// OpenWatchdog opens (and so arms) the watchdog device at path. bootStatus,
// if not empty, is read first: a WDIOF_CARDRESET bit latches Expired for
// this boot.
func OpenWatchdog(path, bootStatus string) (*Watchdog, error) {
	expired, err := ReadBootStatus(bootStatus)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("board watchdog: %w: %v", hal.ErrWatchdog, err)
	}
	return NewWatchdog(f, expired), nil
}

// NewWatchdog wraps an open watchdog device.
func NewWatchdog(f WatchdogFile, expiredAtBoot bool) *Watchdog {
	return &Watchdog{f: f, expired: expiredAtBoot}
}

// ReadBootStatus reports whether the sysfs bootstatus file at path has the
// WDIOF_CARDRESET bit. An empty path reports false.
func ReadBootStatus(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("board watchdog: bootstatus: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 0, 32)
	if err != nil {
		return false, fmt.Errorf("board watchdog: bootstatus %q: %w", b, err)
	}
	return v&wdiofCardReset != 0, nil
}

// Kick implements hal.Watchdog.
func (w *Watchdog) Kick() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write([]byte{'k'}); err != nil {
		return fmt.Errorf("board watchdog: kick: %w: %v", hal.ErrWatchdog, err)
	}
	return nil
}

// Expired implements hal.Watchdog: the last reset was the watchdog's.
func (w *Watchdog) Expired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.expired
}

// Close disarms the watchdog with the magic close and closes the device.
// Only a clean shutdown calls it; a crashed firmware leaves it armed.
func (w *Watchdog) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, werr := w.f.Write([]byte{'V'})
	cerr := w.f.Close()
	if werr != nil || cerr != nil {
		return fmt.Errorf("board watchdog: close: %w: %v %v", hal.ErrWatchdog, werr, cerr)
	}
	return nil
}
