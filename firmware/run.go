package firmware

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"github.com/implantfhe/implantfhe/link"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/wire"
)

// Device is what the firmware loop drives: the pump's or the pacemaker's
// firmware (Implant, PacerImplant), behind one mutex.
type Device interface {
	// Service reads the sensors and steps the kernel's time (one tick).
	Service() error
	HandleFrame(frame []byte) (Outcome, []byte, error)
	HandleUpdate(payload []byte) (UpdateOutcome, []byte, error)
	Status() ([]byte, error)
	Answer(query []byte) ([]byte, error)
	Telemetry() ([]byte, error)
	// Reboot restarts from storage (after a staged update: the trial boot).
	Reboot() error
	// Booted describes the running image.
	Booted() string
	// Until is how soon the kernel wants its next tick (the pacer's escape
	// deadlines); the loop ticks at the earlier of that and its Period.
	Until() time.Duration
}

// Bounds of the radio listener: nothing unauthenticated costs more than
// this. A message is bounded by the largest thing the radio carries (a
// bundle, or an update chunk with its request framing) before anything is
// allocated; a connection must deliver each message within RadioMessageTime;
// at most RadioConns connections are served at once (more are closed).
const (
	MaxRadioMessage  = 1 + max(wire.MaxRadioFrame, protocol.MaxUpdateRequest)
	RadioMessageTime = 10 * time.Second
	RadioConns       = 4
)

// Loop is the firmware's event loop: a tick every Period, and the link
// messages of the radio streams, all serialised on one device.
type Loop struct {
	Dev    Device
	Period time.Duration
	// Logf reports refused frames and update events (nil: log.Printf).
	Logf func(format string, a ...any)
	// MessageTime and MaxConns override RadioMessageTime and RadioConns
	// (zero: those).
	MessageTime time.Duration
	MaxConns    int

	mu    sync.Mutex
	conns chan struct{}
}

func (l *Loop) logf(format string, a ...any) {
	if l.Logf != nil {
		l.Logf(format, a...)
		return
	}
	log.Printf(format, a...)
}

// Run ticks the device until ctx ends or a tick fails (a failed log append:
// the caller restarts the firmware from storage).
func (l *Loop) Run(ctx context.Context) error {
	t := time.NewTimer(l.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			l.mu.Lock()
			err := l.Dev.Service()
			next := min(l.Period, l.Dev.Until())
			l.mu.Unlock()
			if err != nil {
				return fmt.Errorf("tick: %w", err)
			}
			t.Reset(max(next, time.Millisecond))
		}
	}
}

// Listen serves radio connections from ln (the loopback stand-in for the
// radio) within the listener's bounds, until ln fails.
func (l *Loop) Listen(ln net.Listener) error {
	l.mu.Lock()
	if l.conns == nil {
		l.conns = make(chan struct{}, cmp.Or(l.MaxConns, RadioConns))
	}
	l.mu.Unlock()
	mt := cmp.Or(l.MessageTime, RadioMessageTime)
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		select {
		case l.conns <- struct{}{}:
		default:
			l.logf("implant: radio: %d connections already, closing %s", cap(l.conns), c.RemoteAddr())
			_ = c.Close()
			continue
		}
		go func() {
			defer func() { <-l.conns }()
			defer c.Close()
			l.Serve(deadlined{c, mt})
		}()
	}
}

// deadlined bounds each read of a connection: a peer that sends slower
// than that is cut off.
type deadlined struct {
	net.Conn
	d time.Duration
}

func (d deadlined) Read(b []byte) (int, error) {
	_ = d.SetReadDeadline(time.Now().Add(d.d))
	return d.Conn.Read(b)
}

// Serve answers link messages on one stream (a connection or the serial
// radio) until it fails.
func (l *Loop) Serve(rw io.ReadWriter) {
	for {
		typ, payload, err := link.ReadMax(rw, MaxRadioMessage)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				l.logf("implant: radio: %v", err)
			}
			return
		}
		l.mu.Lock()
		reply, err := l.handle(typ, payload)
		l.mu.Unlock()
		if err != nil {
			if werr := link.Write(rw, link.TypeError, []byte(err.Error())); werr != nil {
				return
			}
			continue
		}
		if err := link.Write(rw, link.TypeReply, reply); err != nil {
			return
		}
	}
}

func (l *Loop) handle(typ byte, payload []byte) ([]byte, error) {
	switch typ {
	case link.TypeBundle:
		out, ack, err := l.Dev.HandleFrame(payload)
		if err == nil && out.Refused != nil {
			l.logf("implant: refused frame: %v", out.Refused)
		}
		return ack, err
	case link.TypeStatus:
		return l.Dev.Status()
	case link.TypeQuery:
		return l.Dev.Answer(payload)
	case link.TypeTelemetry:
		return l.Dev.Telemetry()
	case link.TypeUpdate:
		out, ack, err := l.Dev.HandleUpdate(payload)
		if err != nil {
			return nil, err
		}
		if out.Err != nil {
			l.logf("implant: update %s: %v", out.Event, out.Err)
		}
		if out.Reboot {
			// The kernel granted the switch: reboot into the pending image
			// now (trial boot, self-test, confirm or revert).
			if err := l.Dev.Reboot(); err != nil {
				return nil, fmt.Errorf("reboot after staging an update: %w", err)
			}
			l.logf("implant: rebooted: %s", l.Dev.Booted())
		}
		return ack, nil
	}
	return nil, fmt.Errorf("unknown message type %q", typ)
}
