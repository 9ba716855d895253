package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/provision"
)

// TestCheckImage: the trial self-test accepts this test binary (an ELF
// executable for this CPU) and refuses random bytes and an ELF built for
// another machine.
func TestCheckImage(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	self, err := os.ReadFile(exe)
	require.NoError(t, err)
	require.NoError(t, checkImage(self))

	require.ErrorIs(t, checkImage(bytes.Repeat([]byte{0x5a}, 4096)), ErrImage)
	require.ErrorIs(t, checkImage(nil), ErrImage)

	// The same executable with its header's machine field changed.
	other := bytes.Clone(self)
	machine := elf.EM_AARCH64
	if runtime.GOARCH == "arm64" {
		machine = elf.EM_X86_64
	}
	// e_machine is at offset 18 in both ELF32 and ELF64 headers.
	order := binary.ByteOrder(binary.LittleEndian)
	if other[elf.EI_DATA] == byte(elf.ELFDATA2MSB) {
		order = binary.BigEndian
	}
	order.PutUint16(other[18:], uint16(machine))
	require.ErrorIs(t, checkImage(other), ErrImage)
}

// TestTrialBootRunsTheStagedImage: the trial self-test boots the staged
// image itself (regression: it checked the image's ELF header and ran the
// running binary's own self-test, so a signed image whose self-test fails
// was confirmed). A good build passes; a correctly signed build whose own
// self-test fails is refused because it failed; bytes that are not a
// program are refused before anything runs.
func TestTrialBootRunsTheStagedImage(t *testing.T) {
	tmp := t.TempDir()
	keys := filepath.Join(tmp, "keys")
	require.NoError(t, provision.Generate(keys, provision.Options{DeviceID: "pump-trial", Kind: protocol.KindPump, Set: fhe.TestOnlyN11}))
	build := func(name string, ldflags string) []byte {
		out := filepath.Join(tmp, name)
		args := []string{"build", "-tags", "fhe_testonly", "-o", out}
		if ldflags != "" {
			args = append(args, "-ldflags", ldflags)
		}
		cmd := exec.Command("go", append(args, ".")...)
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build: %s", b)
		img, err := os.ReadFile(out)
		require.NoError(t, err)
		return img
	}
	trial := trialSelftest(filepath.Join(keys, "implant"), "", tmp, "")

	require.NoError(t, trial(build("good", "")), "a good image passes its own self-test")

	err := trial(build("broken", "-X main.selftestBroken=planted-fault"))
	require.Error(t, err, "an image whose self-test fails is not confirmed")
	assert.Contains(t, err.Error(), "planted-fault", "refused because its own self-test failed")

	require.ErrorIs(t, trial(bytes.Repeat([]byte{0x5a}, 4096)), ErrImage)
	left, err := filepath.Glob(filepath.Join(tmp, "trial-image-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "the trial image file is removed")
}
