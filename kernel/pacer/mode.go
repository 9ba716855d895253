package pacer

import (
	"github.com/looplab/fsm"

	"github.com/implantfhe/implantfhe/kernel/internal/fsmtable"
)

// Op is the operating state (PACEMAKER spec §3.6: Permanent, Temporary,
// Pace-Now, Magnet, Power-On Reset are mutually exclusive), plus Fault.
type Op uint8

// Operating states.
const (
	OpPowerOnReset Op = iota // safe VVI 65 until first programmed
	OpPermanent              // the permanent program
	OpTemporary              // a temporary program, for a bounded time
	OpPaceNow                // emergency safe VVI 65, until programmed
	OpMagnet                 // asynchronous pacing at the magnet rate while a magnet is applied
	OpFault                  // safe backup VVI 65 for good
	numOps
)

var opNames = [numOps]string{"power-on-reset", "permanent", "temporary", "pace-now", "magnet", "fault"}

func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "invalid"
}

// Event is an operating-state event.
type Event uint8

const (
	evProgram Event = iota
	evTemporary
	evEndTemporary
	evPaceNow
	evMagnetOn
	evMagnetOff
	evFault
	numEvents
)

var eventNames = [numEvents]string{"program", "temporary", "end-temporary", "pace-now", "magnet-on", "magnet-off", "fault"}

// opMachine is the operating-state machine as declared with looplab/fsm: the
// single source of the pacer's allowed state transitions.
func opMachine(initial Op) *fsm.FSM {
	m := func(os ...Op) []string {
		out := make([]string, len(os))
		for i, x := range os {
			out[i] = x.String()
		}
		return out
	}
	return fsm.NewFSM(initial.String(), fsm.Events{
		{Name: "program", Src: m(OpPowerOnReset, OpPermanent, OpTemporary, OpPaceNow), Dst: OpPermanent.String()},
		{Name: "temporary", Src: m(OpPermanent, OpTemporary), Dst: OpTemporary.String()},
		{Name: "end-temporary", Src: m(OpTemporary), Dst: OpPermanent.String()},
		{Name: "pace-now", Src: m(OpPowerOnReset, OpPermanent, OpTemporary, OpPaceNow, OpMagnet), Dst: OpPaceNow.String()},
		{Name: "magnet-on", Src: m(OpPermanent, OpTemporary), Dst: OpMagnet.String()},
		{Name: "magnet-off", Src: m(OpMagnet), Dst: OpPermanent.String()},
		{Name: "fault", Src: m(OpPowerOnReset, OpPermanent, OpTemporary, OpPaceNow, OpMagnet, OpFault), Dst: OpFault.String()},
	}, nil)
}

// noOp marks a transition the machine does not allow.
const noOp Op = 0xFF

// transitions is opMachine compiled at start-up, so that Step consults it
// without allocating (TestTransitionTableMatchesFSM keeps them in step).
var transitions = compileTransitions()

func compileTransitions() (t [numOps][numEvents]Op) {
	for from := Op(0); from < numOps; from++ {
		for ev := Event(0); ev < numEvents; ev++ {
			t[from][ev] = fsmNext(from, ev)
		}
	}
	return t
}

// fsmNext asks the looplab machine where ev leads from from.
func fsmNext(from Op, ev Event) Op {
	return fsmtable.Next(opMachine, from, eventNames[ev], numOps, noOp)
}

// next returns the state after ev, and whether the machine allows it.
func next(from Op, ev Event) (Op, bool) {
	if from >= numOps || ev >= numEvents {
		return noOp, false
	}
	to := transitions[from][ev]
	return to, to != noOp
}

func (e Event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return "invalid"
}
