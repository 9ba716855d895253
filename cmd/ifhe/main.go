// Command ifhe is the clinician's controller:
//
//	ifhe provision -out DIR -device ID [-kind pump|pacer] [-set ProdN14] [limits]
//	    pump limits:  -max-bolus U -max-basal U/h -max-iob U -max-daily U -min-bolus-interval MS -suspend-below MG/DL -basal U/h
//	    pacer limits: -min-lrl PPM -max-url PPM
//	ifhe limits    -clinic DIR -relay URL                  (the provisioned limits, encrypted, to the relay)
//	ifhe bolus     -clinic DIR -relay URL -amount U        (e.g. -amount 2.50)
//	ifhe rate      -clinic DIR -relay URL -lrl PPM -url PPM
//	ifhe status    -clinic DIR -relay URL
//	ifhe suspend|resume|ack-alarm|cancel-temp-basal -clinic DIR -relay URL   (pump)
//	ifhe end-temporary|pace-now                     -clinic DIR -relay URL   (pacer)
//	ifhe alerts    -clinic DIR -relay URL
//	ifhe verify-log -public DIR -relay URL [-checkpoint FILE]
//	ifhe verify-implant-log -log FILE
//	ifhe update sign    -manufacturer DIR -public DIR -keys 1,2 -image FILE -version N -counter N [-class ID] [-chunk BYTES] -out FILE
//	ifhe update publish -clinic DIR -relay URL -release FILE
//	ifhe update status  -clinic DIR -relay URL
//	ifhe update rotate  -manufacturer DIR -public DIR -old 1,2 -new 3 -threshold 2 -out FILE
//	ifhe update publish-root -clinic DIR -relay URL -root FILE
//
// Clinical values are typed in their units with at most two decimals
// (insulin in U, rates in U/h, pacing rates in whole ppm); base prefixes,
// exponents, signs and trailing arguments are refused, and the command is
// echoed in units before it is sent. Command counters come from the
// clinic's counter file (DIR/counter): each is reserved durably before the
// command is built, so no counter is ever used twice, even across a crash.
// The limits the relay compares against are the provisioned limits.json,
// the same values the implant programmed at first boot.
//
// Every answer shown is the implant's signed acknowledgement, checked to
// answer the command sent; when the relay fails, ifhe asks the implant
// (through the relay) about the command before it reports the outcome.
// Exit status: 0 executed (or done), 1 error, 3 refused (by the relay or the
// kernel), 4 outcome unknown.
//
// update sign is the manufacturer's step: the image is encrypted under a
// fresh content key wrapped for the device (public/update-device.pub) and
// the manifest signed with the named manufacturer keys (the implant needs
// 2 of its 3). publish hands the release to the relay, which pushes it to
// the implant and logs every step; status asks the implant for its update
// state. rotate replaces the manufacturer keys: a new root, one version up,
// signed by a threshold of the current keys and by the new ones, which
// publish-root sends to the implant.
//
// Keys are written with mode 0600. Every command is encrypted under the
// implant's CKKS key and signed with the clinician key; the relay never sees
// a dose, a rate or a limit. verify-log recomputes the relay's Merkle log
// from its entries and checks the signed checkpoint, and, given a checkpoint
// saved earlier (-checkpoint, updated on success), that the log only grew.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/controller/clinical"
	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/logchain"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/provision"
	"github.com/implantfhe/implantfhe/tlog"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "provision":
		err = cmdProvision(os.Args[2:])
	case "limits", "bolus", "rate", "alerts", "status", "suspend", "resume", "ack-alarm", "cancel-temp-basal", "end-temporary", "pace-now":
		err = cmdClinic(os.Args[1], os.Args[2:])
	case "verify-log":
		err = cmdVerifyLog(os.Args[2:])
	case "verify-implant-log":
		err = cmdVerifyImplantLog(os.Args[2:])
	case "update":
		if len(os.Args) < 3 {
			usage()
		}
		err = cmdUpdate(os.Args[2], os.Args[3:])
	default:
		usage()
	}
	var ee *exitError
	var re *controller.RelayError
	switch {
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Println(ee.msg)
		}
		os.Exit(ee.code)
	case errors.As(err, &re) && re.Status/100 == 4:
		fmt.Fprintln(os.Stderr, "ifhe:", err)
		os.Exit(exitRefused)
	case err != nil:
		fmt.Fprintln(os.Stderr, "ifhe:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: ifhe provision|limits|bolus|rate|status|suspend|resume|ack-alarm|cancel-temp-basal|end-temporary|pace-now|alerts|verify-log|verify-implant-log|update sign|publish|status|rotate|publish-root [flags] (see go doc ./cmd/ifhe)")
	os.Exit(2)
}

func cmdProvision(args []string) error {
	fs := flag.NewFlagSet("provision", flag.ExitOnError)
	out := fs.String("out", "", "directory to create")
	id := fs.String("device", "", "device ID")
	kindName := fs.String("kind", "pump", "pump or pacer")
	set := fs.String("set", fhe.ProdN14.Name, "FHE parameter set")
	dp := protocol.DefaultPumpLimits
	dc := protocol.DefaultPacerLimits
	fs.Var(clinical.Dose(&dp.MaxBolusCU), "max-bolus", "pump: maximum bolus, U (default 3.00)")
	fs.Var(clinical.BasalRate(&dp.MaxBasalCUPerHour), "max-basal", "pump: maximum basal rate, U/h (default 2.00)")
	fs.Var(clinical.Dose(&dp.MaxIOBCU), "max-iob", "pump: maximum insulin on board, U (default 6.00)")
	fs.Var(clinical.Dose(&dp.MaxDailyCU), "max-daily", "pump: maximum in any 24 h, U (default 40.00)")
	fs.Var(clinical.Interval(&dp.MinBolusIntervalMs), "min-bolus-interval", "pump: minimum time between boluses, ms (default 900000: 15 min)")
	fs.Var(clinical.Glucose(&dp.SuspendBelowMgDL), "suspend-below", "pump: no insulin below this glucose, mg/dL (default 70)")
	fs.Var(clinical.BasalRate(&dp.ScheduledBasalCUph), "basal", "pump: scheduled basal rate, U/h (default 0.00)")
	fs.Var(clinical.PulseRate(&dc.MinLRL), "min-lrl", "pacer: lowest programmable lower rate limit, ppm (default 40)")
	fs.Var(clinical.PulseRate(&dc.MaxURL), "max-url", "pacer: highest programmable upper rate limit, ppm (default 150)")
	_ = fs.Parse(args)
	if err := clinical.NoTrailing(fs); err != nil {
		return err
	}
	if *out == "" || *id == "" {
		return errors.New("provision: -out and -device are required")
	}
	kind, err := protocol.ParseDeviceKind(*kindName)
	if err != nil {
		return err
	}
	ps, err := fhe.ParamSetByName(*set)
	if err != nil {
		return err
	}
	lim := protocol.Limits{Pump: &dp}
	if kind == protocol.KindPacer {
		lim = protocol.Limits{Pacer: &dc}
	}
	if err := provision.Generate(*out, provision.Options{DeviceID: *id, Kind: kind, Set: ps, Limits: &lim}); err != nil {
		return err
	}
	fmt.Printf("provisioned %s %s with %s under %s (implant/, clinic/, relay/, manufacturer/, public/)\n", kind, *id, ps.Name, *out)
	fmt.Printf("patient limits: %s\n", describeLimits(kind, &lim))
	return nil
}

func describeLimits(kind protocol.DeviceKind, l *protocol.Limits) string {
	if kind == protocol.KindPacer {
		return fmt.Sprintf("LRL at least %s, URL at most %s", clinical.FormatPPM(l.Pacer.MinLRL), clinical.FormatPPM(l.Pacer.MaxURL))
	}
	p := l.Pump
	return fmt.Sprintf("max bolus %s, max basal %s, max IOB %s, max daily %s, minimum bolus interval %s, suspend below %s, scheduled basal %s",
		clinical.FormatCentiUnits(p.MaxBolusCU), clinical.FormatCentiUnitsPerHour(p.MaxBasalCUPerHour), clinical.FormatCentiUnits(p.MaxIOBCU),
		clinical.FormatCentiUnits(p.MaxDailyCU), clinical.FormatMillis(p.MinBolusIntervalMs), clinical.FormatMgDL(p.SuspendBelowMgDL),
		clinical.FormatCentiUnitsPerHour(p.ScheduledBasalCUph))
}

// Exit codes.
const (
	exitRefused = 3
	exitUnknown = 4
)

// exitError carries an exit code.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func cmdClinic(verb string, args []string) error {
	fs := flag.NewFlagSet(verb, flag.ExitOnError)
	dir := fs.String("clinic", "", "the clinic's key directory")
	relayURL := fs.String("relay", "", "relay base URL")
	asJSON := fs.Bool("json", false, "print the outcome as one JSON object (for scripts)")
	var amount, lrl, url int64
	fs.Var(clinical.Dose(&amount), "amount", "bolus, U (e.g. 2.50)")
	fs.Var(clinical.PulseRate(&lrl), "lrl", "lower rate limit, ppm")
	fs.Var(clinical.PulseRate(&url), "url", "upper rate limit, ppm")
	_ = fs.Parse(args)
	if err := clinical.NoTrailing(fs); err != nil {
		return err
	}
	if *dir == "" || *relayURL == "" {
		return fmt.Errorf("%s: -clinic and -relay are required", verb)
	}
	k, err := protocol.LoadClinic(*dir)
	if err != nil {
		return err
	}
	dev := k.Device
	ctl := controller.New(k)
	cl := controller.NewClient(*relayURL, k)
	if verb == "alerts" {
		n, _, err := cl.LowGlucoseCount()
		if err != nil {
			return err
		}
		fmt.Printf("low-glucose readings (< 70 mg/dL) in the last %d: %d\n", fhe.TelemetryWindow, n)
		if n > 0 {
			fmt.Println("ALERT: hypoglycaemia")
		}
		return nil
	}
	now, st, err := cl.Status()
	if err != nil {
		return err
	}
	if verb == "status" {
		fmt.Printf("implant %s (%s): mode %s, last command counter %d, log head %d, time %d ms\n", dev.ID, dev.Kind, st.Mode, st.LastCounter, st.LogSeq, now)
		return nil
	}
	var sub protocol.Subkind
	var values []int64
	var what string
	switch {
	case verb == "limits":
		sub = protocol.PumpBolus
		if dev.Kind == protocol.KindPacer {
			sub = protocol.PacerProgram
		}
		what = "limits (" + describeLimits(dev.Kind, &k.Limits) + ")"
	case verb == "bolus" && dev.Kind == protocol.KindPump:
		if !flagSet(fs, "amount") {
			return errors.New("bolus: -amount is required (U, e.g. 2.50)")
		}
		sub, values, what = protocol.PumpBolus, []int64{amount}, "bolus of "+clinical.FormatCentiUnits(amount)
	case verb == "rate" && dev.Kind == protocol.KindPacer:
		if !flagSet(fs, "lrl") || !flagSet(fs, "url") {
			return errors.New("rate: -lrl and -url are required (ppm)")
		}
		sub, values = protocol.PacerProgram, []int64{lrl, url}
		what = fmt.Sprintf("pacing rates LRL %s, URL %s", clinical.FormatPPM(lrl), clinical.FormatPPM(url))
	default:
		// The commands that carry no value (suspend, resume, ack-alarm,
		// cancel-temp-basal; end-temporary, pace-now): by name from the
		// device kind's command set, if the implant takes them by radio.
		c, ok := dev.Kind.CommandNamed(verb)
		if !ok || !c.Radio || c.Schema != nil {
			return fmt.Errorf("%s: not a command a %s takes by radio", verb, dev.Kind)
		}
		sub, what = c.Sub, verb
	}
	ctr, err := clinical.OpenCounter(filepath.Join(*dir, protocol.FileCounter))
	if err != nil {
		return err
	}
	defer ctr.Close()
	// The implant's signed status says which counters it consumed: never
	// reserve one at or below it.
	if err := ctr.AdvanceTo(st.LastCounter); err != nil {
		return err
	}
	n, err := ctr.Next()
	if err != nil {
		return err
	}
	echo := io.Writer(os.Stdout)
	if *asJSON {
		echo = os.Stderr // stdout carries the one JSON object
	}
	fmt.Fprintf(echo, "%s: %s to %s %s (counter %d)\n", verb, what, dev.Kind, dev.ID, n)
	if verb == "limits" {
		lv, err := k.Limits.LimitValues(dev.Kind, sub)
		if err != nil {
			return err
		}
		ct, err := ctl.EncryptLimits(sub, lv...)
		if err != nil {
			return err
		}
		env, err := ctl.LimitsEnvelope(sub, n, now, ct)
		if err != nil {
			return err
		}
		if err := cl.UploadLimits(env); err != nil {
			return err
		}
		fmt.Println("relay holds the encrypted limits")
		return nil
	}
	env, err := ctl.Command(sub, n, now, values...)
	if err != nil {
		return err
	}
	s, err := cl.Send(env)
	var nr *controller.NotReceivedError
	var uo *controller.UnknownOutcomeError
	switch {
	case errors.As(err, &nr):
		return emit(*asJSON, outcomeJSON{Command: verb, Counter: n, Outcome: "not-executed", Detail: nr.Error()},
			&exitError{exitRefused, fmt.Sprintf("not executed: %v", nr)})
	case errors.As(err, &uo):
		return emit(*asJSON, outcomeJSON{Command: verb, Counter: n, Outcome: "unknown", Detail: uo.Error()},
			&exitError{exitUnknown, uo.Error()})
	case err != nil:
		return err
	}
	if *asJSON {
		return emit(true, resultJSON(verb, n, s), report(s, io.Discard))
	}
	return report(s, os.Stdout)
}

// outcomeJSON is -json's one object.
type outcomeJSON struct {
	Command   string   `json:"command"`
	Counter   uint64   `json:"counter"`
	Outcome   string   `json:"outcome"` // executed, refused-by-kernel, refused-by-implant, not-executed, unknown
	Reason    string   `json:"reason,omitempty"`
	Alerts    []string `json:"alerts,omitempty"`
	Delivered []int64  `json:"delivered_cu,omitempty"`
	Recovered bool     `json:"recovered_from_relay_failure,omitempty"`
	Detail    string   `json:"detail,omitempty"`
}

func resultJSON(verb string, n uint64, s *controller.Sent) outcomeJSON {
	a, p := s.Ack.Ack, s.Ack.Private
	o := outcomeJSON{Command: verb, Counter: n, Recovered: s.Recovered}
	switch {
	case a.Kind == protocol.AckRefused:
		o.Outcome, o.Reason, o.Detail = "refused-by-implant", a.Refusal.String(), p.Detail
	case p.Accepted:
		o.Outcome, o.Delivered = "executed", p.Delivered
	default:
		o.Outcome, o.Reason = "refused-by-kernel", p.Reason.String()
	}
	for _, x := range p.Alerts {
		o.Alerts = append(o.Alerts, x.String())
	}
	return o
}

// emit prints o as JSON when asked, and returns err (the exit code) either
// way; without -json the error's message is what is printed.
func emit(asJSON bool, o outcomeJSON, err error) error {
	if !asJSON {
		return err
	}
	b, merr := json.Marshal(o)
	if merr != nil {
		return merr
	}
	fmt.Println(string(b))
	var ee *exitError
	if errors.As(err, &ee) {
		return &exitError{ee.code, ""}
	}
	return err
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// report prints the implant's signed answer to w and turns a refusal into
// its exit code.
func report(s *controller.Sent, w io.Writer) error {
	a, p := s.Ack.Ack, s.Ack.Private
	if s.Recovered {
		fmt.Fprintf(w, "the relay failed (%v); the implant's signed answer, asked for:\n", s.RelayErr)
	}
	switch {
	case a.Kind == protocol.AckRefused:
		return &exitError{exitRefused, fmt.Sprintf("refused by the implant: %s (%s)", a.Refusal, p.Detail)}
	case p.Accepted:
		fmt.Fprintf(w, "executed (counter %d); relay log entries %v\n", a.Answers.Counter, s.Response.LogIndices)
		return nil
	default:
		alerts := make([]string, len(p.Alerts))
		for i, x := range p.Alerts {
			alerts[i] = x.String()
		}
		return &exitError{exitRefused, fmt.Sprintf("refused by the kernel: %s; alerts %v", p.Reason, alerts)}
	}
}

func cmdVerifyLog(args []string) error {
	fs := flag.NewFlagSet("verify-log", flag.ExitOnError)
	pub := fs.String("public", "", "the public key directory")
	relayURL := fs.String("relay", "", "relay base URL")
	saved := fs.String("checkpoint", "", "file holding a checkpoint kept from earlier (updated on success)")
	_ = fs.Parse(args)
	if *pub == "" || *relayURL == "" {
		return errors.New("verify-log: -public and -relay are required")
	}
	pk, err := protocol.LoadPublic(*pub)
	if err != nil {
		return err
	}
	nv := pk.Checkpoint
	var older *tlog.Checkpoint
	if *saved != "" {
		if b, err := os.ReadFile(*saved); err == nil {
			cp, err := tlog.ParseCheckpoint(b, nv)
			if err != nil {
				return fmt.Errorf("saved checkpoint: %w", err)
			}
			older = &cp
		}
	}
	cl := &controller.Client{Relay: strings.TrimRight(*relayURL, "/")}
	cp, err := cl.AuditLog(nv, older)
	if err != nil {
		return err
	}
	fmt.Printf("relay log verified: %d entries, root %x\n", cp.Size, cp.Root)
	if older != nil {
		fmt.Printf("consistent with the saved checkpoint of size %d\n", older.Size)
	}
	if *saved != "" {
		b, err := cl.Checkpoint()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(*saved), 0o700); err != nil {
			return err
		}
		return os.WriteFile(*saved, b, 0o600)
	}
	return nil
}

func cmdVerifyImplantLog(args []string) error {
	fs := flag.NewFlagSet("verify-implant-log", flag.ExitOnError)
	path := fs.String("log", "", "the implant's log file")
	_ = fs.Parse(args)
	data, err := os.ReadFile(*path)
	if err != nil {
		return err
	}
	n, head, err := logchain.Verify(data)
	if err != nil {
		return err
	}
	fmt.Printf("implant log verified: %d records, head %s\n", n, head)
	return nil
}
