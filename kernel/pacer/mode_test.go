package pacer

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTransitionTableMatchesFSM: the compiled table and a live looplab
// machine agree on every (state, event) pair.
func TestTransitionTableMatchesFSM(t *testing.T) {
	for from := Op(0); from < numOps; from++ {
		for ev := Event(0); ev < numEvents; ev++ {
			f := opMachine(from)
			can := f.Can(eventNames[ev])
			to, ok := next(from, ev)
			if !can {
				if ok {
					assert.Equal(t, from, to, "%s --%s--> only as a no-op", from, ev)
				}
				continue
			}
			assert.True(t, ok, "%s --%s--> allowed by fsm", from, ev)
			_ = f.Event(context.Background(), eventNames[ev])
			assert.Equal(t, f.Current(), to.String())
		}
	}
	// PACE-FAULT-SAFE: Fault is final.
	for ev := Event(0); ev < numEvents; ev++ {
		to, ok := next(OpFault, ev)
		assert.True(t, !ok || to == OpFault, "fault --%s--> %s", ev, to)
	}
}
