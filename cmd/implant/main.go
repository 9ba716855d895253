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
// On the simulated HAL the simulator's sensors are driven through their own
// loopback control socket (-sim-control; its address in STATE/sim-addr), a
// line protocol ("glucose 55", "heart 72", "stats"), never through the
// radio: nothing unauthenticated on the radio changes what the kernel sees.
//
// With -selftest it runs the power-on self-test instead (crypto known-answer
// tests, key store, HAL, kernel invariants), prints one line per check and
// exits 0 only if every check passed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/board"
	"github.com/implantfhe/implantfhe/hal/filestore"
	"github.com/implantfhe/implantfhe/hal/sim"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
)

// buildVersion names this build (set with -ldflags "-X main.buildVersion=...").
var buildVersion = "dev"

func main() {
	var o options
	flag.StringVar(&o.keys, "keys", "", "the implant's provisioned key directory")
	flag.StringVar(&o.state, "state", "", "persistent storage directory")
	flag.StringVar(&o.listen, "listen", "127.0.0.1:0", "radio (loopback) address")
	flag.StringVar(&o.simControl, "sim-control", "127.0.0.1:0", "simulated HAL: the sensors' control socket (loopback)")
	flag.DurationVar(&o.tick, "tick", 200*time.Millisecond, "kernel tick period")
	flag.StringVar(&o.board, "board", "", "board description (JSON, see hal/board); empty: the simulated HAL")
	flag.StringVar(&o.trialRunner, "trial-runner", "", "run a test-booted image through this program (an emulator for the board's CPU); empty: exec it")
	selftest := flag.Bool("selftest", false, "run the power-on self-test, print one line per check and exit (0: all passed)")
	flag.Parse()
	if *selftest {
		os.Exit(runSelftest(os.Stdout, o.keys, o.board))
	}
	flag.Visit(func(f *flag.Flag) { o.listenSet = o.listenSet || f.Name == "listen" })
	// run serves until the process is stopped; it returns only on failure.
	log.Fatalf("implant: %v", run(o))
}

type options struct {
	keys, state, listen, simControl, board, trialRunner string
	// listenSet: -listen was given (on the board the TCP listener is off
	// unless asked for).
	listenSet bool
	tick      time.Duration
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
// simulator. radio is the board's serial port (nil for the simulator); sim
// the simulator's sensors and outputs (nil on the board).
func devices(o options, kind protocol.DeviceKind) (b hal.Board, radio io.ReadWriter, sd *simDevices, stateDir string, err error) {
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
		if kind == protocol.KindPacer && (bd.HAL.Pacer == nil || bd.HAL.Cardiac == nil) {
			return b, nil, nil, "", fmt.Errorf("board %s: a pacemaker needs pacing outputs and sensing inputs", cfg.Name)
		}
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
	sd = &simDevices{}
	b = hal.Board{Clock: clock, Storage: st}
	if kind == protocol.KindPacer {
		sd.pacer, sd.heart = sim.NewPacer(), sim.NewHeart(clock)
		b.Pacer, b.Cardiac = sd.pacer, sd.heart
	} else {
		sd.glucose = sim.NewGlucose(clock, 120)
		pmp, err := sim.NewPump(st, 20000)
		if err != nil {
			return b, nil, nil, "", err
		}
		b.Pump, b.Glucose = pmp, sd.glucose
	}
	return b, nil, sd, o.state, nil
}

func run(o options) error {
	if o.keys == "" {
		return errors.New("-keys is required")
	}
	keys, k, err := loadKeys(o.keys)
	if err != nil {
		return err
	}
	hb, radio, simDevs, stateDir, err := devices(o, k.Device.Kind)
	if err != nil {
		return err
	}
	var dev firmware.Device
	if k.Device.Kind == protocol.KindPacer {
		dev, err = bootPacer(o, keys, k, hb, stateDir)
	} else {
		dev, err = bootPump(o, keys, k, hb, stateDir)
	}
	if err != nil {
		return err
	}
	fmt.Printf("implant: build %s, booted %s\n", buildVersion, dev.Booted())
	loop := &firmware.Loop{Dev: dev, Period: o.tick}
	errs := make(chan error, 3)
	go func() { errs <- loop.Run(context.Background()) }()
	if simDevs != nil {
		addr, err := simDevs.serve(o.simControl)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(stateDir, "sim-addr"), []byte(addr), 0o600); err != nil {
			return err
		}
		fmt.Printf("implant: simulator control on %s\n", addr)
	}
	if radio != nil {
		go func() { loop.Serve(radio); errs <- errors.New("serial radio closed") }()
		fmt.Printf("implant: %s on the serial radio\n", k.Device.ID)
	}
	if radio == nil || o.listenSet {
		ln, err := net.Listen("tcp", o.listen)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(stateDir, "addr"), []byte(ln.Addr().String()), 0o600); err != nil {
			return err
		}
		fmt.Printf("implant: %s (%s) listening on %s\n", k.Device.ID, k.Device.Kind, ln.Addr())
		go func() { errs <- loop.Listen(ln) }()
	}
	return <-errs
}

// bootPump boots the pump's firmware and, at first boot, programs the
// provisioned limits (out of band; the clinic holds the same file).
func bootPump(o options, keys firmware.Keys, k *protocol.ImplantKeys, hb hal.Board, stateDir string) (firmware.Device, error) {
	cfg := firmware.Config{DeviceID: k.Device.ID, Pump: pump.DefaultConfig(pump.ProfileAdult), LogName: "implant.log"}
	var err error
	if cfg.Update, err = updateConfig(o.keys, o.board, stateDir, o.trialRunner, k, hb.Storage, cfg.LogName, pumpSwitchMs); err != nil {
		return nil, err
	}
	im, err := firmware.Boot(cfg, keys, hb)
	if err != nil {
		return nil, err
	}
	if im.State().Mode == pump.ModeInit {
		s := im.State()
		out, _, err := im.HandleProgram(pump.Command{Kind: pump.CmdProgramLimits, Limits: pumpLimits(k.Limits.Pump),
			Header: guard.Header{Counter: s.Guard.LastCounter + 1, IssuedAtMs: im.Now(), ExpiresAtMs: im.Now() + units.Second, Signer: guard.RoleClinician}})
		if err != nil || !out.Accepted {
			return nil, fmt.Errorf("programming limits: %v %s", err, out.Reason)
		}
	}
	fmt.Printf("implant: log records %d, interrupted delivery: %v\n", im.Recovery.Records, im.Interrupted)
	return im, nil
}
