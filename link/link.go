// Package link is the byte transport between the relay and the implant's
// radio on the host: length-prefixed messages over a stream (a loopback TCP
// connection standing in for the radio, or a serial port on the board).
// A message is a one-byte type and a payload; the payload's meaning and its
// authentication belong to package wire. link only frames bytes and bounds
// their size.
package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Message types.
const (
	TypeBundle    byte = 'B' // relay → implant: a wire.Bundle; reply: ack envelope
	TypeStatus    byte = 'S' // relay → implant: status request; reply: status ack envelope
	TypeTelemetry byte = 'T' // relay → implant: telemetry request; reply: telemetry envelope
	TypeUpdate    byte = 'U' // relay → implant: a protocol.UpdateRequest; reply: update ack envelope (empty for a staged chunk)
	TypeQuery     byte = 'Q' // relay → implant: a protocol.CommandRef; reply: the implant's signed answer about that command
	TypeError     byte = 'E' // reply: the request could not be served
	TypeReply     byte = 'R' // reply: payload follows
)

// MaxMessage bounds a message (telemetry ciphertexts are the largest).
const MaxMessage = 16 << 20

// ErrTooLarge: a message length above MaxMessage.
var ErrTooLarge = errors.New("link: message too large")

// Write sends one message.
func Write(w io.Writer, typ byte, payload []byte) error {
	if len(payload)+1 > MaxMessage {
		return ErrTooLarge
	}
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(payload)+1))
	hdr[4] = typ
	if _, err := w.Write(append(hdr[:], payload...)); err != nil {
		return fmt.Errorf("link: write: %w", err)
	}
	return nil
}

// Read receives one message of at most MaxMessage bytes.
func Read(r io.Reader) (byte, []byte, error) { return ReadMax(r, MaxMessage) }

// ReadMax receives one message of at most max bytes (type byte included):
// the declared length is checked before anything is allocated.
func ReadMax(r io.Reader, max int) (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || int64(n) > int64(max) {
		return 0, nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, fmt.Errorf("link: read: %w", err)
	}
	return b[0], b[1:], nil
}
