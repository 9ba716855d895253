package board

import (
	"fmt"
	"io"

	"go.bug.st/serial"
)

// Port is the radio module's serial port as the firmware uses it: a byte
// stream that carries link frames (package link) both ways.
type Port interface {
	io.ReadWriteCloser
}

// PortOpener opens a serial port.
type PortOpener func(device string, baud int) (Port, error)

// OpenSerial opens device at baud, 8N1, blocking reads.
func OpenSerial(device string, baud int) (Port, error) {
	p, err := serial.Open(device, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("board: serial %s at %d baud: %w", device, baud, err)
	}
	return p, nil
}
