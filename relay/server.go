package relay

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/link"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/tlog"
	"github.com/implantfhe/implantfhe/wire"
)

// Telemetry alert subkinds of the relay's signed alert results.
const (
	AlertGlucoseLow = 0x41
)

// HypoThresholdMgDL is the low-glucose alert threshold (ADA level 1
// hypoglycaemia: < 70 mg/dL).
const HypoThresholdMgDL = 70

// RequestReadTime bounds how long a request's headers and body may take to
// arrive (http.Server.ReadTimeout); ReleaseReadTime is what a firmware
// release upload gets instead.
const (
	RequestReadTime = 10 * time.Second
	ReleaseReadTime = 5 * time.Minute
)

// Server is the relay's HTTP API. It holds public and evaluation keys only.
type Server struct {
	mu        sync.Mutex
	Dev       *Device
	Clinic    *fhe.Relay // telemetry evaluation under pk_C
	Implant   wire.Verifier
	Log       *tlog.Log
	LinkAddr  string // the implant's radio (loopback)
	alertCtr  uint64
	implantMs int64
}

// Response of POST /v1/command.
type CommandResponse struct {
	Ack        string   `json:"ack"`         // base64 ack envelope signed by the implant
	LogIndices []uint64 `json:"log_indices"` // entries appended (command, verdict, ack)
	RadioBytes int      `json:"radio_bytes"` // size of the bundle sent to the implant
	RelayMs    int64    `json:"relay_ms"`    // homomorphic check and packing time
}

func (s *Server) appendLog(b []byte) (uint64, error) {
	i, err := s.Log.Append(b)
	if err != nil {
		return 0, fmt.Errorf("relay log: %w", err)
	}
	return i, nil
}

func (s *Server) linkCall(typ byte, payload []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", s.LinkAddr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("relay: implant link: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if err := link.Write(c, typ, payload); err != nil {
		return nil, err
	}
	rt, reply, err := link.Read(c)
	if err != nil {
		return nil, fmt.Errorf("relay: implant link: %w", err)
	}
	if rt != link.TypeReply {
		return nil, fmt.Errorf("relay: implant: %s", reply)
	}
	return reply, nil
}

func (s *Server) verifyImplant(frame []byte, kind wire.Kind) (*wire.Envelope, error) {
	e, err := wire.Decode(frame, wire.MaxFrame)
	if err != nil {
		return nil, err
	}
	// The relay mirrors the implant's acknowledgements; it checks their
	// signature and device, not their counter (the implant owns it).
	if _, err := s.Implant.VerifyEnvelope(e, kind, wire.Freshness{NowMs: e.Header.IssuedAtMs, MaxValidityMs: 1 << 40}, false); err != nil {
		return nil, err
	}
	s.implantMs = max(s.implantMs, e.Header.IssuedAtMs)
	return e, nil
}

func httpErr(w http.ResponseWriter, code int, err error) {
	http.Error(w, err.Error(), code)
}

// Handler returns the HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// Everything that waits for the device (homomorphic work, the radio)
	// is admitted only while fewer than MaxInFlight such requests are
	// queued or running; the rest get 503 with Retry-After at once, so a
	// burst costs neither unbounded memory (bodies of up to 16 MiB) nor
	// unbounded goroutines.
	work := newGate(MaxInFlight)
	mux.HandleFunc("POST /v1/limits", work.wrap(s.limits))
	mux.HandleFunc("POST /v1/command", work.wrap(s.command))
	mux.HandleFunc("GET /v1/status", work.wrap(s.status))
	mux.HandleFunc("POST /v1/answer", work.wrap(s.answer))
	mux.HandleFunc("POST /v1/telemetry", work.wrap(s.telemetry))
	mux.HandleFunc("POST /v1/update", work.wrap(s.publishUpdate))
	mux.HandleFunc("GET /v1/update/status", work.wrap(s.updateStatus))
	mux.HandleFunc("POST /v1/update/root", work.wrap(s.rotateRoot))
	mux.HandleFunc("GET /v1/checkpoint", s.checkpoint)
	mux.HandleFunc("GET /v1/entries", s.entries)
	mux.HandleFunc("GET /v1/proof/inclusion", s.inclusion)
	mux.HandleFunc("GET /v1/proof/consistency", s.consistency)
	return mux
}

// MaxInFlight bounds the requests waiting for the device at once.
const MaxInFlight = 8

// RetryAfterSeconds is what a refused request is told to wait.
const RetryAfterSeconds = 1

// gate admits at most n requests at once and refuses the rest.
type gate chan struct{}

func newGate(n int) gate { return make(gate, n) }

func (g gate) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case g <- struct{}{}:
			defer func() { <-g }()
			h(w, r)
		default:
			w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
			httpErr(w, http.StatusServiceUnavailable, fmt.Errorf("relay: %d requests already in flight; retry after %d s", cap(g), RetryAfterSeconds))
		}
	}
}

// A page of GET /v1/entries holds at most MaxPageEntries entries and at
// most MaxPageBytes of them (but always the first one asked for): a short
// page tells the client to ask again from where it ends.
const (
	MaxPageEntries = 256
	MaxPageBytes   = 8 << 20
)

func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, wire.MaxFrame+1))
}

func (s *Server) limits(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r)
	if err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := wire.Decode(b, wire.MaxFrame)
	if err == nil {
		_, err = s.Dev.Verifier.VerifyEnvelope(e, wire.KindCommand, wire.Freshness{LastCounter: s.Dev.lastCmd,
			NowMs: e.Header.IssuedAtMs, MaxValidityMs: s.Dev.MaxCmdAge, MaxCounterStep: guard.MaxCounterStep}, false)
	}
	if err == nil && e.Header.Subkind&protocol.LimitsFlag == 0 {
		err = fmt.Errorf("relay: not a limits envelope")
	}
	if err != nil {
		httpErr(w, http.StatusForbidden, err)
		return
	}
	if err := s.Dev.AcceptLimits(e.Header.Subkind&^protocol.LimitsFlag, e.Header.Counter, e.Body); err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	if _, err := s.appendLog(b); err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) command(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r)
	if err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	if len(b) > wire.MaxFrame {
		httpErr(w, http.StatusRequestEntityTooLarge, fmt.Errorf("relay: command of more than %d bytes", wire.MaxFrame))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Verified before it is logged: a refused body is answered and dropped,
	// so junk never grows the append-only log.
	start := time.Now()
	res, err := s.Dev.Process(b, s.implantMs)
	if err != nil {
		httpErr(w, http.StatusForbidden, err)
		return
	}
	relayMs := time.Since(start).Milliseconds()
	ci, err := s.appendLog(b)
	if err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	resp := CommandResponse{LogIndices: []uint64{ci}, RadioBytes: len(res.Bundle), RelayMs: relayMs}
	if res.Verdict != nil {
		vb, err := res.Verdict.Marshal()
		if err == nil {
			var vi uint64
			if vi, err = s.appendLog(vb); err == nil {
				resp.LogIndices = append(resp.LogIndices, vi)
			}
		}
		if err != nil {
			httpErr(w, http.StatusInternalServerError, err)
			return
		}
	}
	s.forward(w, res.Bundle, resp)
}

// forward sends a bundle over the implant link, logs and returns its ack.
func (s *Server) forward(w http.ResponseWriter, bundle []byte, resp CommandResponse) {
	ack, err := s.linkCall(link.TypeBundle, bundle)
	if err != nil {
		httpErr(w, http.StatusBadGateway, err)
		return
	}
	if _, err := s.verifyImplant(ack, wire.KindAck); err != nil {
		httpErr(w, http.StatusBadGateway, fmt.Errorf("relay: implant ack: %w", err))
		return
	}
	ai, err := s.appendLog(ack)
	if err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	resp.LogIndices = append(resp.LogIndices, ai)
	resp.Ack = base64.StdEncoding.EncodeToString(ack)
	writeJSON(w, resp)
}

// Raw forwards an arbitrary radio bundle (POST /v1/raw): what a radio-level
// attacker could inject. It exists so the demo and tests can show the
// implant refusing such frames; the relay still logs them.
func (s *Server) Raw() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := readBody(r)
		if err != nil {
			httpErr(w, http.StatusBadRequest, err)
			return
		}
		if len(b) == 0 || len(b) > wire.MaxRadioFrame {
			httpErr(w, http.StatusRequestEntityTooLarge, fmt.Errorf("relay: a radio frame is 1..%d bytes, got %d", wire.MaxRadioFrame, len(b)))
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		i, err := s.appendLog(b)
		if err != nil {
			httpErr(w, http.StatusInternalServerError, err)
			return
		}
		s.forward(w, b, CommandResponse{LogIndices: []uint64{i}, RadioBytes: len(b)})
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.linkCall(link.TypeStatus, nil)
	if err != nil {
		httpErr(w, http.StatusBadGateway, err)
		return
	}
	if _, err := s.verifyImplant(st, wire.KindAck); err != nil {
		httpErr(w, http.StatusBadGateway, err)
		return
	}
	_, _ = w.Write(st)
}

// answer (POST /v1/answer) asks the implant for its signed answer about one
// command (a CBOR protocol.CommandRef): what a controller does when the
// relay failed to return an acknowledgement. The answer is logged.
func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 2*int64(protocol.MaxQuery)))
	if err != nil || len(b) == 0 || len(b) > protocol.MaxQuery {
		httpErr(w, http.StatusBadRequest, fmt.Errorf("relay: a query is 1..%d bytes", protocol.MaxQuery))
		return
	}
	if _, err := protocol.DecodeQuery(b); err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ack, err := s.linkCall(link.TypeQuery, b)
	if err != nil {
		httpErr(w, http.StatusBadGateway, err)
		return
	}
	if _, err := s.verifyImplant(ack, wire.KindAck); err != nil {
		httpErr(w, http.StatusBadGateway, fmt.Errorf("relay: implant answer: %w", err))
		return
	}
	if _, err := s.appendLog(ack); err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	_, _ = w.Write(ack)
}

// telemetry pulls an encrypted glucose batch from the implant, evaluates
// the low-glucose alert homomorphically (flags and their count over the
// window) and returns the relay-signed encrypted count for the clinic.
func (s *Server) telemetry(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	frame, err := s.linkCall(link.TypeTelemetry, nil)
	if err != nil {
		httpErr(w, http.StatusBadGateway, err)
		return
	}
	e, err := s.verifyImplant(frame, wire.KindTelemetry)
	if err != nil {
		httpErr(w, http.StatusBadGateway, err)
		return
	}
	if _, err := s.appendLog(frame); err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	ct, err := fhe.UnmarshalCiphertext(e.Body)
	if err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	flags, err := s.Clinic.Flags(ct, fhe.Alert{Quantity: fhe.GlucoseMgPerDL, Direction: fhe.Below, Threshold: HypoThresholdMgDL})
	if err == nil {
		flags, err = s.Clinic.WindowCounts(flags)
	}
	if err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	body, err := flags.MarshalBinary()
	if err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	s.alertCtr++
	env, err := wire.Seal(wire.Header{Kind: wire.KindVerdict, DeviceID: s.Dev.ID, Counter: s.alertCtr,
		IssuedAtMs: e.Header.IssuedAtMs, ExpiresAtMs: e.Header.ExpiresAtMs, Subkind: AlertGlucoseLow,
		Bind: e.Header.BodyDigest}, body, s.Dev.Signer)
	if err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	out, err := env.Marshal()
	if err == nil {
		_, err = s.appendLog(out)
	}
	if err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	_, _ = w.Write(out)
}

func (s *Server) checkpoint(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp, err := s.Log.Checkpoint()
	if err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	_, _ = w.Write(cp)
}

func qUint(r *http.Request, name string) (uint64, error) {
	v, err := strconv.ParseUint(r.URL.Query().Get(name), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("query %s: %w", name, err)
	}
	return v, nil
}

// entries returns entries [from, to) as a JSON list of base64 strings.
func (s *Server) entries(w http.ResponseWriter, r *http.Request) {
	from, err1 := qUint(r, "from")
	to, err2 := qUint(r, "to")
	if err := errors.Join(err1, err2); err != nil || from > to {
		httpErr(w, http.StatusBadRequest, fmt.Errorf("bad range [%d, %d): %v", from, to, err))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	to = min(to, from+MaxPageEntries)
	var out []string
	bytes := 0
	for i := from; i < to; i++ {
		e, err := s.Log.Entry(i)
		if err != nil {
			httpErr(w, http.StatusNotFound, err)
			return
		}
		if len(out) > 0 && bytes+len(e) > MaxPageBytes {
			break
		}
		bytes += len(e)
		out = append(out, base64.StdEncoding.EncodeToString(e))
	}
	writeJSON(w, out)
}

func (s *Server) inclusion(w http.ResponseWriter, r *http.Request) {
	index, err1 := qUint(r, "index")
	size, err2 := qUint(r, "size")
	if err := errors.Join(err1, err2); err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.Log.InclusionProof(index, size)
	if err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, p)
}

func (s *Server) consistency(w http.ResponseWriter, r *http.Request) {
	a, err1 := qUint(r, "old")
	b, err2 := qUint(r, "new")
	if err := errors.Join(err1, err2); err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.Log.ConsistencyProof(a, b)
	if err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, p)
}

// MaxConns bounds the relay's open client connections (LimitListener).
const MaxConns = 256

// LimitListener accepts at most n open connections from ln; one more is
// closed as soon as it is accepted, so a flood of idle or slow clients
// costs a bounded number of sockets and goroutines.
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, slots: make(chan struct{}, n)}
}

type limitedListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			_ = c.Close()
		}
	}
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
