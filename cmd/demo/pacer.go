package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/provision"
)

const pacerDevice = "pacer-0001"

// simStats reads the simulated pacemaker's counters: sensed V beats, V
// paces.
func simStats(state string) ([2]int, error) {
	var v [2]int
	line, err := simulate(state, "stats")
	if err != nil {
		return v, err
	}
	var a int
	if _, err := fmt.Sscanf(line, "v_beats %d v_paces %d a_paces %d", &v[0], &v[1], &a); err != nil {
		return v, fmt.Errorf("simulator stats %q: %w", line, err)
	}
	return v, nil
}

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
	defer imp.Stop()
	rel, err := start(filepath.Join(bin, "relay"), "-keys", filepath.Join(keys, "relay"), "-data", filepath.Join(d.root, "pacer-relay"), "-implant", imp.Addr, "-radio-injection-hook")
	if err != nil {
		return err
	}
	defer rel.Stop()
	k, err := protocol.LoadClinic(filepath.Join(keys, "clinic"))
	if err != nil {
		return err
	}
	ctl := controller.New(k)
	cl := controller.NewClient(rel.Addr, k)
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

	// Sensing: an intrinsic rhythm above the LRL inhibits pacing; without
	// one, the pacemaker paces. Beats come in through the simulated sensing
	// channel (hal.CardiacSense), paces are counted at the simulated output.
	state := filepath.Join(d.root, "pacer-state")
	for _, r := range []struct {
		step, want string
		ppm        int
	}{
		{"intrinsic rhythm 72 ppm (above LRL 60) for 8 s", "inhibited", 72},
		{"no intrinsic rhythm for 8 s", "paced", 0},
	} {
		if _, err := simulate(state, fmt.Sprintf("heart %d", r.ppm)); err != nil {
			return err
		}
		time.Sleep(1500 * time.Millisecond) // the rhythm settles (its first cycle)
		before, err := simStats(state)
		if err != nil {
			return err
		}
		time.Sleep(8 * time.Second)
		after, err := simStats(state)
		if err != nil {
			return err
		}
		beats, paces := after[0]-before[0], after[1]-before[1]
		pct := 100 * float64(paces) / float64(max(beats+paces, 1))
		got := "inhibited"
		if pct > 50 {
			got = "paced"
		}
		d.row("pacemaker: "+r.step, r.want, got, fmt.Sprintf("%d sensed V beats, %d V paces: %.0f %% paced", beats, paces, pct))
	}

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
