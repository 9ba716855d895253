package pump

import (
	"github.com/looplab/fsm"

	"github.com/implantfhe/implantfhe/kernel/internal/fsmtable"
)

// Mode is the pump's operating mode.
type Mode uint8

// Modes. Delivery (bolus or basal) happens only in Idle and Delivering.
const (
	ModeInit       Mode = iota // not yet programmed with limits; delivers nothing
	ModeIdle                   // basal running, no bolus in progress
	ModeDelivering             // a bolus is in progress
	ModeSuspended              // delivery stopped by command
	ModeAlarm                  // delivery stopped until an alarm is acknowledged
	ModeFault                  // delivery stopped for good (motor, watchdog, corrupt state)
	numModes
)

var modeNames = [numModes]string{"init", "idle", "delivering", "suspended", "alarm", "fault"}

func (m Mode) String() string {
	if m < numModes {
		return modeNames[m]
	}
	return "invalid"
}

// event is a mode-machine event.
type event uint8

const (
	evProgram event = iota
	evBolus
	evDone
	evSuspend
	evResume
	evAlarm
	evAck
	evFault
	numEvents
)

var eventNames = [numEvents]string{"program", "bolus", "done", "suspend", "resume", "alarm", "ack", "fault"}

// modeMachine is the mode machine as declared with looplab/fsm. It is the
// single source of the pump's allowed mode transitions.
func modeMachine(initial Mode) *fsm.FSM {
	m := func(ms ...Mode) []string {
		out := make([]string, len(ms))
		for i, x := range ms {
			out[i] = x.String()
		}
		return out
	}
	return fsm.NewFSM(initial.String(), fsm.Events{
		{Name: "program", Src: m(ModeInit, ModeIdle), Dst: ModeIdle.String()},
		{Name: "program", Src: m(ModeSuspended), Dst: ModeSuspended.String()},
		{Name: "bolus", Src: m(ModeIdle), Dst: ModeDelivering.String()},
		{Name: "done", Src: m(ModeDelivering), Dst: ModeIdle.String()},
		{Name: "suspend", Src: m(ModeIdle, ModeDelivering), Dst: ModeSuspended.String()},
		{Name: "resume", Src: m(ModeSuspended), Dst: ModeIdle.String()},
		{Name: "alarm", Src: m(ModeIdle, ModeDelivering, ModeSuspended, ModeAlarm), Dst: ModeAlarm.String()},
		{Name: "ack", Src: m(ModeAlarm), Dst: ModeIdle.String()},
		{Name: "fault", Src: m(ModeInit, ModeIdle, ModeDelivering, ModeSuspended, ModeAlarm, ModeFault), Dst: ModeFault.String()},
	}, nil)
}

// noMode marks a transition the mode machine does not allow.
const noMode Mode = 0xFF

// transitions is modeMachine compiled into a table at start-up, so that Step
// consults it without allocating. TestTransitionTableMatchesFSM and the
// property tests run the looplab machine beside the kernel to show the two
// agree.
var transitions = compileTransitions()

func compileTransitions() (t [numModes][numEvents]Mode) {
	for from := Mode(0); from < numModes; from++ {
		for ev := event(0); ev < numEvents; ev++ {
			t[from][ev] = fsmNext(from, ev)
		}
	}
	return t
}

// fsmNext asks the looplab machine where event ev leads from mode from.
func fsmNext(from Mode, ev event) Mode {
	return fsmtable.Next(modeMachine, from, eventNames[ev], numModes, noMode)
}

// next returns the mode after ev, and whether the machine allows it.
func next(from Mode, ev event) (Mode, bool) {
	if from >= numModes {
		return noMode, false
	}
	to := transitions[from][ev]
	return to, to != noMode
}
