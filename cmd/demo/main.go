// Command demo runs the whole command path on one machine: it provisions
// every key (production parameter set ProdN14, 128-bit), starts the implant
// (cmd/implant, simulated HAL, file storage) and the relay (cmd/relay, HTTP
// on loopback) as processes, and plays a scripted scenario as the clinician:
// in-limit and over-limit boluses, a replay, an expired command, an unknown
// key, a flipped bit, a relay that forges a "within" verdict, a
// hypoglycaemia alert from encrypted telemetry, signed firmware updates (one
// confirmed; a rollback, another device class, a flipped byte, a missing
// signature refused; a failed trial self-test reverted), and offline
// verification of both logs. It prints one row per step and exits 1 if any outcome differs
// from the expected one.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/internal/procs"
	"github.com/implantfhe/implantfhe/internal/scenario"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/provision"
	"github.com/implantfhe/implantfhe/wire"
)

const device = "pump-0001"

type proc = procs.Proc

// start runs a binary and waits for its "listening on ADDR" line.
func start(bin string, args ...string) (*proc, error) {
	c := exec.Command(bin, args...)
	c.Stderr = os.Stderr
	return procs.Start(c, 60*time.Second)
}

type demo struct {
	root    string
	clinic  *protocol.ClinicKeys
	ctl     *controller.Controller
	client  *controller.Client
	counter uint64
	tw      *tabwriter.Writer
	failed  int
	implant *proc
	relay   *proc
	bin     string
}

func (d *demo) row(step, want, got string, detail string) {
	mark := "ok"
	if want != got {
		mark = "UNEXPECTED"
		d.failed++
	}
	fmt.Fprintf(d.tw, "%s\t%s\t%s\t%s\t%s\n", step, want, got, detail, mark)
}

func (d *demo) now() units.Millis {
	t, err := d.client.ImplantTime()
	if err != nil {
		return 0
	}
	return t
}

func (d *demo) command(sub protocol.Subkind, values ...int64) (*wire.Envelope, error) {
	d.counter++
	return d.ctl.Command(sub, d.counter, d.now(), values...)
}

// outcome sends a command through the relay (or, with raw set, the radio
// bundle raw straight at the implant's radio) and describes it as
// "executed", "refused by kernel: reason", "refused by implant: refusal" or
// "refused by relay".
func (d *demo) outcome(env *wire.Envelope, raw []byte) (string, string) {
	var s *controller.Sent
	var err error
	if raw != nil {
		var ref *protocol.CommandRef
		if env != nil {
			r, rerr := protocol.RefOf(&env.Header)
			if rerr != nil {
				return "error", rerr.Error()
			}
			ref = &r
		}
		s, err = d.client.SendRaw(raw, ref)
	} else {
		s, err = d.client.Send(env)
	}
	var re *controller.RelayError
	var nr *controller.NotReceivedError
	switch {
	case errors.As(err, &nr) && errors.As(nr.RelayErr, &re):
		return "refused by relay", scenario.FirstLine(re.Msg) + fmt.Sprintf(" (implant confirms: no decision for counter %d)", nr.Counter)
	case errors.As(err, &re):
		return "refused by relay", scenario.FirstLine(re.Msg)
	case err != nil:
		return "error", scenario.FirstLine(err.Error())
	}
	a, p := s.Ack.Ack, s.Ack.Private
	if s.Recovered {
		// The relay refused or failed; the implant's signed answer about
		// this very command says what became of it (a replay: decided before).
		errors.As(s.RelayErr, &re)
		what := "refused"
		if p.Accepted {
			what = "executed"
		}
		if re != nil {
			return "refused by relay", fmt.Sprintf("%s; the implant's signed answer: counter %d was already %s", scenario.FirstLine(re.Msg), answered(a), what)
		}
		return "relay failed", fmt.Sprintf("%v; the implant's signed answer: %s", s.RelayErr, what)
	}
	o := scenario.Describe(s.Ack)
	if a.Kind == protocol.AckRefused {
		return o.Got, o.Detail
	}
	return o.Got, fmt.Sprintf("radio %d B, relay %d ms, log %v; %s", s.Response.RadioBytes, s.Response.RelayMs, s.Response.LogIndices, o.Detail)
}

func answered(a *protocol.Ack) uint64 {
	if a.Answers == nil {
		return 0
	}
	return a.Answers.Counter
}

func main() {
	bin := flag.String("bin", "build/bin", "directory with the implant and relay binaries")
	set := flag.String("set", fhe.ProdN14.Name, "FHE parameter set")
	keep := flag.Bool("keep", false, "keep the working directory")
	latency := flag.Int("latency", 0, "after the scenario, time this many in-limit commands end to end and print the median")
	flag.Parse()
	code, err := run(*bin, *set, *keep, *latency)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func run(bin, setName string, keep bool, latency int) (int, error) {
	ps, err := fhe.ParamSetByName(setName)
	if err != nil {
		return 0, err
	}
	root, err := os.MkdirTemp("", "implantfhe-demo-")
	if err != nil {
		return 0, err
	}
	if !keep {
		defer os.RemoveAll(root)
	}
	t0 := time.Now()
	keys := filepath.Join(root, "keys")
	// The patient's limits: the published defaults (protocol.DefaultPumpLimits)
	// with a 5.00 U maximum bolus; the latency run sends its boluses back to
	// back, so it alone lifts the minimum bolus interval.
	lim := protocol.DefaultLimits(protocol.KindPump)
	lim.Pump.MaxBolusCU = 500
	if latency > 0 {
		lim.Pump.MinBolusIntervalMs = 0
	}
	if err := provision.Generate(keys, provision.Options{DeviceID: device, Kind: protocol.KindPump, Set: ps, Limits: &lim}); err != nil {
		return 0, err
	}
	fmt.Printf("demo: provisioned %s with %s in %s (keys in %s)\n", device, ps.Name, time.Since(t0).Round(time.Millisecond), keys)
	d := &demo{root: root, bin: bin}
	if d.implant, err = start(filepath.Join(bin, "implant"), "-keys", filepath.Join(keys, "implant"), "-state", filepath.Join(root, "implant-state")); err != nil {
		return 0, err
	}
	defer d.implant.Stop()
	if d.relay, err = start(filepath.Join(bin, "relay"), "-keys", filepath.Join(keys, "relay"), "-data", filepath.Join(root, "relay-data"), "-implant", d.implant.Addr, "-radio-injection-hook"); err != nil {
		return 0, err
	}
	defer func() { d.relay.Stop() }()
	if err := d.setup(keys); err != nil {
		return 0, err
	}
	if latency > 0 {
		// Before the scenario: its forged verdict burns relay counters.
		if err := d.measure(latency); err != nil {
			return 0, err
		}
	}
	d.tw = tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(d.tw, "step\texpected\toutcome\tdetail\tcheck")
	if err := d.scenario(keys); err != nil {
		return 0, err
	}
	if err := d.pacerSteps(bin, ps); err != nil {
		return 0, err
	}

	if err := d.tw.Flush(); err != nil {
		return 0, err
	}
	fmt.Printf("demo: finished in %s\n", time.Since(t0).Round(time.Millisecond))
	if d.failed > 0 {
		fmt.Printf("demo: %d step(s) with an unexpected outcome\n", d.failed)
		return 1, nil
	}
	fmt.Println("demo: every step had its expected outcome")
	return 0, nil
}

func (d *demo) setup(keys string) error {
	k, err := protocol.LoadClinic(filepath.Join(keys, "clinic"))
	if err != nil {
		return err
	}
	d.clinic = k
	d.ctl = controller.New(k)
	d.client = controller.NewClient(d.relay.Addr, k)
	// The clinician encrypts the patient's limit (max bolus 5.00 U, from the
	// provisioned limits.json) for the relay.
	lv, err := k.Limits.LimitValues(k.Device.Kind, protocol.PumpBolus)
	if err != nil {
		return err
	}
	lim, err := d.ctl.EncryptLimits(protocol.PumpBolus, lv...)
	if err != nil {
		return err
	}
	d.counter = 1000 // the implant consumed counter 1 at provisioning
	d.counter++
	env, err := d.ctl.LimitsEnvelope(protocol.PumpBolus, d.counter, d.now(), lim)
	if err != nil {
		return err
	}
	return d.client.UploadLimits(env)
}

// simulate sends one request to the simulated HAL's control socket (its
// address in STATE/sim-addr; not the radio) and returns the answer.
func simulate(stateDir, req string) (string, error) {
	addr, err := os.ReadFile(filepath.Join(stateDir, "sim-addr"))
	if err != nil {
		return "", err
	}
	c, err := net.DialTimeout("tcp", string(addr), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintln(c, req); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	line = strings.TrimSpace(line)
	if err == nil && strings.HasPrefix(line, "error") {
		err = fmt.Errorf("simulator: %s", line)
	}
	return line, err
}

// restartRelay stops the relay process and starts it again on the same
// data directory.
func (d *demo) restartRelay() error {
	d.relay.Stop()
	r, err := start(filepath.Join(d.bin, "relay"), "-keys", filepath.Join(d.root, "keys", "relay"), "-data", filepath.Join(d.root, "relay-data"), "-implant", d.implant.Addr, "-radio-injection-hook")
	if err != nil {
		return err
	}
	d.relay = r
	d.client.Relay = "http://" + strings.TrimPrefix(r.Addr, "http://")
	return nil
}

func (d *demo) simulateGlucose(v int) error {
	_, err := simulate(filepath.Join(d.root, "implant-state"), fmt.Sprintf("glucose %d", v))
	return err
}

func (d *demo) scenario(keys string) error {
	pub, err := protocol.LoadPublic(filepath.Join(keys, "public"))
	if err != nil {
		return err
	}
	nv := pub.Checkpoint
	early, err := d.client.AuditLog(nv, nil)
	if err != nil {
		return fmt.Errorf("early checkpoint: %w", err)
	}

	// 1–7. The command path: the shared scenario (internal/scenario), the
	// rows the conformance checks and the end-to-end test run too.
	steps, err := scenario.Parse(scenario.Commands)
	if err != nil {
		return err
	}
	if d.clinic.Limits.Pump.MinBolusIntervalMs > 0 {
		// This patient's provisioned minimum bolus interval (15 min)
		// refuses a second bolus right after the first (skipped by -latency,
		// and by the targets whose test limits have no interval).
		steps = append(steps[:1:1], append([]scenario.Step{{Name: "bolus 1.00 U right after the first", Action: []string{"bolus", "100"},
			Expect: "refused by kernel: bolus-too-soon", Requirements: []string{"PUMP-BOLUS-INTERVAL"}}}, steps[1:]...)...)
	}
	// The forging relay's verdict (the last row) takes the implant's verdict
	// counter past the honest relay's, as a compromised relay can: so the
	// relay-restart row runs before it.
	firstPart, lastPart := steps[:len(steps)-1], steps[len(steps)-1:]
	tgt := &demoTarget{d: d, keys: keys}
	report := func(part []scenario.Step) error {
		results, err := scenario.Run(tgt, part, d.counter)
		if err != nil {
			return err
		}
		for _, r := range results {
			want := r.Expect
			if r.Pass {
				want = r.Got // "refused (relay or implant)" matched one of the two
			}
			d.row(r.Name, want, r.Got, r.Detail)
		}
		d.counter += uint64(len(part))
		return nil
	}
	if err := report(firstPart); err != nil {
		return err
	}

	// Relay restart: its device state (verdict and clinician counters, the
	// encrypted limits) lives in JetStream (embedded, in its data directory),
	// so a restarted relay compares the next bolus as before; the kernel
	// then refuses it only for the interval since the first.
	if d.clinic.Limits.Pump.MinBolusIntervalMs > 0 {
		if err := d.restartRelay(); err != nil {
			return err
		}
		env, err := d.command(protocol.PumpBolus, 100)
		if err != nil {
			return err
		}
		got, detail := d.outcome(env, nil)
		d.row("relay restarted: the next bolus is compared as before", "refused by kernel: bolus-too-soon", got, detail)
	}
	// Commands that carry no value, over the radio: suspend, a bolus the
	// suspended pump refuses, resume.
	for _, c := range []struct {
		step, want string
		sub        protocol.Subkind
		values     []int64
	}{
		{"suspend the pump", "executed", protocol.PumpSuspend, nil},
		{"bolus 1.00 U while suspended", "refused by kernel: suspended", protocol.PumpBolus, []int64{100}},
		{"resume the pump", "executed", protocol.PumpResume, nil},
	} {
		env, err := d.command(c.sub, c.values...)
		if err != nil {
			return err
		}
		got, detail := d.outcome(env, nil)
		d.row(c.step, c.want, got, detail)
	}
	if err := report(lastPart); err != nil {
		return err
	}

	// 8. Hypoglycaemia: the sensor reads 55 mg/dL; the relay raises the alert
	// on encrypted telemetry; the clinic decrypts only the count.
	if err := d.simulateGlucose(55); err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	n, size, err := d.client.LowGlucoseCount()
	if err != nil {
		return err
	}
	var detail string
	res := "no alert"
	if n > 0 {
		res = "alert raised"
	}
	d.row("glucose 55 mg/dL, alert on encrypted telemetry", "alert raised", res, fmt.Sprintf("%d of the last %d readings < 70 mg/dL; result %d B", n, fhe.TelemetryWindow, size))

	// 9. Firmware updates.
	if err := d.updateSteps(keys, d.bin); err != nil {
		return err
	}

	// 10. Offline verification of both logs.
	cp, err := d.client.AuditLog(nv, &early)
	res = "verified"
	detail = fmt.Sprintf("relay log: %d entries, root %x…, consistent with checkpoint of size %d", cp.Size, cp.Root[:6], early.Size)
	if err != nil {
		res, detail = "FAILED", err.Error()
	}
	d.row("relay Merkle log (checkpoint, entries, consistency)", "verified", res, detail)
	data, err := os.ReadFile(filepath.Join(d.root, "implant-state", "implant.log"))
	if err != nil {
		return err
	}
	nrec, head, err := implog.Verify(data)
	res = "verified"
	detail = fmt.Sprintf("implant log: %d records, head %s…", nrec, head.String()[:12])
	if err != nil {
		res, detail = "FAILED", err.Error()
	}
	d.row("implant hash-chained log", "verified", res, detail)
	kinds := map[string]int{}
	for r, err := range implog.Decode(data) {
		if err != nil {
			break
		}
		if rec, err := protocol.DecodeRecord(r.Payload); err == nil {
			kinds[rec.Type.String()]++
		}
	}
	var parts []string
	for k, v := range kinds {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	fmt.Fprintf(d.tw, "\t\t\timplant log records: %s\t\n", strings.Join(parts, " "))
	return nil
}

// forgedVerdict plays a compromised relay: it holds the relay's keys (no
// secret CKKS key), encrypts its own higher limit under pk_I, compares, and
// signs the result. Everything verifies; only the kernel's exact check can
// catch it.
// demoTarget runs the shared scenario through the demo's processes: the
// relay over HTTP, raw radio frames through the relay's injection hook.
type demoTarget struct {
	d    *demo
	keys string
}

func (t *demoTarget) Controller() *controller.Controller { return t.d.ctl }
func (t *demoTarget) Now() (units.Millis, error)         { return t.d.client.ImplantTime() }
func (t *demoTarget) ViaRelay(env *wire.Envelope) scenario.Outcome {
	got, detail := t.d.outcome(env, nil)
	return scenario.Outcome{Got: got, Detail: detail}
}
func (t *demoTarget) Radio(b []byte, env *wire.Envelope) scenario.Outcome {
	got, detail := t.d.outcome(env, b)
	return scenario.Outcome{Got: got, Detail: detail}
}
func (t *demoTarget) Forged(env *wire.Envelope, limit int64) ([]byte, error) {
	return t.d.forgedVerdict(t.keys, env, limit)
}

// forgedVerdict plays a compromised relay: it holds the relay's keys (no
// secret CKKS key), encrypts its own higher limit under pk_I, compares, and
// signs the result. Everything verifies; only the kernel's exact check can
// catch it.
func (d *demo) forgedVerdict(keys string, env *wire.Envelope, limit int64) ([]byte, error) {
	rk, err := protocol.LoadRelay(filepath.Join(keys, "relay"))
	if err != nil {
		return nil, err
	}
	rsign := rk.Signer
	schema, _ := protocol.KindPump.Schema(protocol.PumpBolus)
	ct, err := fhe.UnmarshalCiphertext(env.Body)
	if err != nil {
		return nil, err
	}
	fakeLimit, err := rk.Implant.PublicKey().EncryptLimits(schema, []int64{limit})
	if err != nil {
		return nil, err
	}
	ev := fhe.NewRelay(rk.Implant)
	v, err := ev.Compare(schema, ct, fakeLimit)
	if err != nil {
		return nil, err
	}
	pkt, err := ev.ForImplant(schema, ct, v)
	if err != nil {
		return nil, err
	}
	body, err := pkt.MarshalBinary()
	if err != nil {
		return nil, err
	}
	digest, err := env.Header.HeaderDigest()
	if err != nil {
		return nil, err
	}
	// A counter the real relay has not reached yet (within the implant's
	// counter step), so only the kernel's exact check stands in the way.
	venv, err := wire.Seal(wire.Header{Kind: wire.KindVerdict, DeviceID: device, Counter: 1 << 16,
		IssuedAtMs: env.Header.IssuedAtMs, ExpiresAtMs: env.Header.ExpiresAtMs, Subkind: env.Header.Subkind, Bind: digest[:]}, body, rsign)
	if err != nil {
		return nil, err
	}
	vf, err := venv.Marshal()
	if err != nil {
		return nil, err
	}
	return scenario.RadioBundle(env, vf)
}

// measure times n in-limit commands from the controller's first byte to the
// verified acknowledgement (status query, encryption, relay check, radio,
// implant decision, ack) and prints the median and the sizes on the wire.
func (d *demo) measure(n int) error {
	var times []time.Duration
	var cmdBytes, radioBytes, ackBytes int
	for i := 0; i < n; i++ {
		start := time.Now()
		env, err := d.command(protocol.PumpBolus, 10)
		if err != nil {
			return err
		}
		f, err := env.Marshal()
		if err != nil {
			return err
		}
		s, err := d.client.Send(env)
		if err != nil {
			return err
		}
		if s.Ack.Private == nil || !s.Ack.Private.Accepted {
			return fmt.Errorf("latency run: command refused: %+v", s.Ack.Private)
		}
		times = append(times, time.Since(start))
		cmdBytes, radioBytes, ackBytes = len(f), s.Response.RadioBytes, s.Ack.Bytes
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	fmt.Printf("latency: n=%d median=%s min=%s max=%s command_frame_bytes=%d radio_bundle_bytes=%d ack_bytes=%d\n",
		n, times[n/2].Round(time.Millisecond), times[0].Round(time.Millisecond), times[n-1].Round(time.Millisecond), cmdBytes, radioBytes, ackBytes)
	return nil
}
