package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/update"
)

// Factory image: slot A holds this program's own executable at first boot,
// as version FactoryVersion with security counter FactoryCounter.
const (
	FactoryVersion = 1
	FactoryCounter = 1
)

// updateConfig opens the device's update path: the trust root and X25519
// key from the key directory, the slots in the device's storage. At first
// boot (no log, no update state) slot A is provisioned with this program's
// executable. Update state missing on a device that has already run is
// refused: re-provisioning would reset the anti-rollback counter.
func updateConfig(keysDir, boardPath, stateDir, trialRunner string, k *protocol.ImplantKeys, st hal.Storage, logName string, switchMs units.Millis) (*firmware.UpdateConfig, error) {
	root, dev := k.UpdateRoot, k.Device
	cfg := update.Config{Storage: st, VendorID: dev.VendorID, ClassID: dev.ClassID, DeviceKey: k.UpdateDeviceKey}
	if _, err := update.Open(cfg); errors.Is(err, update.ErrNotProvisioned) {
		if _, lerr := st.ReadAll(logName); !errors.Is(lerr, hal.ErrNotFound) {
			return nil, fmt.Errorf("update state missing on a device whose log exists (%v): refusing to re-provision the factory image", lerr)
		}
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("factory image: %w", err)
		}
		img, err := os.ReadFile(exe)
		if err != nil {
			return nil, fmt.Errorf("factory image: %w", err)
		}
		if err := update.Provision(cfg, root, img, FactoryVersion, FactoryCounter, update.MaxChunkSize); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return &firmware.UpdateConfig{Slots: cfg, SwitchMs: switchMs, SelfTest: trialSelftest(keysDir, boardPath, stateDir, trialRunner)}, nil
}

// elfMachine is the ELF machine of each architecture the firmware is built
// for.
var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM}

// ErrImage: a trial image that is not a program for this board.
var ErrImage = errors.New("trial image: not an executable for this board")

// checkImage: the image must be an ELF executable for this CPU.
func checkImage(image []byte) error {
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrImage, err)
	}
	defer f.Close()
	want, ok := elfMachine[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("%w: no ELF machine known for %s", ErrImage, runtime.GOARCH)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("%w: ELF type %s", ErrImage, f.Type)
	}
	if f.Machine != want {
		return fmt.Errorf("%w: built for %s, this board is %s", ErrImage, f.Machine, want)
	}
	return nil
}

// TrialTimeout bounds the test-booted image's self-test run.
const TrialTimeout = 2 * time.Minute

// trialSelftest is the self-test a test-booted image must pass before it is
// confirmed: the staged image itself is booted — written to an executable
// file beside the device's state and run with -selftest on this device's
// keys and board, through runner if one is given (an emulator standing in
// for the board's CPU) — and confirmed only if it exits 0. An image that is
// not an executable for this CPU is refused before it is run.
func trialSelftest(keysDir, boardPath, stateDir, runner string) func([]byte) error {
	return func(image []byte) error {
		if err := checkImage(image); err != nil {
			return err
		}
		f, err := os.CreateTemp(stateDir, "trial-image-*")
		if err != nil {
			return fmt.Errorf("trial image: %w", err)
		}
		path := f.Name()
		defer os.Remove(path)
		_, err = f.Write(image)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(path, 0o700)
		}
		if err != nil {
			return fmt.Errorf("trial image: %w", err)
		}
		args := []string{"-selftest", "-keys", keysDir}
		if boardPath != "" {
			args = append(args, "-board", boardPath)
		}
		name := path
		if runner != "" {
			name, args = runner, append([]string{path}, args...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), TrialTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("the test-booted image's self-test failed (%v): %s", err, lastLines(string(out), 3))
		}
		return nil
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "; ")
}
