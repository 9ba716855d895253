// Package sim is the host-process backend of the implant: the monotonic
// clock of the host, a glucose sensor whose value a simulator sets, and a
// pump that journals every delivery to storage before it reports success
// (the journal stands for the physical effect, so a crash test can count
// what was really delivered). It backs cmd/implant on a development host;
// the target board uses real devices.
package sim

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// Clock is the host's monotonic clock since process start.
type Clock struct{ start time.Time }

// NewClock starts a clock at 0.
func NewClock() *Clock { return &Clock{start: time.Now()} }

// Now implements hal.Clock.
func (c *Clock) Now() units.Millis { return units.Millis(time.Since(c.start).Milliseconds()) }

// Glucose is a sensor whose reading a simulator sets.
type Glucose struct {
	mu    sync.Mutex
	clock hal.Clock
	v     units.MgDL
}

// NewGlucose reads v until Set changes it.
func NewGlucose(clock hal.Clock, v units.MgDL) *Glucose { return &Glucose{clock: clock, v: v} }

// Set changes the reading.
func (g *Glucose) Set(v units.MgDL) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.v = v
}

// Read implements hal.GlucoseSensor: a reading measured now.
func (g *Glucose) Read() (units.MgDL, units.Millis, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.v, g.clock.Now(), nil
}

// JournalName is the storage name of the pump's delivery journal.
const JournalName = "pump.journal"

// Pump journals each delivery ("deliver <amount>\n") durably, then counts
// it delivered; its reservoir is a fixed simulated level minus deliveries.
type Pump struct {
	mu        sync.Mutex
	st        hal.Storage
	reservoir units.CentiUnits
}

// NewPump is a pump with a full reservoir of the given size, less whatever
// the journal in st already records.
func NewPump(st hal.Storage, reservoir units.CentiUnits) (*Pump, error) {
	b, err := st.ReadAll(JournalName)
	if err != nil && !errors.Is(err, hal.ErrNotFound) {
		return nil, fmt.Errorf("sim pump: %w", err)
	}
	amounts, err := ParseJournal(b)
	if err != nil {
		return nil, err
	}
	for _, a := range amounts {
		reservoir -= a
	}
	return &Pump{st: st, reservoir: max(reservoir, 0)}, nil
}

// ParseJournal returns the delivered amounts in order.
func ParseJournal(b []byte) ([]units.CentiUnits, error) {
	var out []units.CentiUnits
	var a int64
	for len(b) > 0 {
		n, err := fmt.Sscanf(string(b), "deliver %d\n", &a)
		if err != nil || n != 1 {
			return out, fmt.Errorf("sim pump: bad journal line")
		}
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i == len(b) {
			break // a torn last line: the motor was never told
		}
		out = append(out, units.CentiUnits(a))
		b = b[i+1:]
	}
	return out, nil
}

// Deliver implements hal.Pump.
func (p *Pump) Deliver(amount units.CentiUnits) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if amount > p.reservoir {
		return hal.ErrReservoirEmpty
	}
	if err := p.st.Append(JournalName, fmt.Appendf(nil, "deliver %d\n", amount)); err != nil {
		return fmt.Errorf("sim pump: %w", err)
	}
	p.reservoir -= amount
	return nil
}

// Stop implements hal.Pump.
func (p *Pump) Stop() error { return nil }

// Reservoir implements hal.Pump.
func (p *Pump) Reservoir() (units.CentiUnits, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reservoir, nil
}

// Pacer counts the pulses it is asked for.
type Pacer struct {
	mu     sync.Mutex
	pulses map[hal.Chamber]int
}

// NewPacer is a pacer that has delivered nothing.
func NewPacer() *Pacer { return &Pacer{pulses: map[hal.Chamber]int{}} }

// Pace implements hal.Pacer.
func (p *Pacer) Pace(chamber hal.Chamber, amplitude hal.MilliVolts, width hal.Microseconds) error {
	if chamber != hal.ChamberAtrium && chamber != hal.ChamberVentricle || amplitude <= 0 || width <= 0 {
		return hal.ErrInvalidArgument
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pulses[chamber]++
	return nil
}

// Pulses is how many pulses were delivered to a chamber.
func (p *Pacer) Pulses(c hal.Chamber) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pulses[c]
}

// Heart is a simulated intrinsic rhythm for the pacemaker on the simulator:
// at RatePPM the atrium depolarises and, 120 ms later, the ventricle (normal
// AV conduction); rate 0 is a heart with no rhythm of its own. It keeps
// its beats for the sensing channel (hal.CardiacSense), and counts them.
type Heart struct {
	mu      sync.Mutex
	clock   hal.Clock
	ratePPM int
	prMs    units.Millis
	next    units.Millis // next atrial beat
	vDue    units.Millis // the conducted ventricular beat due, or -1
	pending []hal.SenseEvent
	vBeats  int
}

// NewHeart is a heart with no rhythm of its own until SetRate.
func NewHeart(clock hal.Clock) *Heart { return &Heart{clock: clock, prMs: 120, vDue: -1} }

// SetRate sets the intrinsic rate (0: none) from now on.
func (h *Heart) SetRate(ppm int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.advance()
	h.ratePPM, h.next = max(ppm, 0), h.clock.Now()
}

// advance generates the beats up to now (under mu).
func (h *Heart) advance() {
	now := h.clock.Now()
	for {
		switch {
		case h.vDue >= 0 && h.vDue <= now:
			h.pending = append(h.pending, hal.SenseEvent{Chamber: hal.ChamberVentricle, At: h.vDue})
			h.vBeats++
			h.vDue = -1
		case h.vDue < 0 && h.ratePPM > 0 && h.next <= now:
			h.pending = append(h.pending, hal.SenseEvent{Chamber: hal.ChamberAtrium, At: h.next})
			h.vDue = h.next + h.prMs
			h.next += units.Millis(60000 / h.ratePPM)
		default:
			return
		}
	}
}

// Poll implements hal.CardiacSense.
func (h *Heart) Poll() ([]hal.SenseEvent, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.advance()
	ev := h.pending
	h.pending = nil
	return ev, nil
}

// VBeats counts the intrinsic ventricular beats so far.
func (h *Heart) VBeats() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.vBeats
}
