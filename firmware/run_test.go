package firmware_test

import (
	"encoding/binary"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/link"
)

// fakeDevice answers status requests and counts what reached it.
type fakeDevice struct{ frames, statuses atomic.Int64 }

func (d *fakeDevice) Service() error { return nil }
func (d *fakeDevice) HandleFrame([]byte) (firmware.Outcome, []byte, error) {
	d.frames.Add(1)
	return firmware.Outcome{}, []byte("ack"), nil
}
func (d *fakeDevice) HandleUpdate([]byte) (firmware.UpdateOutcome, []byte, error) {
	return firmware.UpdateOutcome{}, nil, nil
}
func (d *fakeDevice) Status() ([]byte, error)       { d.statuses.Add(1); return []byte("status"), nil }
func (d *fakeDevice) Answer([]byte) ([]byte, error) { return nil, errors.New("none") }
func (d *fakeDevice) Telemetry() ([]byte, error)    { return nil, errors.New("none") }
func (d *fakeDevice) Reboot() error                 { return nil }
func (d *fakeDevice) Booted() string                { return "fake" }
func (d *fakeDevice) Until() time.Duration          { return time.Hour }

func listen(t *testing.T, l *firmware.Loop) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() { _ = l.Listen(ln) }()
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// closed reports whether the implant closed c within d.
func closed(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

func status(t *testing.T, c net.Conn) {
	require.NoError(t, link.Write(c, link.TypeStatus, nil))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, reply, err := link.Read(c)
	require.NoError(t, err)
	require.Equal(t, link.TypeReply, typ)
	require.Equal(t, "status", string(reply))
}

// TestRadioListenerBounds: a declared length above the radio's largest
// message is refused before anything is allocated (regression: 16
// connections declaring 16 MiB each grew the implant from 53 to 299 MB); a
// peer sending a byte at a time slower than the message time is cut off; the
// number of connections is bounded; a simulator command on the radio is an
// unknown message (regression: 'Z' set the glucose reading); the listener
// keeps serving afterwards.
func TestRadioListenerBounds(t *testing.T) {
	dev := &fakeDevice{}
	l := &firmware.Loop{Dev: dev, Period: time.Hour, MessageTime: 300 * time.Millisecond, MaxConns: 2, Logf: t.Logf}
	addr := listen(t, l)

	huge := dial(t, addr)
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:4], 16<<20)
	hdr[4] = link.TypeBundle
	_, err := huge.Write(hdr[:])
	require.NoError(t, err)
	assert.True(t, closed(huge, 2*time.Second), "a 16 MiB declaration is refused at once")
	assert.Less(t, int64(firmware.MaxRadioMessage), int64(1<<18), "the bound is the radio's, not the relay's 16 MiB")

	slow := dial(t, addr)
	binary.BigEndian.PutUint32(hdr[:4], 100)
	_, err = slow.Write(hdr[:])
	require.NoError(t, err)
	start := time.Now()
	for i := 0; i < 20 && time.Since(start) < 3*time.Second; i++ {
		if _, err := slow.Write([]byte{0}); err != nil {
			break
		}
		time.Sleep(400 * time.Millisecond)
	}
	assert.True(t, closed(slow, 2*time.Second), "a peer sending slower than the message time is cut off")

	a, b := dial(t, addr), dial(t, addr)
	status(t, a)
	status(t, b)
	extra := dial(t, addr)
	assert.True(t, closed(extra, 2*time.Second), "a connection past the limit is closed")

	require.NoError(t, link.Write(a, 'Z', []byte("40")))
	typ, reply, err := link.Read(a)
	require.NoError(t, err)
	assert.Equal(t, link.TypeError, typ, "the radio serves no simulator command: %s", reply)
	status(t, a)
	assert.Zero(t, dev.frames.Load())
}
