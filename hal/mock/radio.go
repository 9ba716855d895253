package mock

import (
	"fmt"

	"github.com/implantfhe/implantfhe/hal"
)

// Radio is a mock link. The test plays the peer: Inject sends a frame to the
// implant, TakeSent collects what the implant sent. Plan faults apply to
// frames in both directions as they cross the air.
type Radio struct {
	device
	max     int
	in, out [][]byte
}

// MaxFrame implements hal.Radio.
func (r *Radio) MaxFrame() int { return r.max }

// Send implements hal.Radio.
func (r *Radio) Send(frame []byte) error {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if err := r.enter(); err != nil {
		return err
	}
	if len(frame) == 0 || len(frame) > r.max {
		return fmt.Errorf("mock radio: send %d bytes (max %d): %w", len(frame), r.max, hal.ErrFrameSize)
	}
	if r.roll(r.b.plan.Radio.LinkDown, "link-down") {
		return fmt.Errorf("mock radio: send: %w", hal.ErrRadioLoss)
	}
	r.out = r.air(r.out, frame)
	return nil
}

// Recv implements hal.Radio.
func (r *Radio) Recv() ([]byte, error) {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if err := r.enter(); err != nil {
		return nil, err
	}
	if r.roll(r.b.plan.Radio.LinkDown, "link-down") {
		return nil, fmt.Errorf("mock radio: recv: %w", hal.ErrRadioLoss)
	}
	if len(r.in) == 0 {
		return nil, nil
	}
	f := r.in[0]
	r.in = r.in[1:]
	return f, nil
}

// Inject sends frame from the peer to the implant (1..MaxFrame bytes, else
// dropped as no real radio could carry it).
func (r *Radio) Inject(frame []byte) {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if len(frame) == 0 || len(frame) > r.max {
		return
	}
	r.in = r.air(r.in, frame)
}

// TakeSent returns and clears the frames the implant sent.
func (r *Radio) TakeSent() [][]byte {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	out := r.out
	r.out = nil
	return out
}

// air puts a copy of frame on queue q, applying the plan's frame faults.
func (r *Radio) air(q [][]byte, frame []byte) [][]byte {
	f := r.b.plan.Radio
	if r.roll(f.Drop, "drop") {
		return q
	}
	c := append([]byte(nil), frame...)
	if r.roll(f.BitFlip, "bit-flip") {
		bit := r.rng.IntN(len(c) * 8)
		c[bit/8] ^= 1 << (bit % 8)
	}
	q = append(q, c)
	if len(q) >= 2 && r.roll(f.Reorder, "reorder") {
		q[len(q)-1], q[len(q)-2] = q[len(q)-2], q[len(q)-1]
	}
	if r.roll(f.Duplicate, "duplicate") {
		q = append(q, append([]byte(nil), c...))
	}
	return q
}
