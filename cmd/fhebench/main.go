// Command fhebench measures each production parameter set of package fhe
// and prints one line per set:
//
//	fhe: set=NAME security_bits=128 compare_s=MEDIAN implant_bytes=N telemetry_per_s_per_core=N wrong=0
//
// compare_s is the median (of -runs, at least 3) relay time for one
// command: Compare plus ForImplant (pack, drop, ring switch). implant_bytes
// is the encoded radio packet. telemetry_per_s_per_core is the number of
// readings per second one goroutine (Lattigo evaluates on one core) turns
// into alert flags and 64-reading window counts, from one full ciphertext.
// wrong counts verdicts that disagree with the exact comparison over the
// random commands used. The run exits non-zero if any verdict is wrong.
//
// With -tags fhe_testonly, -set TestOnlyN12 measures a test-only set.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/implantfhe/implantfhe/fhe"
)

func main() {
	runs := flag.Int("runs", 5, "timed runs per set (median reported, minimum 3)")
	set := flag.String("set", "", "measure only this parameter set")
	flag.Parse()
	sets := fhe.ProductionSets()
	if *set != "" {
		ps, err := fhe.ParamSetByName(*set)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fhebench:", err)
			os.Exit(2)
		}
		sets = []fhe.ParamSet{ps}
	}
	bad := false
	for _, ps := range sets {
		wrong, err := bench(ps, max(*runs, 3))
		if err != nil {
			fmt.Fprintf(os.Stderr, "fhebench: set=%s: %v\n", ps.Name, err)
			os.Exit(1)
		}
		bad = bad || wrong > 0
	}
	if bad {
		os.Exit(1)
	}
}

var schema = fhe.Schema{
	{Quantity: fhe.BolusCentiUnits, Relation: fhe.AtMost},
	{Quantity: fhe.BasalCentiUnitsPerHour, Relation: fhe.AtMost},
	{Quantity: fhe.PacingRatePPM, Relation: fhe.AtMost},
	{Quantity: fhe.PacingRatePPM, Relation: fhe.AtLeast},
}

func bench(ps fhe.ParamSet, runs int) (wrong int, err error) {
	p, err := fhe.NewParams(ps)
	if err != nil {
		return 0, err
	}
	ik, err := fhe.GenerateKeys(p, fhe.DomainImplant)
	if err != nil {
		return 0, err
	}
	irk, err := ik.RelayKeys()
	if err != nil {
		return 0, err
	}
	relay := fhe.NewRelay(irk)
	pk := irk.PublicKey()
	rng := rand.New(rand.NewPCG(1, uint64(ps.ID)))
	var times []float64
	bytes := 0
	for r := 0; r < runs; r++ {
		vals := make([]int64, len(schema))
		lims := make([]int64, len(schema))
		for i, u := range schema {
			q := u.Quantity
			vals[i] = q.Min + rng.Int64N(q.Span()+1)
			lims[i] = q.Min + rng.Int64N(q.Span()+1)
			if r%2 == 0 { // half the runs probe the edge: limit = value ± 1 quantum
				lims[i] = min(max(vals[i]+rng.Int64N(3)-1, q.Min), q.Max)
			}
		}
		cmd, err := pk.EncryptCommand(schema, vals)
		if err != nil {
			return 0, err
		}
		lim, err := pk.EncryptLimits(schema, lims)
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		v, err := relay.Compare(schema, cmd, lim)
		if err != nil {
			return 0, err
		}
		pkt, err := relay.ForImplant(schema, cmd, v)
		if err != nil {
			return 0, err
		}
		times = append(times, time.Since(t0).Seconds())
		enc, err := pkt.MarshalBinary()
		if err != nil {
			return 0, err
		}
		bytes = len(enc)
		pkt2, err := fhe.UnmarshalRadioCiphertext(enc)
		if err != nil {
			return 0, err
		}
		d, err := ik.OpenCommand(schema, pkt2)
		if err != nil {
			return 0, err
		}
		for i, u := range schema {
			want := vals[i] <= lims[i]
			if u.Relation == fhe.AtLeast {
				want = vals[i] >= lims[i]
			}
			if d.WithinLimits[i] != want || d.Values[i] != vals[i] {
				wrong++
			}
		}
	}
	slices.Sort(times)
	tel, err := telemetryRate(p)
	if err != nil {
		return 0, err
	}
	fmt.Printf("fhe: set=%s security_bits=%d compare_s=%.3f implant_bytes=%d telemetry_per_s_per_core=%.0f wrong=%d\n",
		ps.Name, p.SecurityBits(), times[len(times)/2], bytes, tel, wrong)
	return wrong, nil
}

// telemetryRate times flags + window counts on a full ciphertext of glucose
// readings (one reading per slot) on one goroutine.
func telemetryRate(p *fhe.Params) (float64, error) {
	ck, err := fhe.GenerateKeys(p, fhe.DomainClinic)
	if err != nil {
		return 0, err
	}
	crk, err := ck.RelayKeys()
	if err != nil {
		return 0, err
	}
	relay := fhe.NewRelay(crk)
	pk := crk.PublicKey()
	windows := p.MaxTelemetrySlots() / fhe.TelemetryWindow
	readings := make([]int64, fhe.TelemetryWindow)
	for i := range readings {
		readings[i] = 40 + int64(i)
	}
	var cts []*fhe.Ciphertext
	for w := 0; w < windows; w++ {
		c, err := pk.EncryptAlertInput(fhe.GlucoseMgPerDL, fhe.Below, w, readings)
		if err != nil {
			return 0, err
		}
		cts = append(cts, c)
	}
	in, err := relay.Pack(cts...)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	flags, err := relay.Flags(in, fhe.Alert{Quantity: fhe.GlucoseMgPerDL, Direction: fhe.Below, Threshold: 70})
	if err != nil {
		return 0, err
	}
	counts, err := relay.WindowCounts(flags)
	if err != nil {
		return 0, err
	}
	el := time.Since(t0).Seconds()
	for _, w := range []int{0, windows - 1} {
		n, err := ck.DecryptCount(counts, w)
		if err != nil {
			return 0, err
		}
		if n != 30 { // readings 40..69 are < 70
			return 0, fmt.Errorf("telemetry window %d: count %d, want 30", w, n)
		}
	}
	return float64(windows*fhe.TelemetryWindow) / el, nil
}
