package mock

import (
	"fmt"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// GlucoseSensor is a mock CGM reporting the value last Set.
type GlucoseSensor struct {
	device
	value units.MgDL
	// the last reading returned, repeated when the sensor goes stale
	last    units.MgDL
	lastAt  units.Millis
	hasLast bool
}

// Set changes the glucose the sensor will measure.
func (g *GlucoseSensor) Set(v units.MgDL) {
	g.b.mu.Lock()
	defer g.b.mu.Unlock()
	g.value = v
}

// Read implements hal.GlucoseSensor; measuredAt is on the (possibly jumped)
// board clock.
func (g *GlucoseSensor) Read() (units.MgDL, units.Millis, error) {
	g.b.mu.Lock()
	defer g.b.mu.Unlock()
	if err := g.enter(); err != nil {
		return 0, 0, err
	}
	f := g.b.plan.Glucose
	if g.roll(f.Dropout, "dropout") {
		return 0, 0, fmt.Errorf("mock glucose: %w", hal.ErrSensorDropout)
	}
	if g.hasLast && g.roll(f.Stale, "stale") {
		return g.last, g.lastAt, nil
	}
	g.last, g.lastAt, g.hasLast = g.value, g.b.Clock.now(), true
	return g.last, g.lastAt, nil
}

// CardiacSense is a mock sensing channel; the test injects beats.
type CardiacSense struct {
	device
	pending []hal.SenseEvent
}

// Inject queues a sensed beat in chamber at the current board time.
func (c *CardiacSense) Inject(chamber hal.Chamber) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.pending = append(c.pending, hal.SenseEvent{Chamber: chamber, At: c.b.Clock.now()})
}

// Poll implements hal.CardiacSense. A dropout loses the pending events.
func (c *CardiacSense) Poll() ([]hal.SenseEvent, error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if err := c.enter(); err != nil {
		return nil, err
	}
	ev := c.pending
	c.pending = nil
	if c.roll(c.b.plan.Cardiac.Dropout, "dropout") {
		return nil, fmt.Errorf("mock cardiac: %d events lost: %w", len(ev), hal.ErrSensorDropout)
	}
	return ev, nil
}
