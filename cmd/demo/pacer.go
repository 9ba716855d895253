package main

import (
	"fmt"
	"path/filepath"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/provision"
)

const pacerDevice = "pacer-0001"

// pacerSteps provisions a pacemaker, starts its implant and relay, uploads
// the patient's rate limits (LRL at least 40 ppm, URL at most 150 ppm)
// encrypted, and sends rate changes: one inside the limits, one with a URL
// above the patient's maximum, one with an LRL that is not a Table 7 value.
func (d *demo) pacerSteps(bin string, ps fhe.ParamSet) error {
	keys := filepath.Join(d.root, "pacer-keys")
	if err := provision.Generate(keys, provision.Options{DeviceID: pacerDevice, Kind: protocol.KindPacer, Set: ps}); err != nil {
		return err
	}
	imp, err := start(filepath.Join(bin, "implant"), "-keys", filepath.Join(keys, "implant"), "-state", filepath.Join(d.root, "pacer-state"))
	if err != nil {
		return err
	}
	defer imp.stop()
	rel, err := start(filepath.Join(bin, "relay"), "-keys", filepath.Join(keys, "relay"), "-data", filepath.Join(d.root, "pacer-relay"), "-implant", imp.addr)
	if err != nil {
		return err
	}
	defer rel.stop()
	k, err := protocol.LoadClinic(filepath.Join(keys, "clinic"))
	if err != nil {
		return err
	}
	ctl := controller.New(k)
	cl := controller.NewClient(rel.addr, k)
	now, err := cl.ImplantTime()
	if err != nil {
		return err
	}
	lv, err := k.Limits.LimitValues(protocol.KindPacer, protocol.PacerProgram)
	if err != nil {
		return err
	}
	lim, err := ctl.EncryptLimits(protocol.PacerProgram, lv...)
	if err != nil {
		return err
	}
	counter := uint64(100)
	lenv, err := ctl.LimitsEnvelope(protocol.PacerProgram, counter, now, lim)
	if err != nil {
		return err
	}
	if err := cl.UploadLimits(lenv); err != nil {
		return err
	}
	pd := &demo{client: cl, tw: d.tw}
	send := func(step, want string, lrl, url int64) error {
		counter++
		now, err := cl.ImplantTime()
		if err != nil {
			return err
		}
		env, err := ctl.Command(protocol.PacerProgram, counter, now, lrl, url)
		if err != nil {
			return err
		}
		got, detail := pd.outcome(env, nil)
		d.row(step, want, got, detail)
		return nil
	}
	if err := send("pacing rate LRL 60 / URL 120 ppm (limits 40..150)", "executed", 60, 120); err != nil {
		return err
	}
	if err := send("pacing URL 170 ppm (patient maximum 150)", "refused by kernel: over-limit", 60, 170); err != nil {
		return err
	}
	if err := send("pacing LRL 92 ppm (not a Table 7 value)", "refused by kernel: pacer-param-not-programmable", 92, 120); err != nil {
		return err
	}
	fmt.Fprintf(d.tw, "\t\t\tpacemaker %s: rates encrypted under its own pk_I; relay saw neither rates nor limits\t\n", pacerDevice)

	// A firmware update: the pacer kernel grants the slot switch only when
	// the 200 ms switch-over ends before the next ventricular escape
	// deadline (PACE-UPDATE-SWITCH); the relay retries a refused switch.
	rb, err := d.signRelease(keys, filepath.Join(bin, "implant"), 2, 2, "2,3")
	if err != nil {
		return err
	}
	got, detail := updateOutcome(cl.PublishUpdate(rb))
	d.row("pacemaker firmware update v2 (switch within the LRI)", "confirmed", got, detail)
	return nil
}
