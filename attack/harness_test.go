package attack

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/controller/clinical"
	"github.com/implantfhe/implantfhe/internal/procs"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/tlog"
	"github.com/implantfhe/implantfhe/wire"
)

// binDir holds the built implant, relay and ifhe.
var binDir string

// summary is filled by TestAttack and printed by TestMain.
var summary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "attack-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(1)
	}
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "attack: build:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	if summary != "" {
		fmt.Println(summary)
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles the three programs from the module root. The fhe_testonly
// tag lets them use TestOnlyN11 (a production build refuses test-only
// parameter sets).
func build(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return errors.New("not inside a module")
	}
	cmd := exec.Command("go", "build", "-tags", "fhe_testonly", "-o", dir+string(os.PathSeparator),
		"./cmd/implant", "./cmd/relay", "./cmd/ifhe")
	cmd.Dir = filepath.Dir(gomod)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, b)
	}
	return nil
}

// Device is the device every rig provisions; otherDevice is a second
// device whose implant key signs a substituted acknowledgement.
const (
	device      = "pump-0001"
	otherDevice = "pump-0002"
)

// rig is one running environment: keys, an implant and a relay process.
type rig struct {
	name                   string
	dir, keys, state, data string
	url                    string // the relay's base URL
	implantAddr            string
	k                      *protocol.ClinicKeys
	pub                    *protocol.PublicKeys
	ctl                    *controller.Controller
	cl                     *controller.Client
	procs                  []*proc
}

// proc is a started program and its collected output (stdout through
// procs, stderr here).
type proc struct {
	*procs.Proc
	mu     sync.Mutex
	stderr bytes.Buffer
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.Proc.Output() + p.stderr.String()
}

// start runs a program and waits (at most 30 s) for its ready line, whose
// address must match re; it returns the first submatch.
func start(t *testing.T, re *regexp.Regexp, name string, args ...string) (*proc, string, error) {
	p := &proc{}
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Stderr = p
	pp, err := procs.Start(cmd, 30*time.Second)
	if err != nil {
		return nil, "", err
	}
	p.Proc = pp
	t.Cleanup(pp.Stop)
	m := re.FindStringSubmatch(procs.Ready + pp.Addr)
	if m == nil {
		return p, "", fmt.Errorf("%s is ready on %q, not on loopback as %s", name, pp.Addr, re)
	}
	return p, m[1], nil
}

var (
	implantReady = regexp.MustCompile(`listening on (127\.0\.0\.1:[0-9]+)`)
	relayReady   = regexp.MustCompile(`listening on (http://127\.0\.0\.1:[0-9]+)`)
)

// newRig provisions a device, starts its implant and relay, and uploads the
// limits. Its processes are killed when t ends.
func newRig(t *testing.T, name string) (*rig, error) {
	dir := t.TempDir()
	r := &rig{name: name, dir: dir, keys: filepath.Join(dir, "keys"), state: filepath.Join(dir, "state"), data: filepath.Join(dir, "relay")}
	for _, d := range []string{r.state, r.data} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	// TestOnlyN11: the small, insecure test-only FHE parameter set (fast
	// keys and comparisons; never for a real device). The IOB and daily
	// ceilings are raised because insulin on board does not decay during a
	// two-minute run and a rig sees tens of 0.10 U boluses.
	if out, code := runIfhe(60*time.Second, "provision", "-out", r.keys, "-device", device, "-set", "TestOnlyN11",
		"-max-bolus", "5.00", "-min-bolus-interval", "1", "-max-iob", "20.00", "-max-daily", "100.00"); code != 0 {
		return nil, fmt.Errorf("provision: exit %d: %s", code, out)
	}
	ip, addr, err := start(t, implantReady, "implant", "-keys", filepath.Join(r.keys, "implant"), "-state", r.state)
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, ip)
	r.implantAddr = addr
	rp, url, err := start(t, relayReady, "relay", "-keys", filepath.Join(r.keys, "relay"), "-data", r.data, "-implant", addr, "-radio-injection-hook")
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, rp)
	r.url = url
	if r.k, err = protocol.LoadClinic(filepath.Join(r.keys, "clinic")); err != nil {
		return nil, err
	}
	if r.pub, err = protocol.LoadPublic(filepath.Join(r.keys, "public")); err != nil {
		return nil, err
	}
	r.ctl = controller.New(r.k)
	r.cl = controller.NewClient(r.url, r.k)
	// Let the kernel take its first glucose reading (first tick, 200 ms):
	// without one it refuses any bolus (glucose-stale), whatever the header.
	for i := 0; ; i++ {
		now, _, err := r.status()
		if err == nil && now >= 1000 {
			break
		}
		if i == 50 {
			return nil, fmt.Errorf("implant time after 5 s: %d ms (%v)", now, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, code := r.ifhe(r.url, "limits"); code != 0 {
		return nil, fmt.Errorf("ifhe limits: exit %d: %s", code, out)
	}
	return r, nil
}

// runIfhe runs ifhe with a time bound; it returns stdout+stderr and the exit
// code (-1 if it did not run or was killed).
func runIfhe(limit time.Duration, args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "ifhe"), args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee) && ctx.Err() == nil:
		return string(out), ee.ExitCode()
	}
	return fmt.Sprintf("%s (%v)", out, err), -1
}

// ifhe runs a clinic verb of ifhe against relayURL (the real relay or a
// fake one).
func (r *rig) ifhe(relayURL, verb string, args ...string) (string, int) {
	a := append([]string{verb, "-clinic", filepath.Join(r.keys, "clinic"), "-relay", relayURL}, args...)
	return runIfhe(150*time.Second, a...)
}

var executedLine = regexp.MustCompile(`(?m)^executed \(counter ([0-9]+)\)`)

// bolus runs `ifhe bolus -amount AMOUNT` through relayURL, once the pump
// has finished any bolus in progress (the kernel refuses a second one).
func (r *rig) bolus(relayURL, amount string) outcome {
	if err := r.waitIdle(); err != nil {
		return outcome{Class: cError, Detail: err.Error()}
	}
	out, code := r.ifhe(relayURL, "bolus", "-amount", amount)
	return outcome{Class: cIfhe, Exit: code, Executed: executedLine.MatchString(out), Detail: strings.TrimSpace(out)}
}

// status is the implant's signed status (time, last command counter).
func (r *rig) status() (int64, uint64, error) {
	now, st, err := r.cl.Status()
	if err != nil {
		return 0, 0, err
	}
	return int64(now), st.LastCounter, nil
}

// waitIdle waits (at most 5 s) until the pump is idle: a bolus is
// delivered within a kernel tick or two.
func (r *rig) waitIdle() error {
	mode := ""
	for i := 0; i < 50; i++ {
		_, st, err := r.cl.Status()
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		if mode = st.Mode; mode == "idle" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the pump is %s, not idle, after 5 s", mode)
}

// reserve takes the next command counter from the clinic's counter file,
// as ifhe does, so ifhe never reuses a counter a row consumed.
func (r *rig) reserve() (uint64, error) {
	_, last, err := r.status()
	if err != nil {
		return 0, err
	}
	c, err := clinical.OpenCounter(filepath.Join(r.keys, "clinic", protocol.FileCounter))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.AdvanceTo(last); err != nil {
		return 0, err
	}
	return c.Next()
}

// httpDo sends one request to a URL (loopback only) with a time bound.
func httpDo(method, url string, body []byte) (int, []byte, error) {
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		return 0, nil, fmt.Errorf("refusing a non-loopback URL %q", url)
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	hc := &http.Client{Timeout: 90 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 2*wire.MaxFrame+4096))
	return resp.StatusCode, b, err
}

// post sends a frame to one of the relay's command endpoints and classifies
// the answer: an HTTP error, or the implant's signed acknowledgement.
func (r *rig) post(path string, frame []byte) outcome {
	code, b, err := httpDo("POST", r.url+path, frame)
	if err != nil {
		return outcome{Class: cError, Detail: fmt.Sprintf("POST %s: %v", path, err)}
	}
	if code/100 != 2 {
		return httpOutcome(code, b)
	}
	if path == "/v1/limits" {
		return outcome{Class: cAccepted, HTTP: code, Detail: "relay stored the limits"}
	}
	var resp relay.CommandResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return outcome{Class: cError, HTTP: code, Detail: fmt.Sprintf("relay response: %v", err)}
	}
	ack, err := base64.StdEncoding.DecodeString(resp.Ack)
	if err != nil {
		return outcome{Class: cError, HTTP: code, Detail: fmt.Sprintf("relay response ack: %v", err)}
	}
	o := r.classifyAck(ack)
	o.HTTP = code
	return o
}

func httpOutcome(code int, body []byte) outcome {
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	c := cRelay4xx
	if code/100 == 5 {
		c = cRelay5xx
	} else if code/100 != 4 {
		c = cError
	}
	return outcome{Class: c, HTTP: code, Detail: msg}
}

// classifyAck verifies an acknowledgement with the clinic's keys (the
// implant's signature, the device) and says what it reports.
func (r *rig) classifyAck(ack []byte) outcome {
	v, err := r.cl.OpenAck(ack)
	if err != nil {
		return outcome{Class: cError, Detail: fmt.Sprintf("acknowledgement does not verify: %v", err)}
	}
	o := outcome{AckKind: v.Ack.Kind, Refusal: v.Ack.Refusal}
	switch {
	case v.Ack.Kind == protocol.AckRefused:
		o.Class = cImplantRefused
		if v.Private != nil {
			o.Detail = v.Private.Detail
		}
	case v.Ack.Kind == protocol.AckDecision && v.Private != nil && v.Private.Accepted:
		o.Class, o.Detail = cExecuted, fmt.Sprintf("kernel accepted command %d, values %v", v.Ack.Answers.Counter, v.Private.Values)
	case v.Ack.Kind == protocol.AckDecision && v.Private != nil:
		o.Class, o.Reason, o.Detail = cKernelRefused, v.Private.Reason, v.Private.Reason.String()
	default:
		o.Class, o.Detail = cError, fmt.Sprintf("unexpected acknowledgement kind %s", v.Ack.Kind)
	}
	return o
}

// entries returns every entry of the relay's log (one request per entry,
// as an auditor does; the count comes from the signed checkpoint).
func (r *rig) entries() ([][]byte, error) {
	code, b, err := httpDo("GET", r.url+"/v1/checkpoint", nil)
	if err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("checkpoint: %d %v", code, err)
	}
	cp, err := tlog.ParseCheckpoint(b, r.pub.Checkpoint)
	if err != nil {
		return nil, err
	}
	if cp.Size > 10_000 {
		return nil, fmt.Errorf("log of %d entries: more than this suite writes", cp.Size)
	}
	out := make([][]byte, 0, cp.Size)
	for i := uint64(0); i < cp.Size; i++ {
		code, b, err := httpDo("GET", fmt.Sprintf("%s/v1/entries?from=%d&to=%d", r.url, i, i+1), nil)
		if err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("entry %d: %d %v", i, code, err)
		}
		var enc []string
		if err := json.Unmarshal(b, &enc); err != nil || len(enc) != 1 {
			return nil, fmt.Errorf("entry %d: %v", i, err)
		}
		e, err := base64.StdEncoding.DecodeString(enc[0])
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// logged is an executed command found in the relay's log, with its verdict
// and the implant's acknowledgement.
type logged struct {
	cmd, verdict, ack []byte
	env               *wire.Envelope
	ref               protocol.CommandRef
}

// executedFromLog finds the last bolus command the log shows executed (the
// implant's acknowledgement, opened with the clinic's key, says accepted).
func (r *rig) executedFromLog() (*logged, error) {
	es, err := r.entries()
	if err != nil {
		return nil, err
	}
	cmds := map[string]int{}     // header digest -> entry index of the command
	verdicts := map[string]int{} // the header digest a verdict binds
	var found *logged
	for i, e := range es {
		env, err := wire.Decode(e, wire.MaxFrame)
		if err != nil {
			continue
		}
		switch env.Header.Kind {
		case wire.KindCommand:
			if env.Header.Subkind == protocol.PumpBolus && env.Body != nil {
				d, _ := env.Header.HeaderDigest()
				cmds[string(d[:])] = i
			}
		case wire.KindVerdict:
			verdicts[string(env.Header.Bind)] = i
		case wire.KindAck:
			v, err := r.cl.OpenAck(e)
			if err != nil || v.Ack.Kind != protocol.AckDecision || v.Private == nil || !v.Private.Accepted {
				continue
			}
			ci, ok := cmds[string(v.Ack.Answers.Digest)]
			if !ok {
				continue
			}
			cenv, _ := wire.Decode(es[ci], wire.MaxFrame)
			l := &logged{cmd: es[ci], ack: e, env: cenv, ref: *v.Ack.Answers}
			if vi, ok := verdicts[string(v.Ack.Answers.Digest)]; ok {
				l.verdict = es[vi]
			}
			found = l
		}
	}
	if found == nil {
		return nil, errors.New("no executed bolus in the relay's log")
	}
	return found, nil
}

// ensureExecuted makes sure the log holds an executed bolus and returns it.
func (r *rig) ensureExecuted() (*logged, error) {
	if l, err := r.executedFromLog(); err == nil {
		return l, nil
	}
	if o := r.bolus(r.url, "0.10"); o.Exit != 0 || !o.Executed {
		return nil, fmt.Errorf("a sound bolus: %s", o)
	}
	return r.executedFromLog()
}

// implantSteps counts the implant's log records of accepted kernel steps
// for a command (read from the implant's own storage: it is the implant's
// account of what it executed).
func (r *rig) implantSteps(ref protocol.CommandRef) (int, error) {
	recs, err := implantRecords(filepath.Join(r.state, "implant.log"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rec := range recs {
		if rec.Type == protocol.RecStep && rec.Ctr == ref.Counter && bytes.Equal(rec.CmdDigest, ref.Digest) && rec.Accepted {
			n++
		}
	}
	return n, nil
}

// liar is a fake relay in front of the real one: every request is
// forwarded unless a hook takes it. A hook gets the request body and a
// function that forwards a body to the real relay.
type liar struct {
	command func(frame []byte, fwd forwarder) (int, []byte)
	answer  func(query []byte, fwd forwarder) (int, []byte)
	// record, if set, receives every response the fake relay sent.
	record func(path string, status int, body []byte)
}

type forwarder func(body []byte) (int, []byte, error)

func (r *rig) startLiar(t *testing.T, l liar) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		body, err := io.ReadAll(io.LimitReader(q.Body, wire.MaxFrame+1))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fwd := func(b []byte) (int, []byte, error) { return httpDo(q.Method, r.url+q.URL.RequestURI(), b) }
		var code int
		var out []byte
		switch {
		case q.Method == "POST" && q.URL.Path == "/v1/command" && l.command != nil:
			code, out = l.command(body, fwd)
		case q.Method == "POST" && q.URL.Path == "/v1/answer" && l.answer != nil:
			code, out = l.answer(body, fwd)
		default:
			if code, out, err = fwd(body); err != nil {
				code, out = http.StatusBadGateway, []byte(err.Error())
			}
		}
		if l.record != nil {
			l.record(q.URL.Path, code, out)
		}
		w.WriteHeader(code)
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// commandResponse is what a relay returns for a command, with ack in it.
func commandResponse(ack []byte) []byte {
	b, _ := json.Marshal(relay.CommandResponse{Ack: base64.StdEncoding.EncodeToString(ack), LogIndices: []uint64{0}})
	return b
}

// ackOf takes the acknowledgement out of a relay's command response.
func ackOf(resp []byte) ([]byte, error) {
	var cr relay.CommandResponse
	if err := json.Unmarshal(resp, &cr); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(cr.Ack)
}

// flip returns a copy of b with byte i (negative: from the end) inverted.
func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	if i < 0 {
		i += len(c)
	}
	c[i] ^= 0xff
	return c
}
