package mock

import (
	"fmt"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// Pulse is one pace the mock was asked to deliver.
type Pulse struct {
	At        units.Millis // true time
	Chamber   hal.Chamber
	Amplitude hal.MilliVolts
	Width     hal.Microseconds
	Fault     bool // a lead fault was reported for it
}

// Pacer is a mock pacing output that records every pulse.
type Pacer struct {
	device
	pulses []Pulse
	failAt int // the Pace call (from FailPaceAt) that reports a lead fault once; 0: none
}

// FailPaceAt arms a one-off lead fault: the k-th Pace call from now (k ≥ 1)
// delivers its pulse but reports hal.ErrLeadFault (it may not have
// captured). k ≤ 0 disarms.
func (p *Pacer) FailPaceAt(k int) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	p.failAt = max(k, 0)
}

// Pace implements hal.Pacer. It refuses only what no hardware can express.
func (p *Pacer) Pace(chamber hal.Chamber, amplitude hal.MilliVolts, width hal.Microseconds) error {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if err := p.enter(); err != nil {
		return err
	}
	if (chamber != hal.ChamberAtrium && chamber != hal.ChamberVentricle) || amplitude <= 0 || width <= 0 {
		return fmt.Errorf("mock pacer: pace %v %d mV %d µs: %w", chamber, amplitude, width, hal.ErrInvalidArgument)
	}
	pl := Pulse{At: p.b.Clock.t, Chamber: chamber, Amplitude: amplitude, Width: width}
	pl.Fault = p.roll(p.b.plan.Pacer.LeadFault, "lead-fault")
	if p.failAt > 0 {
		p.failAt--
		if p.failAt == 0 {
			p.fault("armed-lead-fault")
			pl.Fault = true
		}
	}
	p.pulses = append(p.pulses, pl)
	if pl.Fault {
		return fmt.Errorf("mock pacer: pace %v: %w", chamber, hal.ErrLeadFault)
	}
	return nil
}

// Pulses returns a copy of the pulses delivered so far.
func (p *Pacer) Pulses() []Pulse {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	return append([]Pulse(nil), p.pulses...)
}

// PulsesSince returns a copy of the pulses from index i on (a closed-loop
// driver reads only what is new).
func (p *Pacer) PulsesSince(i int) []Pulse {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if i >= len(p.pulses) {
		return nil
	}
	return append([]Pulse(nil), p.pulses[max(i, 0):]...)
}
