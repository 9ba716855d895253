// Command demo runs the insulin-pump command path on one machine: the
// clinician encrypts a bolus under the implant key (production parameter set
// ProdN14, 128-bit), the relay compares it homomorphically with the
// encrypted limits without seeing either, the implant opens the packet sent
// over the radio, and the safety kernel decides. It then replays, expires,
// forges and mis-signs commands, and prints one row per step. It exits 1 if
// any step's outcome differs from the expected one.
package main

import (
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

var schema = fhe.Schema{{Quantity: fhe.BolusCentiUnits, Relation: fhe.AtMost}}

type world struct {
	cfg     pump.Config
	s       pump.State
	implant *fhe.SecretKeys
	relay   *fhe.Relay
	pk      *fhe.PublicKey
	limits  *fhe.Ciphertext
	counter uint64
	failed  int
	w       *tabwriter.Writer
}

// verdictFor runs the relay's homomorphic check of a bolus and the implant's
// opening of the radio packet; it returns the decrypted (rounded) amount, the
// verdict, the packet size and the relay's time.
func (w *world) verdictFor(amount units.CentiUnits) (units.CentiUnits, guard.Verdict, int, time.Duration, error) {
	ct, err := w.pk.EncryptCommand(schema, []int64{int64(amount)})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	start := time.Now()
	v, err := w.relay.Compare(schema, ct, w.limits)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	pkt, err := w.relay.ForImplant(schema, ct, v)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	took := time.Since(start)
	wire, err := pkt.MarshalBinary()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	back, err := fhe.UnmarshalRadioCiphertext(wire)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	d, err := w.implant.OpenCommand(schema, back)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	verdict := guard.VerdictOutside
	if d.WithinLimits[0] {
		verdict = guard.VerdictWithin
	}
	return units.CentiUnits(d.Values[0]), verdict, len(wire), took, nil
}

func (w *world) header() guard.Header {
	w.counter++
	return guard.Header{Counter: w.counter, IssuedAtMs: w.s.NowMs, ExpiresAtMs: w.s.NowMs + units.Minute, Signer: guard.RoleClinician}
}

func (w *world) row(step string, c pump.Command, verdictNote string, wantAccepted bool, wantReason reason.Code, wantAlert bool) {
	out := w.stepCmd(c)
	var d pump.Output
	alert := false
	for _, o := range out.All() {
		if o.Kind == pump.OutDecision {
			d = o
		}
		if o.Kind == pump.OutAlert && o.Reason == reason.VerdictMismatch {
			alert = true
		}
	}
	ok := d.Accepted == wantAccepted && d.Reason == wantReason && alert == wantAlert
	mark := "ok"
	if !ok {
		mark = "UNEXPECTED"
		w.failed++
	}
	decision := "refused"
	if d.Accepted {
		decision = "executed"
	}
	fmt.Fprintf(w.w, "%s\t%s\t%s\t%s\t%d\t%v\t%s\n", step, verdictNote, decision, d.Reason, out.Delivered(), alert, mark)
}

func (w *world) stepCmd(c pump.Command) pump.Outputs {
	var out pump.Outputs
	w.s, out = pump.Step(&w.cfg, w.s, pump.Input{Kind: pump.InCommand, NowMs: w.s.NowMs, Cmd: c})
	return out
}

func (w *world) advance(d units.Millis) {
	w.s, _ = pump.Step(&w.cfg, w.s, pump.Input{Kind: pump.InTick, NowMs: w.s.NowMs + d})
	w.s, _ = pump.Step(&w.cfg, w.s, pump.Input{Kind: pump.InGlucose, NowMs: w.s.NowMs, Glucose: 140, GlucoseAtMs: w.s.NowMs})
}

func run() (int, error) {
	set := flag.String("set", fhe.ProdN14.Name, "FHE parameter set")
	flag.Parse()
	ps, err := fhe.ParamSetByName(*set)
	if err != nil {
		return 0, err
	}
	params, err := fhe.NewParams(ps)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	implant, err := fhe.GenerateKeys(params, fhe.DomainImplant)
	if err != nil {
		return 0, err
	}
	rk, err := implant.RelayKeys()
	if err != nil {
		return 0, err
	}
	fmt.Printf("demo: parameter set %s (LogN=%d), implant keys generated in %s\n", ps.Name, ps.LogN, time.Since(t0).Round(time.Millisecond))

	limits := pump.Limits{MaxBolus: 500, MaxBasal: 200, MaxIOB: 1500, MaxDaily: 4000,
		MinBolusInterval: 5 * units.Minute, SuspendBelow: 70, ScheduledBasal: 80}
	w := &world{cfg: pump.DefaultConfig(pump.ProfileAdult), s: pump.NewState(), implant: implant,
		relay: fhe.NewRelay(rk), pk: rk.PublicKey()}
	if err := w.cfg.Validate(); err != nil {
		return 0, err
	}
	// The relay holds the patient's limits only encrypted under pk_I.
	if w.limits, err = w.pk.EncryptLimits(schema, []int64{int64(limits.MaxBolus)}); err != nil {
		return 0, err
	}
	w.s, _ = pump.Step(&w.cfg, w.s, pump.Input{Kind: pump.InHAL, HAL: pump.HALReservoir, ReservoirCU: 20000})
	if o := w.stepCmd(pump.Command{Kind: pump.CmdProgramLimits, Limits: limits, Header: w.header()}); !o.Items[0].Accepted {
		return 0, fmt.Errorf("programming limits refused: %s", o.Items[0].Reason)
	}
	w.advance(units.Minute)

	w.w = tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w.w, "step\tverdict (homomorphic)\tkernel\treason\tdelivered_cU\tverdict_alert\tcheck")

	bolus := func(amount units.CentiUnits) (pump.Command, string, error) {
		got, v, size, took, err := w.verdictFor(amount)
		if err != nil {
			return pump.Command{}, "", err
		}
		note := fmt.Sprintf("%s (%d B, %s)", map[guard.Verdict]string{guard.VerdictWithin: "within", guard.VerdictOutside: "outside"}[v], size, took.Round(time.Millisecond))
		return pump.Command{Kind: pump.CmdBolus, Amount: got, Verdict: v, Header: w.header()}, note, nil
	}

	c, note, err := bolus(300)
	if err != nil {
		return 0, err
	}
	w.row("bolus 3.00 U (max 5.00 U)", c, note, true, reason.OK, false)
	replay := c
	w.row("same command replayed", replay, "reused", false, reason.Replay, false)
	w.s, _ = pump.Step(&w.cfg, w.s, pump.Input{Kind: pump.InHAL, NowMs: w.s.NowMs, HAL: pump.HALDeliveryDone})
	w.advance(6 * units.Minute)

	c, note, err = bolus(800)
	if err != nil {
		return 0, err
	}
	w.row("bolus 8.00 U (over max)", c, note, false, reason.BolusOverMax, false)

	c, _, err = bolus(800)
	if err != nil {
		return 0, err
	}
	c.Verdict = guard.VerdictWithin
	w.row("bolus 8.00 U, relay forges 'within'", c, "forged within", false, reason.VerdictMismatch, true)

	c, note, err = bolus(200)
	if err != nil {
		return 0, err
	}
	c.Header.IssuedAtMs, c.Header.ExpiresAtMs = w.s.NowMs-2*units.Minute, w.s.NowMs-units.Minute
	w.row("bolus 2.00 U, expired", c, note, false, reason.Expired, false)

	c, note, err = bolus(200)
	if err != nil {
		return 0, err
	}
	c.Header.Signer = guard.RoleNone
	w.row("bolus 2.00 U, unknown key", c, note, false, reason.Unauthenticated, false)

	c, note, err = bolus(200)
	if err != nil {
		return 0, err
	}
	w.row("bolus 2.00 U, in limits", c, note, true, reason.OK, false)
	if err := w.w.Flush(); err != nil {
		return 0, err
	}
	return w.failed, nil
}

func main() {
	failed, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	if failed > 0 {
		fmt.Printf("demo: %d step(s) with an unexpected outcome\n", failed)
		os.Exit(1)
	}
	fmt.Println("demo: every step had its expected outcome")
}
