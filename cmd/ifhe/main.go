// Command ifhe is the clinician's controller:
//
//	ifhe provision -out DIR -device ID [-kind pump|pacer] [-set ProdN14]
//	ifhe limits    -clinic DIR -relay URL -counter N -max-bolus CU            (pump)
//	ifhe limits    -clinic DIR -relay URL -counter N -min-lrl PPM -max-url PPM (pacer)
//	ifhe bolus     -clinic DIR -relay URL -counter N -amount CU
//	ifhe rate      -clinic DIR -relay URL -counter N -lrl PPM -url PPM
//	ifhe alerts    -clinic DIR -relay URL
//	ifhe verify-log -public DIR -relay URL [-checkpoint FILE]
//	ifhe verify-implant-log -log FILE
//	ifhe update sign    -manufacturer DIR -public DIR -keys 1,2 -image FILE -version N -counter N [-class ID] [-chunk BYTES] -out FILE
//	ifhe update publish -clinic DIR -relay URL -release FILE
//	ifhe update status  -clinic DIR -relay URL
//	ifhe update rotate  -manufacturer DIR -public DIR -old 1,2 -new 3 -threshold 2 -out FILE
//	ifhe update publish-root -clinic DIR -relay URL -root FILE
//
// update sign is the manufacturer's step: the image is encrypted under a
// fresh content key wrapped for the device (public/update-device.pub) and
// the manifest signed with the named manufacturer keys (the implant needs
// 2 of its 3). publish hands the release to the relay, which pushes it to
// the implant and logs every step; status asks the implant for its update
// state. rotate replaces the manufacturer keys: a new root, one version up,
// signed by a threshold of the current keys and by the new ones, which
// publish-root sends to the implant. Every answer shown is the implant's
// signed acknowledgement.
//
// Keys are written with mode 0600. Every command is encrypted under the
// implant's CKKS key and signed with the clinician key; the relay never sees
// a dose, a rate or a limit. verify-log recomputes the relay's Merkle log
// from its entries and checks the signed checkpoint, and, given a checkpoint
// saved earlier (-checkpoint, updated on success), that the log only grew.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/provision"
	"github.com/implantfhe/implantfhe/tlog"
	"github.com/implantfhe/implantfhe/wire"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "provision":
		err = cmdProvision(os.Args[2:])
	case "limits", "bolus", "rate", "alerts":
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
	if err != nil {
		fmt.Fprintln(os.Stderr, "ifhe:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: ifhe provision|limits|bolus|rate|alerts|verify-log|verify-implant-log|update sign|publish|status|rotate|publish-root [flags] (see go doc ./cmd/ifhe)")
	os.Exit(2)
}

func cmdProvision(args []string) error {
	fs := flag.NewFlagSet("provision", flag.ExitOnError)
	out := fs.String("out", "", "directory to create")
	id := fs.String("device", "", "device ID")
	kind := fs.String("kind", provision.KindPump, "pump or pacer")
	set := fs.String("set", fhe.ProdN14.Name, "FHE parameter set")
	_ = fs.Parse(args)
	if *out == "" || *id == "" {
		return errors.New("provision: -out and -device are required")
	}
	ps, err := fhe.ParamSetByName(*set)
	if err != nil {
		return err
	}
	if err := provision.GenerateKind(*out, *id, *kind, ps, nil); err != nil {
		return err
	}
	fmt.Printf("provisioned %s %s with %s under %s (implant/, clinic/, relay/, manufacturer/, public/)\n", *kind, *id, ps.Name, *out)
	return nil
}

func cmdClinic(verb string, args []string) error {
	fs := flag.NewFlagSet(verb, flag.ExitOnError)
	dir := fs.String("clinic", "", "the clinic's key directory")
	relayURL := fs.String("relay", "", "relay base URL")
	counter := fs.Uint64("counter", 0, "command counter (strictly increasing)")
	amount := fs.Int64("amount", 0, "bolus, 0.01 U")
	maxBolus := fs.Int64("max-bolus", 0, "limit: maximum bolus, 0.01 U")
	lrl := fs.Int64("lrl", 0, "lower rate limit, ppm")
	url := fs.Int64("url", 0, "upper rate limit, ppm")
	minLRL := fs.Int64("min-lrl", 0, "limit: minimum LRL, ppm")
	maxURL := fs.Int64("max-url", 0, "limit: maximum URL, ppm")
	_ = fs.Parse(args)
	if *dir == "" || *relayURL == "" {
		return fmt.Errorf("%s: -clinic and -relay are required", verb)
	}
	dev, err := provision.ReadDevice(*dir)
	if err != nil {
		return err
	}
	signer, err := provision.ReadSigningKey(*dir, "clinician.key")
	if err != nil {
		return err
	}
	b, err := provision.ReadFile(*dir, "fhe-implant.pk")
	if err != nil {
		return err
	}
	pk, err := fhe.UnmarshalPublicKey(b)
	if err != nil {
		return err
	}
	bind, err := provision.ReadFile(*dir, "bind.key")
	if err != nil {
		return err
	}
	if b, err = provision.ReadFile(*dir, "fhe-clinic.sk"); err != nil {
		return err
	}
	skC, err := fhe.UnmarshalSecretKeys(b)
	if err != nil {
		return err
	}
	trust, _, err := provision.ReadTrust(*dir)
	if err != nil {
		return err
	}
	v := wire.Verifier{DeviceID: dev.ID, Trust: trust, MaxFrame: wire.MaxFrame}
	ctl := &controller.Controller{DeviceID: dev.ID, Signer: signer, Implant: pk, BindKey: bind, ValidityMs: 60_000}
	if dev.Kind == provision.KindPacer {
		ctl.SchemaFor = firmware.PacerSchema
	}
	cl := &controller.Client{Relay: strings.TrimRight(*relayURL, "/"), Clinic: skC, Implant: v, RelayV: v}
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
	if *counter == 0 {
		return fmt.Errorf("%s: -counter is required (strictly above every counter used before)", verb)
	}
	now, err := cl.ImplantTime()
	if err != nil {
		return err
	}
	var sub uint8
	var values []int64
	switch {
	case verb == "limits" && dev.Kind == provision.KindPacer:
		ct, err := ctl.EncryptLimitsSub(uint8(pacer.CmdProgram), *minLRL, *maxURL)
		if err != nil {
			return err
		}
		return cl.UploadLimits(ctl, *counter, now, uint8(pacer.CmdProgram), ct)
	case verb == "limits":
		ct, err := ctl.EncryptLimits(pump.CmdBolus, *maxBolus)
		if err != nil {
			return err
		}
		return cl.UploadLimits(ctl, *counter, now, uint8(pump.CmdBolus), ct)
	case verb == "bolus":
		sub, values = uint8(pump.CmdBolus), []int64{*amount}
	case verb == "rate":
		sub, values = uint8(pacer.CmdProgram), []int64{*lrl, *url}
	}
	env, err := ctl.CommandSub(sub, verb, *counter, now, values...)
	if err != nil {
		return err
	}
	f, err := env.Marshal()
	if err != nil {
		return err
	}
	s, err := cl.Send(f, false)
	if err != nil {
		return err
	}
	a := s.Ack
	switch {
	case a.Type == firmware.RecRefused:
		fmt.Printf("refused by the implant: %s\n", a.Error)
	case a.Accepted:
		fmt.Printf("executed (counter %d); relay log entries %v\n", a.Ctr, s.Response.LogIndices)
	default:
		fmt.Printf("refused by the kernel: %s; alerts %v\n", a.Reason, a.Alerts)
	}
	return nil
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
	vkey, err := provision.ReadFile(*pub, "checkpoint.vkey")
	if err != nil {
		return err
	}
	nv, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		return err
	}
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
	n, head, err := implog.Verify(data)
	if err != nil {
		return err
	}
	fmt.Printf("implant log verified: %d records, head %s\n", n, head)
	return nil
}
