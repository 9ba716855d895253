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
	"github.com/implantfhe/implantfhe/provision"
)

// Patient limits programmed out of band at provisioning: the relay holds
// them only encrypted.
var provisionedPacerLimits = pacer.Limits{MinLRL: 40, MaxURL: 150}

// runPacer runs the pacemaker firmware on the simulated HAL.
func runPacer(keys firmware.Keys, dev provision.Device, stateDir, listen string, tick time.Duration) error {
	st, err := filestore.Open(stateDir)
	if err != nil {
		return err
	}
	clock := sim.NewClock()
	board := hal.Board{Pacer: sim.NewPacer(), Clock: clock, Storage: st}
	im, err := firmware.BootPacer(dev.ID, pacer.DefaultConfig(), keys, board)
	if err != nil {
		return err
	}
	if s := im.State(); s.Guard.LastCounter == 0 {
		out, err := im.HandleProgram(pacer.Command{Kind: pacer.CmdSetLimits, Limits: provisionedPacerLimits,
			Header: guard.Header{Counter: 1, IssuedAtMs: s.NowMs, ExpiresAtMs: s.NowMs + units.Second, Signer: guard.RoleClinician}})
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
