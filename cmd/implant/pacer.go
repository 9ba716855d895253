package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/filestore"
	"github.com/implantfhe/implantfhe/hal/sim"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/link"
	"github.com/implantfhe/implantfhe/protocol"
)

// pacerSwitchMs is the blackout the pacemaker declares for a slot switch;
// the kernel grants it only if backup pacing stays within the lower-rate
// interval across it (PACE-UPDATE-SWITCH), and DefaultMaxSwitchMs bounds it.
const pacerSwitchMs units.Millis = 200

// runPacer runs the pacemaker firmware on the simulated HAL.
func runPacer(keys firmware.Keys, keysDir string, k *protocol.ImplantKeys, stateDir, listen string, tick time.Duration) error {
	dev := k.Device
	st, err := filestore.Open(stateDir)
	if err != nil {
		return err
	}
	clock := sim.NewClock()
	board := hal.Board{Pacer: sim.NewPacer(), Clock: clock, Storage: st}
	upd, err := updateConfig(keysDir, "", k, st, "implant.log", pacerSwitchMs)
	if err != nil {
		return err
	}
	im, err := firmware.BootPacer(dev.ID, pacer.DefaultConfig(), keys, board, upd)
	if err != nil {
		return err
	}
	if s := im.State(); s.Guard.LastCounter == 0 {
		// First boot: the patient's limits from the provisioned limits.json
		// (the relay holds them only encrypted).
		lim := pacer.Limits{MinLRL: pacer.PPM(k.Limits.Pacer.MinLRL), MaxURL: pacer.PPM(k.Limits.Pacer.MaxURL)}
		out, err := im.HandleProgram(pacer.Command{Kind: pacer.CmdSetLimits, Limits: lim,
			Header: guard.Header{Counter: 1, IssuedAtMs: im.Now(), ExpiresAtMs: im.Now() + units.Second, Signer: guard.RoleClinician}})
		if err != nil || !out.Accepted {
			return fmt.Errorf("programming patient limits: %v %s", err, out.Reason)
		}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stateDir, "addr"), []byte(ln.Addr().String()), 0o600); err != nil {
		return err
	}
	fmt.Printf("implant: %s (pacemaker) listening on %s (log records %d)\n", dev.ID, ln.Addr(), im.Recovery.Records)
	var mu sync.Mutex
	go func() {
		for range time.Tick(tick) {
			mu.Lock()
			err := im.Tick()
			mu.Unlock()
			if err != nil {
				log.Fatalf("implant: tick: %v", err)
			}
		}
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go servePacer(c, &mu, im)
	}
}

func servePacer(c net.Conn, mu *sync.Mutex, im *firmware.PacerImplant) {
	defer c.Close()
	for {
		typ, payload, err := link.Read(c)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				log.Printf("implant: link: %v", err)
			}
			return
		}
		mu.Lock()
		var reply []byte
		switch typ {
		case link.TypeBundle:
			var out firmware.Outcome
			out, reply, err = im.HandleFrame(payload)
			if err == nil && out.Refused != nil {
				log.Printf("implant: refused frame: %v", out.Refused)
			}
		case link.TypeStatus:
			reply, err = im.Status()
		case link.TypeUpdate:
			var out firmware.UpdateOutcome
			out, reply, err = im.HandleUpdate(payload)
			if err == nil && out.Err != nil {
				log.Printf("implant: update %s: %v", out.Event, out.Err)
			}
			if err == nil && out.Reboot {
				if rerr := im.Reboot(); rerr != nil {
					log.Fatalf("implant: reboot after staging an update: %v", rerr)
				}
				log.Printf("implant: rebooted into slot %s version %d (reverted: %v)", im.Image.Slot, im.Image.Version, im.Image.Reverted)
			}
		default:
			err = fmt.Errorf("message type %q not served by a pacemaker", typ)
		}
		mu.Unlock()
		if err != nil {
			_ = link.Write(c, link.TypeError, []byte(err.Error()))
			continue
		}
		if err := link.Write(c, link.TypeReply, reply); err != nil {
			return
		}
	}
}
