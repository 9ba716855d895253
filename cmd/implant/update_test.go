package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
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
