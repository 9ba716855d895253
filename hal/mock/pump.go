package mock

import (
	"fmt"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// Pump is a mock insulin pump with a finite reservoir.
type Pump struct {
	device
	reservoir units.CentiUnits
	delivered units.CentiUnits
	occluded  bool
	stuck     bool
	stops     int
	// failAt: the Deliver call (counted from 1 by FailDeliverAt) that fails
	// once with failErr, moving nothing; 0: none armed.
	failAt  int
	failErr error
	calls   []Delivery
}

// Delivery is one Deliver call as the pump saw it.
type Delivery struct {
	At    units.Millis // board time
	Asked units.CentiUnits
	Moved units.CentiUnits
	Err   error
}

// FailDeliverAt arms a one-off fault: the k-th Deliver call from now (k ≥ 1)
// returns err and moves nothing (a transient fault: the next call works).
// k ≤ 0 disarms.
func (p *Pump) FailDeliverAt(k int, err error) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	p.failAt, p.failErr = max(k, 0), err
}

// Calls is every Deliver call so far, in order, with what it moved.
func (p *Pump) Calls() []Delivery {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	return append([]Delivery(nil), p.calls...)
}

// Deliver implements hal.Pump. On a fault a random part of amount (possibly
// none) is delivered, which is why hal tells the caller to assume all of it.
func (p *Pump) Deliver(amount units.CentiUnits) error {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if err := p.enter(); err != nil {
		return err
	}
	if amount <= 0 {
		return fmt.Errorf("mock pump: deliver %d cU: %w", amount, hal.ErrInvalidArgument)
	}
	before := p.delivered
	err := p.deliver(amount)
	p.calls = append(p.calls, Delivery{At: p.b.Clock.now(), Asked: amount, Moved: p.delivered - before, Err: err})
	return err
}

func (p *Pump) deliver(amount units.CentiUnits) error {
	if p.failAt > 0 {
		p.failAt--
		if p.failAt == 0 {
			p.fault("armed")
			return fmt.Errorf("mock pump: deliver %d cU: %w", amount, p.failErr)
		}
	}
	f := p.b.plan.Pump
	if !p.occluded && p.roll(f.Occlusion, "occlusion") {
		p.occluded = true
	}
	if !p.stuck && p.roll(f.MotorStuck, "motor-stuck") {
		p.stuck = true
	}
	var fault error
	switch {
	case p.stuck:
		fault = hal.ErrMotorStuck
	case p.occluded:
		fault = hal.ErrOcclusion
	}
	if fault != nil {
		p.move(units.CentiUnits(p.rng.Int32N(int32(amount))))
		return fmt.Errorf("mock pump: deliver %d cU: %w", amount, fault)
	}
	if amount > p.reservoir {
		p.move(p.reservoir)
		return fmt.Errorf("mock pump: deliver %d cU: %w", amount, hal.ErrReservoirEmpty)
	}
	p.move(amount)
	return nil
}

func (p *Pump) move(a units.CentiUnits) {
	a = min(a, p.reservoir)
	p.reservoir -= a
	p.delivered += a
}

// Stop implements hal.Pump.
func (p *Pump) Stop() error {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if err := p.enter(); err != nil {
		return err
	}
	p.stops++
	return nil
}

// Reservoir implements hal.Pump.
func (p *Pump) Reservoir() (units.CentiUnits, error) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if err := p.enter(); err != nil {
		return 0, err
	}
	return p.reservoir, nil
}

// Delivered is the insulin that actually left the pump, faults included.
func (p *Pump) Delivered() units.CentiUnits {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	return p.delivered
}

// Stops counts successful Stop calls.
func (p *Pump) Stops() int {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	return p.stops
}

// ClearFaults models replacing the infusion set and reseating the motor.
func (p *Pump) ClearFaults() {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	p.occluded, p.stuck = false, false
}
