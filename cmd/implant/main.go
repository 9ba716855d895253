// Command implant runs the implant firmware on a development host: the
// safety kernel, the wire protocol and the fhe package over the simulated
// HAL (hal/sim) with file storage (hal/filestore), its radio standing in as
// a loopback TCP listener (package link). It prints "implant: listening on
// ADDR" once ready.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/filestore"
	"github.com/implantfhe/implantfhe/hal/sim"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/link"
	"github.com/implantfhe/implantfhe/provision"
)

func main() {
	dir := flag.String("keys", "", "the implant's provisioned key directory")
	state := flag.String("state", "", "persistent storage directory")
	listen := flag.String("listen", "127.0.0.1:0", "radio (loopback) address")
	tick := flag.Duration("tick", 200*time.Millisecond, "kernel tick period")
	flag.Parse()
	// run serves until the process is stopped; it returns only on failure.
	log.Fatalf("implant: %v", run(*dir, *state, *listen, *tick))
}

func loadKeys(dir string) (firmware.Keys, provision.Device, error) {
	var k firmware.Keys
	dev, err := provision.ReadDevice(dir)
	if err != nil {
		return k, dev, err
	}
	b, err := provision.ReadFile(dir, "fhe-implant.sk")
	if err != nil {
		return k, dev, err
	}
	if k.FHE, err = fhe.UnmarshalSecretKeys(b); err != nil {
		return k, dev, err
	}
	if b, err = provision.ReadFile(dir, "fhe-clinic.pk"); err != nil {
		return k, dev, err
	}
	if k.Clinic, err = fhe.UnmarshalPublicKey(b); err != nil {
		return k, dev, err
	}
	if k.Signer, err = provision.ReadSigningKey(dir, "implant.key"); err != nil {
		return k, dev, err
	}
	if k.Trust, _, err = provision.ReadTrust(dir); err != nil {
		return k, dev, err
	}
	k.BindKey, err = provision.ReadFile(dir, "bind.key")
	return k, dev, err
}

// Limits programmed at provisioning (adult profile).
var provisionedLimits = pump.Limits{MaxBolus: 500, MaxBasal: 200, MaxIOB: 1500, MaxDaily: 4000,
	MinBolusInterval: 0, SuspendBelow: 70, ScheduledBasal: 0}

func run(dir, stateDir, listen string, tick time.Duration) error {
	if dir == "" || stateDir == "" {
		return errors.New("-keys and -state are required")
	}
	keys, dev, err := loadKeys(dir)
	if err != nil {
		return err
	}
	st, err := filestore.Open(stateDir)
	if err != nil {
		return err
	}
	clock := sim.NewClock()
	glucose := sim.NewGlucose(clock, 120)
	pmp, err := sim.NewPump(st, 20000)
	if err != nil {
		return err
	}
	board := hal.Board{Pump: pmp, Glucose: glucose, Clock: clock, Storage: st}
	cfg := firmware.Config{DeviceID: dev.ID, Pump: pump.DefaultConfig(pump.ProfileAdult)}
	im, err := firmware.Boot(cfg, keys, board)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	if im.State().Mode == pump.ModeInit {
		// First boot: program the provisioned limits (out of band).
		s := im.State()
		out, _, err := im.HandleProgram(pump.Command{Kind: pump.CmdProgramLimits, Limits: provisionedLimits,
			Header: guard.Header{Counter: s.Guard.LastCounter + 1, IssuedAtMs: s.NowMs, ExpiresAtMs: s.NowMs + units.Second, Signer: guard.RoleClinician}})
		if err != nil || !out.Accepted {
			return fmt.Errorf("programming limits: %v %s", err, out.Reason)
		}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stateDir, "addr"), []byte(ln.Addr().String()), 0o600); err != nil {
		return err
	}
	fmt.Printf("implant: %s listening on %s (log records %d, interrupted delivery: %v)\n", dev.ID, ln.Addr(), im.Recovery.Records, im.Interrupted)
	go func() {
		for range time.Tick(tick) {
			mu.Lock()
			err := im.Tick()
			if err == nil && im.State().Mode == pump.ModeDelivering {
				err = im.DeliveryDone() // the simulated pump finishes a bolus within a tick
			}
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
		go serve(c, &mu, im, glucose)
	}
}

func serve(c net.Conn, mu *sync.Mutex, im *firmware.Implant, glucose *sim.Glucose) {
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
		reply, err := handle(typ, payload, im, glucose)
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

func handle(typ byte, payload []byte, im *firmware.Implant, glucose *sim.Glucose) ([]byte, error) {
	switch typ {
	case link.TypeBundle:
		out, ack, err := im.HandleFrame(payload)
		if err != nil {
			return nil, err
		}
		if out.Refused != nil {
			log.Printf("implant: refused frame: %v", out.Refused)
		}
		return ack, nil
	case link.TypeStatus:
		return im.Status()
	case link.TypeTelemetry:
		return im.Telemetry()
	case link.TypeSimulate:
		v, err := strconv.Atoi(string(payload))
		if err != nil {
			return nil, fmt.Errorf("simulate: %w", err)
		}
		glucose.Set(units.MgDL(v))
		return []byte("ok"), nil
	}
	return nil, fmt.Errorf("unknown message type %q", typ)
}
