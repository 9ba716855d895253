package mock

import (
	"fmt"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// Watchdog fires when true time passes timeout without a Kick, and stays
// fired (latched) until Board.Restart, as a hardware watchdog resets the MCU.
type Watchdog struct {
	device
	timeout  units.Millis
	lastKick units.Millis
	expired  bool
}

// Kick implements hal.Watchdog. A kick after expiry is too late.
func (w *Watchdog) Kick() error {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	if err := w.enter(); err != nil {
		return err
	}
	if w.check() {
		return fmt.Errorf("mock watchdog: kick after expiry: %w", hal.ErrWatchdog)
	}
	w.lastKick = w.b.Clock.t
	return nil
}

// Expired implements hal.Watchdog.
func (w *Watchdog) Expired() bool {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	return w.check()
}

// Expire fires the watchdog now.
func (w *Watchdog) Expire() {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	w.expired = true
	w.fault("expired")
}

func (w *Watchdog) check() bool {
	if !w.expired && w.b.Clock.t-w.lastKick > w.timeout {
		w.expired = true
		w.fault("expired")
	}
	return w.expired
}
