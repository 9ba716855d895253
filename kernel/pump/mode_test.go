package pump

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTransitionTableMatchesFSM: the compiled table and a live looplab
// machine agree on every (mode, event) pair.
func TestTransitionTableMatchesFSM(t *testing.T) {
	for from := Mode(0); from < numModes; from++ {
		for ev := event(0); ev < numEvents; ev++ {
			f := modeMachine(from)
			can := f.Can(eventNames[ev])
			to, ok := next(from, ev)
			if !can {
				// looplab reports Can=false for self-transitions too.
				if ok {
					assert.Equal(t, from, to, "%s --%s--> only as a no-op", from, eventNames[ev])
				}
				continue
			}
			assert.True(t, ok, "%s --%s--> allowed by fsm", from, eventNames[ev])
			_ = f.Event(context.Background(), eventNames[ev])
			assert.Equal(t, f.Current(), to.String())
		}
	}
	// The halted modes never lead to delivery except through ack/resume.
	_, ok := next(ModeFault, evAck)
	assert.False(t, ok, "fault is final")
	_, ok = next(ModeAlarm, evResume)
	assert.False(t, ok, "alarm needs ack")
}
