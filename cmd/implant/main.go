// Command implant runs the implant firmware: the safety kernel, the wire
// protocol and the fhe package over a HAL.
//
// By default the HAL is the simulated one (hal/sim) with file storage
// (hal/filestore), its radio standing in as a loopback TCP listener (package
// link); it prints "implant: listening on ADDR" once ready. With -board
// board.json it runs on the target board (hal/board): GPIO pump and pacer,
// the hardware watchdog, storage in the description's directory, and the
// radio link over the serial port (plus the TCP listener only if -listen is
// given).
//
// With -selftest it runs the power-on self-test instead (crypto known-answer
// tests, key store, HAL, kernel invariants), prints one line per check and
// exits 0 only if every check passed.
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

	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/board"
	"github.com/implantfhe/implantfhe/hal/filestore"
	"github.com/implantfhe/implantfhe/hal/sim"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/link"
	"github.com/implantfhe/implantfhe/protocol"
)

// buildVersion names this build (set with -ldflags "-X main.buildVersion=...").
var buildVersion = "dev"

func main() {
	dir := flag.String("keys", "", "the implant's provisioned key directory")
	state := flag.String("state", "", "persistent storage directory")
	listen := flag.String("listen", "127.0.0.1:0", "radio (loopback) address")
	tick := flag.Duration("tick", 200*time.Millisecond, "kernel tick period")
	boardPath := flag.String("board", "", "board description (JSON, see hal/board); empty: the simulated HAL")
	selftest := flag.Bool("selftest", false, "run the power-on self-test, print one line per check and exit (0: all passed)")
	flag.Parse()
	if *selftest {
		os.Exit(runSelftest(os.Stdout, *dir, *boardPath))
	}
	listenSet := false
	flag.Visit(func(f *flag.Flag) { listenSet = listenSet || f.Name == "listen" })
	// run serves until the process is stopped; it returns only on failure.
	log.Fatalf("implant: %v", run(options{keys: *dir, state: *state, listen: *listen, listenSet: listenSet, tick: *tick, board: *boardPath}))
}

type options struct {
	keys, state, listen string
	// listenSet: -listen was given (on the board the TCP listener is off
	// unless asked for).
	listenSet bool
	tick      time.Duration
	board     string
}

func loadKeys(dir string) (firmware.Keys, *protocol.ImplantKeys, error) {
	k, err := protocol.LoadImplant(dir)
	if err != nil {
		return firmware.Keys{}, nil, err
	}
	return firmware.KeysOf(k), k, nil
}

// pumpSwitchMs is the blackout the pump declares for a slot switch (a
// reboot of this firmware; the kernel's MaxSwitchMs bounds it).
const pumpSwitchMs = 2 * units.Second

// pumpLimits are the kernel's limits from the provisioned limits.json (the
// clinic encrypts the same file's values for the relay).
func pumpLimits(l *protocol.PumpLimits) pump.Limits {
	return pump.Limits{MaxBolus: units.CentiUnits(l.MaxBolusCU), MaxBasal: units.CentiUnitsPerHour(l.MaxBasalCUPerHour),
		MaxIOB: units.CentiUnits(l.MaxIOBCU), MaxDaily: units.CentiUnits(l.MaxDailyCU), MinBolusInterval: units.Millis(l.MinBolusIntervalMs),
		SuspendBelow: units.MgDL(l.SuspendBelowMgDL), ScheduledBasal: units.CentiUnitsPerHour(l.ScheduledBasalCUph)}
}

// devices opens the HAL: the board's when a description is given, else the
// simulator. radio is the board's serial port (nil for the simulator);
// glucose is the simulator's sensor (nil on the board).
func devices(o options) (b hal.Board, radio io.ReadWriter, glucose *sim.Glucose, stateDir string, err error) {
	if o.board != "" {
		cfg, err := board.LoadConfig(o.board)
		if err != nil {
			return b, nil, nil, "", err
		}
		if o.state != "" {
			cfg.StorageDir = o.state
		}
		bd, err := board.Open(cfg, board.Real())
		if err != nil {
			return b, nil, nil, "", err
		}
		fmt.Printf("implant: board %s (gpio %s, radio %s at %d baud, watchdog %s, storage %s)\n",
			cfg.Name, cfg.GPIO.Chip, cfg.Serial.Device, cfg.Serial.Baud, cfg.Watchdog.Device, cfg.StorageDir)
		return bd.HAL, bd.Radio, nil, cfg.StorageDir, nil
	}
	if o.state == "" {
		return b, nil, nil, "", errors.New("-state is required with the simulated HAL")
	}
	st, err := filestore.Open(o.state)
	if err != nil {
		return b, nil, nil, "", err
	}
	clock := sim.NewClock()
	glucose = sim.NewGlucose(clock, 120)
	pmp, err := sim.NewPump(st, 20000)
	if err != nil {
		return b, nil, nil, "", err
	}
	return hal.Board{Pump: pmp, Glucose: glucose, Clock: clock, Storage: st}, nil, glucose, o.state, nil
}

func run(o options) error {
	if o.keys == "" {
		return errors.New("-keys is required")
	}
	keys, k, err := loadKeys(o.keys)
	if err != nil {
		return err
	}
	dev := k.Device
	if dev.Kind == protocol.KindPacer {
		if o.board != "" || o.state == "" {
			return errors.New("the pacemaker firmware runs on the simulated HAL with -state (no board pacer loop yet)")
		}
		return runPacer(keys, o.keys, k, o.state, o.listen, o.tick)
	}
	hb, radio, glucose, stateDir, err := devices(o)
	if err != nil {
		return err
	}
	cfg := firmware.Config{DeviceID: dev.ID, Pump: pump.DefaultConfig(pump.ProfileAdult), LogName: "implant.log"}
	if cfg.Update, err = updateConfig(o.keys, o.board, k, hb.Storage, cfg.LogName, pumpSwitchMs); err != nil {
		return err
	}
	im, err := firmware.Boot(cfg, keys, hb)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	if im.State().Mode == pump.ModeInit {
		// First boot: program the provisioned limits (out of band).
		s := im.State()
		out, _, err := im.HandleProgram(pump.Command{Kind: pump.CmdProgramLimits, Limits: pumpLimits(k.Limits.Pump),
			Header: guard.Header{Counter: s.Guard.LastCounter + 1, IssuedAtMs: im.Now(), ExpiresAtMs: im.Now() + units.Second, Signer: guard.RoleClinician}})
		if err != nil || !out.Accepted {
			return fmt.Errorf("programming limits: %v %s", err, out.Reason)
		}
	}
	go func() {
		for range time.Tick(o.tick) {
			mu.Lock()
			err := im.Tick()
			if err == nil && im.State().Mode == pump.ModeDelivering {
				err = im.DeliveryDone() // the pump finishes a bolus within a tick (Deliver is synchronous)
			}
			mu.Unlock()
			if err != nil {
				log.Fatalf("implant: tick: %v", err)
			}
		}
	}()
	fmt.Printf("implant: build %s, booted slot %s image version %d (security counter %d)\n",
		buildVersion, im.Image.Slot, im.Image.Version, im.Image.SecurityCounter)
	if radio != nil && !o.listenSet {
		fmt.Printf("implant: %s on the serial radio (log records %d, interrupted delivery: %v)\n", dev.ID, im.Recovery.Records, im.Interrupted)
		serve(radio, &mu, im, glucose)
		return errors.New("serial radio closed")
	}
	if radio != nil {
		go serve(radio, &mu, im, glucose)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stateDir, "addr"), []byte(ln.Addr().String()), 0o600); err != nil {
		return err
	}
	fmt.Printf("implant: %s listening on %s (log records %d, interrupted delivery: %v)\n", dev.ID, ln.Addr(), im.Recovery.Records, im.Interrupted)
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			serve(c, &mu, im, glucose)
		}()
	}
}

// serve answers link messages on one stream (a TCP connection or the
// serial port) until it fails.
func serve(c io.ReadWriter, mu *sync.Mutex, im *firmware.Implant, glucose *sim.Glucose) {
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
	case link.TypeQuery:
		return im.Answer(payload)
	case link.TypeTelemetry:
		return im.Telemetry()
	case link.TypeUpdate:
		out, ack, err := im.HandleUpdate(payload)
		if err != nil {
			return nil, err
		}
		if out.Err != nil {
			log.Printf("implant: update %s: %v", out.Event, out.Err)
		}
		if out.Reboot {
			// The kernel granted the switch: reboot into the pending image
			// now (test boot, self-test, confirm or revert).
			if err := im.Reboot(); err != nil {
				log.Fatalf("implant: reboot after staging an update: %v", err)
			}
			log.Printf("implant: rebooted into slot %s version %d (reverted: %v)", im.Image.Slot, im.Image.Version, im.Image.Reverted)
		}
		return ack, nil
	case link.TypeSimulate:
		if glucose == nil {
			return nil, errors.New("simulate: no simulated sensor on this HAL")
		}
		v, err := strconv.Atoi(string(payload))
		if err != nil {
			return nil, fmt.Errorf("simulate: %w", err)
		}
		glucose.Set(units.MgDL(v))
		return []byte("ok"), nil
	}
	return nil, fmt.Errorf("unknown message type %q", typ)
}
