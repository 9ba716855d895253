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
