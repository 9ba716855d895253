// Package scenario is the one driver of the project's scripted scenarios:
// data files of steps (testdata/*.scn, embedded) run against a Target — the
// demo's processes, the conformance checks' built binary, the end-to-end
// test's restarted implant — so a new case is one row, run everywhere.
package scenario

import (
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/wire"
)

// Commands is the command-path scenario (testdata/commands.scn).
//
//go:embed testdata/commands.scn
var Commands string

// Step is one row of a scenario.
type Step struct {
	Line         int
	Name         string
	Action       []string
	Expect       string
	Requirements []string
}

// ErrSyntax: a scenario row that does not parse.
var ErrSyntax = errors.New("scenario: bad row")

// Parse reads a scenario file: one step a line, fields split by " | ";
// blank lines and lines starting with # are comments.
func Parse(text string) ([]Step, error) {
	var steps []Step
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, " | ")
		if len(f) != 4 {
			return nil, fmt.Errorf("%w: line %d: %d fields, want 4", ErrSyntax, i+1, len(f))
		}
		s := Step{Line: i + 1, Name: strings.TrimSpace(f[0]), Action: strings.Fields(f[1]), Expect: strings.TrimSpace(f[2]),
			Requirements: strings.Fields(f[3])}
		if len(s.Action) == 0 || s.Name == "" || s.Expect == "" {
			return nil, fmt.Errorf("%w: line %d: empty field", ErrSyntax, i+1)
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// Target is what a scenario runs against.
type Target interface {
	// Controller is the clinic's controller for the device.
	Controller() *controller.Controller
	// Now is the implant's time from its signed status.
	Now() (units.Millis, error)
	// ViaRelay sends a command envelope through the relay to the implant.
	ViaRelay(env *wire.Envelope) Outcome
	// Radio puts a bundle on the implant's radio, as an attacker on the
	// radio could (env: the command it carries, if any).
	Radio(bundle []byte, env *wire.Envelope) Outcome
	// Forged is the bundle of a relay that compared env against its own
	// limit (a compromised relay: its keys, no secret key).
	Forged(env *wire.Envelope, limit int64) ([]byte, error)
}

// Outcome is what a step came to, in the scenario's words.
type Outcome struct {
	Got, Detail string
}

// Result is one step's outcome against its expectation.
type Result struct {
	Step
	Outcome
	Pass bool
}

// Run runs every step in order; counters start above first.
func Run(t Target, steps []Step, first uint64) ([]Result, error) {
	ctr := first
	envs := map[int]*wire.Envelope{}
	var out []Result
	for i, s := range steps {
		o, env, err := run(t, s, &ctr, envs)
		if err != nil {
			return out, fmt.Errorf("scenario line %d (%s): %w", s.Line, s.Name, err)
		}
		if env != nil {
			envs[i+1] = env
		}
		out = append(out, Result{Step: s, Outcome: o, Pass: matches(s.Expect, o.Got)})
	}
	return out, nil
}

func matches(want, got string) bool {
	if want == "refused (relay or implant)" {
		return got == "refused by relay" || got == "refused by implant"
	}
	return want == got
}

func num(a []string, i int) (int64, error) {
	if i >= len(a) {
		return 0, fmt.Errorf("%w: %v: argument %d missing", ErrSyntax, a, i)
	}
	return strconv.ParseInt(a[i], 10, 64)
}

func via(a []string) (string, error) {
	if len(a) < 2 || a[len(a)-2] != "via" || (a[len(a)-1] != "relay" && a[len(a)-1] != "radio") {
		return "", fmt.Errorf("%w: %v: want ... via relay|radio", ErrSyntax, a)
	}
	return a[len(a)-1], nil
}

func run(t Target, s Step, ctr *uint64, envs map[int]*wire.Envelope) (Outcome, *wire.Envelope, error) {
	ctl := t.Controller()
	now, err := t.Now()
	if err != nil {
		return Outcome{}, nil, err
	}
	bolus := func(c *controller.Controller, issued units.Millis) (*wire.Envelope, error) {
		n, err := num(s.Action, 1)
		if err != nil {
			return nil, err
		}
		*ctr++
		return c.Command(protocol.PumpBolus, *ctr, issued, n)
	}
	send := func(env *wire.Envelope, path string) (Outcome, *wire.Envelope, error) {
		if path == "relay" {
			return t.ViaRelay(env), env, nil
		}
		b, err := RadioBundle(env, nil)
		if err != nil {
			return Outcome{}, nil, err
		}
		return t.Radio(b, env), env, nil
	}
	switch s.Action[0] {
	case "bolus":
		env, err := bolus(ctl, now)
		if err != nil {
			return Outcome{}, nil, err
		}
		return t.ViaRelay(env), env, nil
	case "replay":
		k, err := num(s.Action, 1)
		if err != nil {
			return Outcome{}, nil, err
		}
		path, err := via(s.Action)
		if err != nil {
			return Outcome{}, nil, err
		}
		env := envs[int(k)]
		if env == nil {
			return Outcome{}, nil, fmt.Errorf("%w: step %d sent no command", ErrSyntax, k)
		}
		o, _, err := send(env, path)
		return o, nil, err
	case "expired":
		env, err := bolus(ctl, now-10*units.Minute)
		if err != nil {
			return Outcome{}, nil, err
		}
		return send(env, "radio")
	case "unknown-key":
		path, err := via(s.Action)
		if err != nil {
			return Outcome{}, nil, err
		}
		stranger, err := wire.GenerateSigningKey(guard.RoleClinician, rand.Reader)
		if err != nil {
			return Outcome{}, nil, err
		}
		evil := *ctl
		evil.Signer = stranger
		env, err := bolus(&evil, now)
		if err != nil {
			return Outcome{}, nil, err
		}
		return send(env, path)
	case "flip":
		env, err := bolus(ctl, now)
		if err != nil {
			return Outcome{}, nil, err
		}
		flipped := *env
		flipped.Body = append([]byte(nil), env.Body...)
		flipped.Body[len(flipped.Body)/2] ^= 0x04
		return t.ViaRelay(&flipped), nil, nil
	case "forged":
		limit, err := num(s.Action, 2)
		if err != nil {
			return Outcome{}, nil, err
		}
		env, err := bolus(ctl, now)
		if err != nil {
			return Outcome{}, nil, err
		}
		b, err := t.Forged(env, limit)
		if err != nil {
			return Outcome{}, nil, err
		}
		return t.Radio(b, env), env, nil
	}
	return Outcome{}, nil, fmt.Errorf("%w: unknown action %q", ErrSyntax, s.Action[0])
}

// RadioBundle wraps a command envelope (detached) and an optional verdict
// frame as the radio bundle.
func RadioBundle(env *wire.Envelope, verdict []byte) ([]byte, error) {
	cf, err := env.Detached().Marshal()
	if err != nil {
		return nil, err
	}
	return (&wire.Bundle{Command: cf, Verdict: verdict}).Marshal()
}

// Describe puts an implant acknowledgement into the scenario's words.
func Describe(v *controller.Verified) Outcome {
	a, p := v.Ack, v.Private
	ans := uint64(0)
	if a.Answers != nil {
		ans = a.Answers.Counter
	}
	detail := fmt.Sprintf("ack %d B (answers counter %d)", v.Bytes, ans)
	switch {
	case a.Kind == protocol.AckRefused:
		return Outcome{"refused by implant", a.Refusal.String() + ": " + FirstLine(p.Detail)}
	case a.Kind != protocol.AckDecision && a.Kind != protocol.AckAnswer:
		return Outcome{"error", "a " + a.Kind.String() + " acknowledgement to a command"}
	case p.Accepted && len(p.Delivered) == 0:
		return Outcome{"executed", "accepted, takes effect at the next safe point; " + detail}
	case p.Accepted:
		return Outcome{"executed", fmt.Sprintf("delivered %v cU; %s", p.Delivered, detail)}
	}
	if len(p.Alerts) > 0 {
		names := make([]string, len(p.Alerts))
		for i, x := range p.Alerts {
			names[i] = x.String()
		}
		detail = "alerts " + strings.Join(names, ",") + "; " + detail
	}
	return Outcome{"refused by kernel: " + p.Reason.String(), detail}
}

// FirstLine is the first line of s, at most 90 characters.
func FirstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 90 {
		s = s[:90] + "…"
	}
	return s
}
