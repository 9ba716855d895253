// Package fwcheck drives a built implant binary over its wire protocol, as
// the relay and the clinician's controller would, and checks the firmware's
// decisions per requirement class: a valid signed command is executed; a
// replayed, expired, unknown-key or bit-flipped one is refused before the
// kernel; an over-limit bolus is refused; a forged "within" verdict is
// refused by the kernel's exact check. It also runs the binary's power-on
// self-test.
//
// The binary may run under an emulator (qemu-aarch64-static for the arm64
// board image): the checks only see its radio link (a loopback TCP port),
// so they test the very artefact that ships. fwcheck never touches the
// implant's state directly.
package fwcheck

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/internal/procs"
	"github.com/implantfhe/implantfhe/internal/scenario"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/link"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/provision"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

// Device is the device ID fwcheck provisions.
const Device = "pump-conformance"

// maxBolus is the limit the relay holds encrypted and the implant holds in
// its provisioned limits (Provision: 5.00 U).
const maxBolus = 500

// ErrStart: the implant did not come up.
var ErrStart = errors.New("fwcheck: implant did not start")

// Target is a binary to check.
type Target struct {
	// Name labels the results ("linux/arm64 under qemu").
	Name   string
	Binary string
	// Emulator, if set, runs the binary (qemu-aarch64-static).
	Emulator string
	// StartTimeout bounds the boot (longer under emulation).
	StartTimeout time.Duration
}

// Check is the result of one scripted exchange.
type Check struct {
	Target       string
	Name         string
	Requirements []string
	Expected     string
	Got          string
	Detail       string
	Pass         bool
}

func (t Target) command(ctx context.Context, args ...string) *exec.Cmd {
	if t.Emulator != "" {
		return exec.CommandContext(ctx, t.Emulator, append([]string{t.Binary}, args...)...)
	}
	return exec.CommandContext(ctx, t.Binary, args...)
}

// Provision writes keys for Device with the given parameter set under dir.
// The limits are the published defaults with a 5.00 U maximum bolus and no
// minimum bolus interval, since the scripted checks send boluses back to
// back (the interval has its own kernel and model checks).
func Provision(dir string, set fhe.ParamSet) error {
	lim := protocol.DefaultLimits(protocol.KindPump)
	lim.Pump.MaxBolusCU, lim.Pump.MinBolusIntervalMs = maxBolus, 0
	return provision.Generate(dir, provision.Options{DeviceID: Device, Kind: protocol.KindPump, Set: set, Limits: &lim})
}

// Run provisions nothing: keys is a directory written by Provision, work an
// empty directory for the implant's state. It returns one Check per
// scripted exchange; an error means the run could not be carried out.
func Run(ctx context.Context, t Target, keys, work string) ([]Check, error) {
	if t.StartTimeout == 0 {
		t.StartTimeout = 60 * time.Second
	}
	var checks []Check
	add := func(name string, reqs []string, expected, got, detail string) {
		checks = append(checks, Check{Target: t.Name, Name: name, Requirements: reqs, Expected: expected,
			Got: got, Detail: detail, Pass: got == expected})
	}

	out, err := t.command(ctx, "-selftest", "-keys", filepath.Join(keys, "implant")).CombinedOutput()
	got := "exit 0"
	if err != nil {
		got = "failed: " + err.Error()
	}
	add("power-on self-test (crypto KATs, keys, HAL, kernel script)", nil, "exit 0", got, lastLine(string(out)))

	p, err := loadParties(keys)
	if err != nil {
		return checks, err
	}
	proc, err := start(ctx, t, keys, filepath.Join(work, "state"))
	if err != nil {
		return checks, err
	}
	defer proc.Stop()
	conn, err := net.Dial("tcp", proc.Addr)
	if err != nil {
		return checks, err
	}
	defer conn.Close()
	s := &session{conn: conn, p: p, counter: 1000}
	if err := s.syncTime(); err != nil {
		return checks, err
	}

	// The command path: the shared scenario (internal/scenario), one check
	// a row.
	steps, err := scenario.Parse(scenario.Commands)
	if err != nil {
		return checks, err
	}
	res, err := scenario.Run(s, steps, s.counter)
	if err != nil {
		return checks, err
	}
	for _, r := range res {
		add(r.Name, r.Requirements, r.Expect, r.Got, r.Detail)
		checks[len(checks)-1].Pass = r.Pass
	}
	s.counter += uint64(len(steps))

	// Firmware updates over the radio. The target's own build as version 2
	// (an executable for its CPU, so the trial self-test passes); then a
	// 1 MiB image (staged and verified, timed; it is no program, so its
	// trial self-test fails and the implant reverts); then a rollback.
	self, err := os.ReadFile(t.Binary)
	if err != nil {
		return checks, err
	}
	mib := make([]byte, 1<<20)
	if _, err := rand.Read(mib); err != nil {
		return checks, err
	}
	for _, u := range []struct {
		name            string
		image           []byte
		version, secCtr uint64
		want            string
	}{
		{"signed firmware update v2 (this build), 2 of 3 signatures", self, 2, 2, "confirmed"},
		{"signed 1 MiB update: staged and verified, fails its trial self-test", mib, 3, 3, "reverted"},
		{"update with an older security counter (rollback)", mib, 4, 1, "refused"},
	} {
		rel, err := release(keys, u.image, u.version, u.secCtr)
		if err != nil {
			return checks, err
		}
		p := &relay.Pusher{RW: conn, Ack: s.updateAck}
		if err := p.Push(rel); err != nil {
			return checks, err
		}
		last := p.Last()
		detail := fmt.Sprintf("%d B image, %d chunks, %d B on the radio", len(u.image), p.Chunks, p.Bytes)
		if p.StagedMs > 0 {
			detail += fmt.Sprintf(", offer to staged (download, digest, switch decision) %d ms", p.StagedMs)
		}
		if last.Error != "" {
			detail += "; " + lastLine(last.Error)
		}
		add(u.name, []string{"PUMP-UPDATE-SWITCH"}, u.want, last.Event.String(), detail)
	}
	return checks, nil
}

// release packages and signs image for the device with manufacturer keys
// 1 and 2, in 64 KiB chunks.
func release(keys string, image []byte, version, secCtr uint64) (*update.Release, error) {
	mdir, pub := filepath.Join(keys, "manufacturer"), filepath.Join(keys, "public")
	signers, err := protocol.LoadUpdateKeys(mdir, 1, 2)
	if err != nil {
		return nil, err
	}
	pk, err := protocol.LoadPublic(pub)
	if err != nil {
		return nil, err
	}
	dk, dev := pk.UpdatePub, pk.Device
	return update.NewRelease(image, update.Params{VendorID: dev.VendorID, ClassID: dev.ClassID, Version: version,
		SecurityCounter: secCtr, ChunkSize: update.MaxChunkSize, Recipients: []*ecdh.PublicKey{dk}}, rand.Reader, signers...)
}

// updateAck decodes an implant's update acknowledgement (relay.EventOf).
func (s *session) updateAck(ack []byte) (relay.UpdateEvent, error) {
	e, err := wire.Decode(ack, wire.MaxFrame)
	if err != nil {
		return relay.UpdateEvent{}, err
	}
	a, err := protocol.DecodeAck(e.Body)
	if err != nil {
		return relay.UpdateEvent{}, err
	}
	if a.Kind != protocol.AckUpdate {
		return relay.UpdateEvent{}, fmt.Errorf("fwcheck: a %s acknowledgement to an update request", a.Kind)
	}
	return relay.EventOf(a.Update), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

type parties struct {
	ctl    *controller.Controller
	client *controller.Client // opens acknowledgements (no relay URL: never dials)
	dev    *relay.Device
}

func loadParties(keys string) (*parties, error) {
	ck, err := protocol.LoadClinic(filepath.Join(keys, "clinic"))
	if err != nil {
		return nil, err
	}
	rk, err := protocol.LoadRelay(filepath.Join(keys, "relay"))
	if err != nil {
		return nil, err
	}
	p := &parties{
		ctl:    controller.New(ck),
		client: controller.NewClient("", ck),
		dev: &relay.Device{ID: Device, Kind: protocol.KindPump, Eval: fhe.NewRelay(rk.Implant), Signer: rk.Signer, MaxCmdAge: 300_000,
			Verifier: wire.Verifier{DeviceID: Device, Trust: rk.Trust, MaxFrame: wire.MaxFrame}},
	}
	lim, err := p.ctl.EncryptLimits(protocol.PumpBolus, maxBolus)
	if err != nil {
		return nil, err
	}
	return p, p.dev.SetLimits(protocol.PumpBolus, lim)
}

type process = procs.Proc

func start(ctx context.Context, t Target, keys, state string) (*process, error) {
	args := []string{"-keys", filepath.Join(keys, "implant"), "-state", state, "-tick", "50ms"}
	if t.Emulator != "" {
		// The trial boot runs the staged image itself: through the same
		// emulator that stands in for the board's CPU.
		args = append(args, "-trial-runner", t.Emulator)
	}
	c := t.command(ctx, args...)
	c.Stderr = os.Stderr
	p, err := procs.Start(c, t.StartTimeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	return p, nil
}

type session struct {
	// restart, when set, restarts the implant before each scenario step.
	restart func() error
	conn    net.Conn
	p       *parties
	counter uint64
	now     units.Millis
}

func (s *session) call(typ byte, payload []byte) ([]byte, error) {
	if err := s.conn.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
		return nil, err
	}
	if err := link.Write(s.conn, typ, payload); err != nil {
		return nil, err
	}
	rt, reply, err := link.Read(s.conn)
	if err != nil {
		return nil, err
	}
	if rt != link.TypeReply {
		return nil, fmt.Errorf("implant: %s", reply)
	}
	return reply, nil
}

// syncTime reads the implant's clock from a status acknowledgement.
func (s *session) syncTime() error {
	st, err := s.call(link.TypeStatus, nil)
	if err != nil {
		return err
	}
	e, err := wire.Decode(st, wire.MaxFrame)
	if err != nil {
		return err
	}
	s.now = units.Millis(e.Header.IssuedAtMs)
	return nil
}

// withLimit runs f while the relay compares against a different (forged)
// limit, then restores the real one.
func (s *session) withLimit(limit int64, f func() (*relay.Result, error)) (*relay.Result, error) {
	forged, err := s.p.ctl.EncryptLimits(protocol.PumpBolus, limit)
	if err != nil {
		return nil, err
	}
	real, err := s.p.ctl.EncryptLimits(protocol.PumpBolus, maxBolus)
	if err != nil {
		return nil, err
	}
	if err := s.p.dev.SetLimits(protocol.PumpBolus, forged); err != nil {
		return nil, err
	}
	res, ferr := f()
	return res, errors.Join(ferr, s.p.dev.SetLimits(protocol.PumpBolus, real))
}

// send delivers a radio bundle and describes the implant's answer in the
// scenario's words.
func (s *session) send(bundle []byte) scenario.Outcome {
	ack, err := s.call(link.TypeBundle, bundle)
	if err != nil {
		return scenario.Outcome{Got: "error", Detail: err.Error()}
	}
	v, err := s.p.client.OpenAck(ack)
	if err != nil {
		return scenario.Outcome{Got: "error", Detail: "ack: " + err.Error()}
	}
	return scenario.Describe(v)
}

// The session is a scenario.Target: the relay runs in this process
// (relay.Device), the implant is the binary under test on its radio link.
var _ scenario.Target = (*session)(nil)

func (s *session) Controller() *controller.Controller { return s.p.ctl }

func (s *session) Now() (units.Millis, error) {
	if s.restart != nil {
		if err := s.restart(); err != nil {
			return 0, err
		}
	}
	err := s.syncTime()
	return s.now, err
}

func (s *session) ViaRelay(env *wire.Envelope) scenario.Outcome {
	f, err := env.Marshal()
	if err != nil {
		return scenario.Outcome{Got: "error", Detail: err.Error()}
	}
	res, err := s.p.dev.Process(f, int64(s.now))
	if err != nil {
		return scenario.Outcome{Got: "refused by relay", Detail: scenario.FirstLine(err.Error())}
	}
	return s.send(res.Bundle)
}

func (s *session) Radio(bundle []byte, _ *wire.Envelope) scenario.Outcome { return s.send(bundle) }

func (s *session) Forged(env *wire.Envelope, limit int64) ([]byte, error) {
	f, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	res, err := s.withLimit(limit, func() (*relay.Result, error) { return s.p.dev.Process(f, int64(s.now)) })
	if err != nil {
		return nil, err
	}
	return res.Bundle, nil
}

// Scenario runs the command-path scenario against the binary (keys from
// Provision), restarting the implant process before every step when
// restart is set (the end-to-end form: each decision survives a restart).
func Scenario(ctx context.Context, t Target, keys, work string, restartEachStep bool) ([]scenario.Result, error) {
	if t.StartTimeout == 0 {
		t.StartTimeout = 60 * time.Second
	}
	p, err := loadParties(keys)
	if err != nil {
		return nil, err
	}
	state := filepath.Join(work, "state")
	proc, err := start(ctx, t, keys, state)
	if err != nil {
		return nil, err
	}
	conn, err := net.Dial("tcp", proc.Addr)
	if err != nil {
		proc.Stop()
		return nil, err
	}
	s := &session{conn: conn, p: p, counter: 1000}
	defer func() { s.conn.Close(); proc.Stop() }()
	if restartEachStep {
		s.restart = func() error {
			s.conn.Close()
			proc.Stop()
			if proc, err = start(ctx, t, keys, state); err != nil {
				return err
			}
			s.conn, err = net.Dial("tcp", proc.Addr)
			return err
		}
	}
	steps, err := scenario.Parse(scenario.Commands)
	if err != nil {
		return nil, err
	}
	return scenario.Run(s, steps, s.counter)
}
