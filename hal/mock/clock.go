package mock

import "github.com/implantfhe/implantfhe/kernel/units"

// Clock is a manual clock: time moves only by Advance. Jumps (from the plan or
// Jump) shift what Now reports without moving true time, as a glitching
// oscillator would; the watchdog runs on true time.
type Clock struct {
	device
	t      units.Millis // true time
	offset units.Millis // accumulated jumps
}

// Now implements hal.Clock.
func (c *Clock) Now() units.Millis {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.b.ops++
	if p := c.b.plan.Clock; p.MaxJump > 0 && c.roll(p.Jump, "jump") {
		d := units.Millis(c.rng.Int64N(int64(p.MaxJump))) + 1
		if c.rng.IntN(2) == 0 {
			d = -d
		}
		c.offset += d
	}
	return c.now()
}

func (c *Clock) now() units.Millis { return c.t + c.offset }

// Advance moves true time forward by d (d >= 0).
func (c *Clock) Advance(d units.Millis) {
	if d < 0 {
		panic("mock: Clock.Advance with negative duration")
	}
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.t += d
}

// Jump shifts the reported time by d (negative: backwards) without moving
// true time.
func (c *Clock) Jump(d units.Millis) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.offset += d
	c.fault("jump")
}
