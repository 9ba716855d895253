package firmware

import (
	"errors"

	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
)

// ErrNoUpdatePath: an update request to firmware built without one.
var ErrNoUpdatePath = errors.New("firmware: no update path configured")

func (im *Implant) persistUpdate(r *protocol.LogRecord) error { return im.persist(r, true) }

// gateSwitch asks the pump kernel (PUMP-UPDATE-SWITCH) whether a slot switch
// with a blackout of switchMs is safe now; the decision is logged with the
// kernel state like any other step.
func (im *Implant) gateSwitch(switchMs units.Millis) (bool, reason.Code, error) {
	outs, err := im.step(pump.Input{Kind: pump.InSwitchRequest, NowMs: im.now(), SwitchMs: switchMs}, "switch-request", nil, nil)
	if err != nil {
		return false, 0, err
	}
	for _, o := range outs.All() {
		if o.Kind == pump.OutSwitch {
			return o.Accepted, o.Reason, nil
		}
	}
	return false, reason.UnknownCommand, errors.New("firmware: the pump kernel gave no switch decision")
}

// HandleUpdate serves one update request from the radio (see UpdOffer and
// the other operations) and returns the reply payload. When the outcome
// asks for a reboot, the caller calls Reboot before anything else.
func (im *Implant) HandleUpdate(payload []byte) (UpdateOutcome, []byte, error) {
	return serveUpdate(im.upd, im, payload)
}

// Reboot restarts the firmware from storage, as a power cycle would: the
// log is reopened and the kernel state restored from it, and the bootloader
// test-boots a pending image (then confirms or reverts it).
func (im *Implant) Reboot() error {
	nim, err := Boot(im.cfg, im.keys, im.board)
	if err != nil {
		return err
	}
	*im = *nim
	if im.upd != nil {
		im.upd.h = im
	}
	return nil
}
