package firmware

import (
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// The runtime's carry-out rule, shared by every kernel (the pattern of
// etcd/raft's Ready: the kernel plans a batch, the runtime persists it and
// carries it out):
//
//   - the actions of one Step are carried out in order;
//   - at the first HAL error the runtime stops carrying out that batch: the
//     rest was planned by a kernel that did not know of the fault. The error
//     is fed back to the kernel as its HAL input, and only the outputs of
//     that fault step (the safe state: the pump's Stop, the pacer's backup
//     pacing) are carried out;
//   - the pump's motor is never driven once the kernel is in Fault,
//     Suspended or Alarm, whatever the batch says (Stop is always allowed).
//
// Every actuator call goes through carryOut, and nothing else in the
// firmware calls an actuator.

// actKind is what one action asks of the hardware.
type actKind uint8

const (
	actDeliver actKind = iota + 1
	actStop
	actPace
)

// action is one actuator call a kernel step asks for.
type action struct {
	kind    actKind
	amount  units.CentiUnits // actDeliver
	chamber hal.Chamber      // actPace
	amp     hal.MilliVolts
	width   hal.Microseconds
}

// carryOut performs acts in order on board and returns how many were
// carried out and the first HAL error, after which it stops (unless the
// planted stale-batch bug is built in, for the actuator-level check to
// catch). halted is asked before each actuation that moves something.
func carryOut(board hal.Board, acts []action, halted func() bool) (int, error) {
	var first error
	for i, a := range acts {
		var err error
		switch a.kind {
		case actStop:
			err = board.Pump.Stop()
		case actDeliver:
			if halted() {
				return i, first
			}
			err = board.Pump.Deliver(a.amount)
		case actPace:
			if board.Pacer == nil {
				continue
			}
			err = board.Pacer.Pace(a.chamber, a.amp, a.width)
		}
		if err != nil && first == nil {
			first = err
			if !plantedStaleBatch {
				return i + 1, first
			}
		}
	}
	return len(acts), first
}

// pumpMustSync is the pump adapter's answer to "must this step be durable
// before anything acts": a command's decision, a change of mode, or any
// output but a plain event (an actuation, a stop, an alert, a switch
// decision). A tick that changed nothing is not logged.
func pumpMustSync(prev pump.Mode, in *pump.Input, nxt *pump.State, outs *pump.Outputs) bool {
	if prev != nxt.Mode || in.Kind == pump.InCommand {
		return true
	}
	for _, o := range outs.All() {
		if o.Kind != pump.OutEvent {
			return true
		}
	}
	return false
}

// pacerMustSync is the pacemaker adapter's: a command, a switch request, a
// change of operation, an alert or a program taking effect is logged with
// the kernel state (paces alone are logged without it: they change no
// state a reboot needs).
func pacerMustSync(prev pacer.Op, in *pacer.Input, nxt *pacer.State, notable bool) bool {
	return prev != nxt.Op || in.Kind == pacer.InCommand || in.Kind == pacer.InSwitchRequest || notable
}

// pumpActions lists the actuator calls of a pump step's outputs.
func pumpActions(outs *pump.Outputs) []action {
	var acts []action
	for _, o := range outs.All() {
		switch o.Kind {
		case pump.OutStop:
			acts = append(acts, action{kind: actStop})
		case pump.OutActuate:
			acts = append(acts, action{kind: actDeliver, amount: o.Amount})
		}
	}
	return acts
}

// pumpHalted: the pump's motor must not move in these modes.
func pumpHalted(m pump.Mode) bool {
	return m == pump.ModeFault || m == pump.ModeSuspended || m == pump.ModeAlarm
}

// pacerActions lists the paces of a pacer step's outputs (0.1 V → mV,
// 0.01 ms → µs).
func pacerActions(outs *pacer.Outputs) []action {
	var acts []action
	for _, o := range outs.All() {
		if o.Kind != pacer.OutPace {
			continue
		}
		ch := hal.ChamberVentricle
		if o.Chamber == pacer.ChamberAtrium {
			ch = hal.ChamberAtrium
		}
		acts = append(acts, action{kind: actPace, chamber: ch, amp: hal.MilliVolts(o.Amplitude) * 100, width: hal.Microseconds(o.Width) * 10})
	}
	return acts
}
