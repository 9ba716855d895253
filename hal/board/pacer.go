package board

import (
	"fmt"
	"sync"
	"time"

	"github.com/implantfhe/implantfhe/hal"
)

// Pacer triggers the pacing output stage: a line per chamber held high for
// the pulse width. The output stage sets the amplitude (its DAC is not on
// these lines), so Pace only refuses amplitudes and widths no pulse can have.
type Pacer struct {
	mu    sync.Mutex
	lines map[hal.Chamber]Line
	sleep func(time.Duration)
}

var _ hal.Pacer = (*Pacer)(nil)

// NewPacer builds a pacer; a nil line means the board cannot pace that chamber.
func NewPacer(atrium, ventricle Line, sleep func(time.Duration)) *Pacer {
	p := &Pacer{lines: map[hal.Chamber]Line{}, sleep: sleep}
	if atrium != nil {
		p.lines[hal.ChamberAtrium] = atrium
	}
	if ventricle != nil {
		p.lines[hal.ChamberVentricle] = ventricle
	}
	return p
}

// Pace implements hal.Pacer. A line that cannot be driven is a lead fault:
// the pulse may not have been delivered.
func (p *Pacer) Pace(chamber hal.Chamber, amplitude hal.MilliVolts, width hal.Microseconds) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.lines[chamber]
	if !ok || amplitude <= 0 || width <= 0 {
		return fmt.Errorf("board pacer: %s %d mV %d µs: %w", chamber, amplitude, width, hal.ErrInvalidArgument)
	}
	if err := l.SetValue(1); err != nil {
		return fmt.Errorf("board pacer: %s: %w: %v", chamber, hal.ErrLeadFault, err)
	}
	p.sleep(time.Duration(width) * time.Microsecond)
	if err := l.SetValue(0); err != nil {
		return fmt.Errorf("board pacer: %s: end of pulse: %w: %v", chamber, hal.ErrLeadFault, err)
	}
	return nil
}

// MaxPendingSenses bounds the sensed beats queued between two polls (a
// stuck comparator must not grow memory); more are dropped and reported
// as hal.ErrSensorDropout.
const MaxPendingSenses = 64

// Cardiac is the sensing channel: the rising edges of the sensing lines,
// timestamped on the board clock when the event reaches the firmware (the
// GPIO event latency, well under a millisecond on the target, is the
// timing error).
type Cardiac struct {
	mu      sync.Mutex
	clock   hal.Clock
	pending []hal.SenseEvent
	dropped int
}

// NewCardiac is a sensing channel on clock.
func NewCardiac(clock hal.Clock) *Cardiac { return &Cardiac{clock: clock} }

// Edge records a sensed beat in ch now.
func (c *Cardiac) Edge(ch hal.Chamber) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) >= MaxPendingSenses {
		c.dropped++
		return
	}
	c.pending = append(c.pending, hal.SenseEvent{Chamber: ch, At: c.clock.Now()})
}

// Poll implements hal.CardiacSense: the beats since the last poll, oldest
// first, and ErrSensorDropout if some were dropped.
func (c *Cardiac) Poll() ([]hal.SenseEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev, n := c.pending, c.dropped
	c.pending, c.dropped = nil, 0
	if n > 0 {
		return ev, fmt.Errorf("board: %d sensed beats dropped: %w", n, hal.ErrSensorDropout)
	}
	return ev, nil
}
