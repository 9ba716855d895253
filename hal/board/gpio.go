package board

import (
	"fmt"

	"github.com/warthog618/go-gpiocdev"
)

// Line is one requested GPIO line: the part of *gpiocdev.Line the backend
// uses, so tests can put a fake in its place.
type Line interface {
	Value() (int, error)
	SetValue(value int) error
	Close() error
}

// Direction of a requested line.
type Direction uint8

// Directions. An output starts low (motor driver off, no pacing pulse).
const (
	Input Direction = iota
	Output
)

// LineOpener requests one line of a GPIO chip.
type LineOpener func(chip string, offset int, dir Direction) (Line, error)

// Consumer is the label the kernel shows for the lines the implant holds
// (gpioinfo).
const Consumer = "implantfhe"

// OpenGPIOLine requests a line through the Linux GPIO character device.
func OpenGPIOLine(chip string, offset int, dir Direction) (Line, error) {
	opts := []gpiocdev.LineReqOption{gpiocdev.WithConsumer(Consumer)}
	if dir == Output {
		opts = append(opts, gpiocdev.AsOutput(0))
	} else {
		opts = append(opts, gpiocdev.AsInput)
	}
	l, err := gpiocdev.RequestLine(chip, offset, opts...)
	if err != nil {
		return nil, fmt.Errorf("board: gpio %s line %d: %w", chip, offset, err)
	}
	return l, nil
}
