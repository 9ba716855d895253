package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

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
func updateConfig(keysDir, boardPath string, k *protocol.ImplantKeys, st hal.Storage, logName string, switchMs units.Millis) (*firmware.UpdateConfig, error) {
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
	return &firmware.UpdateConfig{Slots: cfg, SwitchMs: switchMs, SelfTest: trialSelftest(keysDir, boardPath)}, nil
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

// trialSelftest is the self-test a test-booted image must pass before it is
// confirmed: the image is an executable for this CPU, and the power-on
// self-test (crypto known answers, keys, HAL, kernel script) passes.
func trialSelftest(keysDir, boardPath string) func([]byte) error {
	return func(image []byte) error {
		if err := checkImage(image); err != nil {
			return err
		}
		var out strings.Builder
		if code := runSelftest(&out, keysDir, boardPath); code != 0 {
			return fmt.Errorf("power-on self-test failed: %s", strings.TrimSpace(out.String()))
		}
		return nil
	}
}
