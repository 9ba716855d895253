package relay

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/link"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/tlog"
	"github.com/implantfhe/implantfhe/wire"
)

const dev = "pump-0001"

type fixture struct {
	t       *testing.T
	clin    *wire.SigningKey
	implant *wire.SigningKey
	srv     *Server
	http    *httptest.Server
	// radio counts the messages that reached the fake implant.
	radio atomic.Int64
}

// newFixture: a relay for one pump with a fake implant on its link that
// answers every message with a signed acknowledgement.
func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t}
	var err error
	f.clin, err = wire.GenerateSigningKey(guard.RoleClinician, rand.Reader)
	require.NoError(t, err)
	f.implant, err = wire.GenerateSigningKey(guard.RoleImplant, rand.Reader)
	require.NoError(t, err)
	rk, err := wire.GenerateSigningKey(guard.RoleRelay, rand.Reader)
	require.NoError(t, err)
	trust, err := wire.NewTrustList(f.clin.Public(), f.implant.Public())
	require.NoError(t, err)
	skey, _, err := tlog.GenerateKey("test/" + dev)
	require.NoError(t, err)
	ns, err := note.NewSigner(skey)
	require.NoError(t, err)
	lg, err := tlog.Open(t.TempDir(), ns, "test/"+dev)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go f.fakeImplant(ln)
	v := wire.Verifier{DeviceID: dev, Trust: trust, MaxFrame: wire.MaxFrame}
	f.srv = &Server{Dev: &Device{ID: dev, Kind: protocol.KindPump, Signer: rk, Verifier: v, MaxCmdAge: 300_000},
		Implant: v, Log: lg, LinkAddr: ln.Addr().String()}
	mux := http.NewServeMux()
	mux.Handle("/v1/", f.srv.Handler())
	mux.Handle("POST /v1/raw", f.srv.Raw())
	f.http = httptest.NewServer(mux)
	t.Cleanup(f.http.Close)
	return f
}

func (f *fixture) fakeImplant(ln net.Listener) {
	ctr := uint64(0)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for {
				typ, p, err := link.Read(c)
				if err != nil {
					return
				}
				f.radio.Add(1)
				kind := protocol.AckRefused
				a := &protocol.Ack{Kind: kind, Refusal: protocol.RefusedOther, Sealed: []byte{1}}
				if typ == link.TypeQuery {
					ref, err := protocol.DecodeQuery(p)
					if err != nil {
						_ = link.Write(c, link.TypeError, []byte(err.Error()))
						continue
					}
					a = &protocol.Ack{Kind: protocol.AckAnswer, Answers: &ref, Sealed: []byte{1}}
				}
				body, _ := protocol.EncodeAck(a)
				ctr++
				env, _ := wire.Seal(wire.Header{Kind: wire.KindAck, DeviceID: dev, Counter: ctr, IssuedAtMs: 1, ExpiresAtMs: 2, Subkind: uint8(a.Kind)}, body, f.implant)
				b, _ := env.Marshal()
				_ = link.Write(c, link.TypeReply, b)
			}
		}()
	}
}

func (f *fixture) post(path string, body []byte) (int, []byte) {
	resp, err := http.Post(f.http.URL+path, "application/octet-stream", bytes.NewReader(body))
	require.NoError(f.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (f *fixture) command(ctr uint64, sub protocol.Subkind, body []byte) []byte {
	env, err := wire.Seal(wire.Header{Kind: wire.KindCommand, DeviceID: dev, Counter: ctr, IssuedAtMs: 0, ExpiresAtMs: 60_000, Subkind: sub}, body, f.clin)
	require.NoError(f.t, err)
	b, err := env.Marshal()
	require.NoError(f.t, err)
	return b
}

// TestJunkNeverReachesTheLog: refused bodies are answered and dropped
// (regression: every body was appended before it was checked; six junk
// 16 MiB bodies added 96 MB to the append-only log).
func TestJunkNeverReachesTheLog(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		body []byte
		want int
	}{
		{"garbage", []byte("not an envelope"), http.StatusForbidden},
		{"empty", nil, http.StatusForbidden},
		{"over the frame limit", make([]byte, wire.MaxFrame+10), http.StatusRequestEntityTooLarge},
		{"signed by nobody known", func() []byte {
			k, _ := wire.GenerateSigningKey(guard.RoleClinician, rand.Reader)
			env, _ := wire.Seal(wire.Header{Kind: wire.KindCommand, DeviceID: dev, Counter: 5, ExpiresAtMs: 60_000, Subkind: protocol.PumpSuspend}, nil, k)
			b, _ := env.Marshal()
			return b
		}(), http.StatusForbidden},
	} {
		code, msg := f.post("/v1/command", tc.body)
		assert.Equal(t, tc.want, code, "%s: %s", tc.name, msg)
	}
	assert.Zero(t, f.srv.Log.Size(), "nothing refused is logged")
	assert.Zero(t, f.radio.Load(), "nothing refused reaches the radio")
	// A sound command is logged, forwarded, and its acknowledgement logged.
	code, msg := f.post("/v1/command", f.command(7, protocol.PumpSuspend, nil))
	require.Equal(t, http.StatusOK, code, "%s", msg)
	assert.Equal(t, uint64(2), f.srv.Log.Size(), "the command and the implant's acknowledgement")
	assert.Equal(t, int64(1), f.radio.Load())
}

// TestCounterStepAndReplayAtTheRelay: the relay applies CMD-REPLAY and
// CMD-COUNTER-STEP to the clinician's stream, so one hostile envelope cannot
// make it refuse every later command.
func TestCounterStepAndReplayAtTheRelay(t *testing.T) {
	f := newFixture(t)
	d := f.srv.Dev
	_, err := d.Process(f.command(10, protocol.PumpSuspend, nil), 0)
	require.NoError(t, err)
	_, err = d.Process(f.command(10, protocol.PumpSuspend, nil), 0)
	assert.ErrorIs(t, err, wire.ErrReplay)
	_, err = d.Process(f.command(10+guard.MaxCounterStep+1, protocol.PumpSuspend, nil), 0)
	assert.ErrorIs(t, err, wire.ErrCounterJump)
	_, err = d.Process(f.command(^uint64(0), protocol.PumpSuspend, nil), 0)
	assert.ErrorIs(t, err, wire.ErrCounterJump)
	_, err = d.Process(f.command(11, protocol.PumpSuspend, nil), 0)
	assert.NoError(t, err, "the stream goes on after the refused jumps")
	_, err = d.Process(f.command(12, protocol.PumpBolus, []byte{1, 2, 3}), 0)
	assert.True(t, errors.Is(err, ErrNoLimits), "a compared command without encrypted limits: %v", err)
}

// TestRawAndAnswerBounds: a raw radio frame above the radio's limit and a
// malformed query are refused before the radio.
func TestRawAndAnswerBounds(t *testing.T) {
	f := newFixture(t)
	code, _ := f.post("/v1/raw", make([]byte, wire.MaxRadioFrame+1))
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	code, _ = f.post("/v1/answer", bytes.Repeat([]byte{0xff}, 64))
	assert.Equal(t, http.StatusBadRequest, code)
	code, _ = f.post("/v1/answer", make([]byte, protocol.MaxQuery+1))
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Zero(t, f.radio.Load())
	q, err := protocol.EncodeQuery(protocol.CommandRef{Counter: 3, Digest: make([]byte, 32)})
	require.NoError(t, err)
	code, msg := f.post("/v1/answer", q)
	require.Equal(t, http.StatusOK, code, "%s", msg)
	e, err := wire.Decode(msg, wire.MaxFrame)
	require.NoError(t, err)
	a, err := protocol.DecodeAck(e.Body)
	require.NoError(t, err)
	assert.Equal(t, protocol.AckAnswer, a.Kind)
	assert.Equal(t, uint64(1), f.srv.Log.Size(), "the implant's answer is logged")
}

// TestInFlightGateRefusesTheOverflow: past MaxInFlight requests waiting for
// the device, the next is refused at once with 503 and Retry-After.
func TestInFlightGateRefusesTheOverflow(t *testing.T) {
	g := newGate(2)
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := g.wrap(func(w http.ResponseWriter, r *http.Request) { entered <- struct{}{}; <-release })
	srv := httptest.NewServer(h)
	defer srv.Close()
	done := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := http.Get(srv.URL)
			if err == nil {
				resp.Body.Close()
				done <- resp.StatusCode
			}
		}()
	}
	<-entered
	<-entered
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	close(release)
	assert.Equal(t, http.StatusOK, <-done)
	assert.Equal(t, http.StatusOK, <-done)
}

// TestEntriesArePaged: a page holds at most MaxPageEntries entries and
// MaxPageBytes of them (regression: one GET /v1/entries of 10,000 entries
// of several MB each raised the relay's RSS by 414 MB).
func TestEntriesArePaged(t *testing.T) {
	f := newFixture(t)
	for i := range MaxPageEntries + 10 {
		_, err := f.srv.Log.Append([]byte{byte(i), byte(i >> 8)})
		require.NoError(t, err)
	}
	get := func(q string) []string {
		resp, err := http.Get(f.http.URL + "/v1/entries?" + q)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out []string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	assert.Len(t, get(fmt.Sprintf("from=0&to=%d", MaxPageEntries+10)), MaxPageEntries)
	assert.Len(t, get(fmt.Sprintf("from=%d&to=%d", MaxPageEntries, MaxPageEntries+10)), 10)
	big := make([]byte, MaxPageBytes/2+1)
	for range 3 {
		_, err := f.srv.Log.Append(big)
		require.NoError(t, err)
	}
	n := f.srv.Log.Size()
	assert.Len(t, get(fmt.Sprintf("from=%d&to=%d", n-3, n)), 1, "two big entries would pass the byte bound")
}

// TestLimitListenerClosesTheOverflow: past n open connections the next one
// is closed at once; closing one frees its place.
func TestLimitListenerClosesTheOverflow(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := LimitListener(raw, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", raw.Addr().String())
		require.NoError(t, err)
		return c
	}
	a, b := dial(), dial()
	defer a.Close()
	defer b.Close()
	first, second := <-accepted, <-accepted
	extra := dial()
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = extra.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the third connection is closed by the relay")
	require.NoError(t, first.Close())
	_ = second
	third := dial()
	defer third.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(2 * time.Second):
		t.Fatal("a freed place was not reused")
	}
}
