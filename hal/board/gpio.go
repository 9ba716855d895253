package board

import (
	"fmt"
	"io"

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

// EdgeWatcher requests an input line and calls onEdge for every rising
// edge, from the GPIO event goroutine, until the returned closer is closed.
type EdgeWatcher func(chip string, offset int, onEdge func()) (io.Closer, error)

// WatchGPIOEdges watches a line's rising edges through the Linux GPIO
// character device (kernel edge detection, events queued by the kernel).
func WatchGPIOEdges(chip string, offset int, onEdge func()) (io.Closer, error) {
	l, err := gpiocdev.RequestLine(chip, offset, gpiocdev.WithConsumer(Consumer), gpiocdev.AsInput,
		gpiocdev.WithRisingEdge, gpiocdev.WithEventHandler(func(gpiocdev.LineEvent) { onEdge() }))
	if err != nil {
		return nil, fmt.Errorf("board: gpio %s line %d (edges): %w", chip, offset, err)
	}
	return l, nil
}
