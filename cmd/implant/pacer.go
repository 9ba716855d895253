package main

import (
	"fmt"

	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
)

// pacerSwitchMs is the blackout the pacemaker declares for a slot switch;
// the kernel grants it only if backup pacing stays within the lower-rate
// interval across it (PACE-UPDATE-SWITCH), and DefaultMaxSwitchMs bounds it.
const pacerSwitchMs units.Millis = 200

// bootPacer boots the pacemaker's firmware and, at first boot, programs the
// patient's limits from the provisioned limits.json (the relay holds them
// only encrypted).
func bootPacer(o options, keys firmware.Keys, k *protocol.ImplantKeys, hb hal.Board, stateDir string) (firmware.Device, error) {
	upd, err := updateConfig(o.keys, o.board, stateDir, o.trialRunner, k, hb.Storage, "implant.log", pacerSwitchMs)
	if err != nil {
		return nil, err
	}
	im, err := firmware.BootPacer(k.Device.ID, pacer.DefaultConfig(), keys, hb, upd)
	if err != nil {
		return nil, err
	}
	if s := im.State(); s.Guard.LastCounter == 0 {
		lim := pacer.Limits{MinLRL: pacer.PPM(k.Limits.Pacer.MinLRL), MaxURL: pacer.PPM(k.Limits.Pacer.MaxURL)}
		out, err := im.HandleProgram(pacer.Command{Kind: pacer.CmdSetLimits, Limits: lim,
			Header: guard.Header{Counter: 1, IssuedAtMs: im.Now(), ExpiresAtMs: im.Now() + units.Second, Signer: guard.RoleClinician}})
		if err != nil || !out.Accepted {
			return nil, fmt.Errorf("programming patient limits: %v %s", err, out.Reason)
		}
	}
	fmt.Printf("implant: pacemaker, log records %d\n", im.Recovery.Records)
	return im, nil
}
