package heart

import (
	"fmt"
	"math/rand/v2"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// Conduction is the heart's AV conduction.
type Conduction uint8

// Conduction patterns.
const (
	ConductAll    Conduction = iota // every atrial beat conducts
	BlockComplete                   // third-degree block: none conducts
	BlockRandom                     // each beat is dropped with probability DropPct
)

// Scenario is a heart and the program the pacemaker runs against it.
type Scenario struct {
	Name string
	// SinusPPM is the intrinsic atrial rate; JitterMs spreads each interval
	// uniformly in ±JitterMs.
	SinusPPM int
	JitterMs int
	// PRMs is the intrinsic AV conduction time.
	PRMs       int
	Conduction Conduction
	DropPct    int
	// EscapePPM is the ventricular escape rhythm (0: none).
	EscapePPM int
	// PVCPerHour is the rate of premature ventricular beats (Poisson).
	PVCPerHour int
	Program    pacer.Params
	Seed       uint64
}

// Tissue refractory periods of the model heart: a chamber that has just
// depolarised (paced or intrinsic) cannot depolarise again this soon.
const (
	atrialTissueRefractoryMs      = 200
	ventricularTissueRefractoryMs = 250
)

// Result is what a closed-loop run recorded. Intervals are between
// consecutive ventricular events as the kernel counts them: its paces and
// the senses it acted on.
type Result struct {
	Scenario      string
	DurationMs    units.Millis
	VEvents       int
	VPaces        int
	APaces        int
	MinIntervalMs units.Millis // over all intervals
	MaxIntervalMs units.Millis
	// MinPacedIntervalMs: the shortest interval ending in a ventricular pace
	// (PACE-URL applies to these).
	MinPacedIntervalMs units.Millis
	HavePaced          bool
	LRIMs, URIMs       units.Millis
}

func (r Result) String() string {
	return fmt.Sprintf("%s: %d V events (%d paced, %d A paces) in %d h; V-V interval min %d ms max %d ms; paced min %d ms; allowed [%d, %d]",
		r.Scenario, r.VEvents, r.VPaces, r.APaces, r.DurationMs/units.Hour, r.MinIntervalMs, r.MaxIntervalMs, r.MinPacedIntervalMs, r.URIMs, r.LRIMs)
}

// heart is the model heart's state.
type heart struct {
	sc         *Scenario
	rng        *rand.Rand
	nextSinus  units.Millis
	conductAt  units.Millis // a conducted ventricular beat due, or -1
	nextPVC    units.Millis
	lastADepol units.Millis
	lastVDepol units.Millis
}

func (h *heart) sinusInterval() units.Millis {
	iv := 60000 / h.sc.SinusPPM
	if h.sc.JitterMs > 0 {
		iv += h.rng.IntN(2*h.sc.JitterMs+1) - h.sc.JitterMs
	}
	return units.Millis(iv)
}

func (h *heart) pvcGap() units.Millis {
	if h.sc.PVCPerHour <= 0 {
		return units.Day * 365
	}
	return units.Millis(h.rng.ExpFloat64()*float64(units.Hour)/float64(h.sc.PVCPerHour)) + 1
}

func (h *heart) escapeAt() units.Millis {
	if h.sc.EscapePPM <= 0 {
		return units.Day * 365 * 100
	}
	return h.lastVDepol + units.Millis(60000/h.sc.EscapePPM)
}

// atrialDepol: the atrium depolarises at t (intrinsic or paced) and may
// conduct to the ventricle.
func (h *heart) atrialDepol(t units.Millis) {
	h.lastADepol = t
	h.nextSinus = t + h.sinusInterval()
	conducts := false
	switch h.sc.Conduction {
	case ConductAll:
		conducts = true
	case BlockRandom:
		conducts = h.rng.IntN(100) >= h.sc.DropPct
	}
	if conducts {
		h.conductAt = t + units.Millis(h.sc.PRMs)
	}
}

// Heart is the model heart as an event source, for a closed loop with any
// pacemaker: the kernel alone (Simulate) or the firmware runtime over a
// mock HAL. Next says when the heart next does something; Fire makes it
// happen and says which chamber, if any, depolarised intrinsically (what a
// sensing channel reports); Paced tells the heart a pace captured.
type Heart struct{ h heart }

// NewHeart starts scenario sc's heart at time 0.
func NewHeart(sc Scenario) *Heart {
	hh := &Heart{h: heart{sc: &sc, rng: rand.New(rand.NewPCG(sc.Seed, 0x9e3779b97f4a7c15)), conductAt: -1, lastADepol: -1000, lastVDepol: -1000}}
	hh.h.nextSinus = hh.h.sinusInterval()
	hh.h.nextPVC = hh.h.pvcGap()
	return hh
}

// Next is the time of the heart's next event.
func (hh *Heart) Next() units.Millis {
	h := &hh.h
	t := min(h.nextSinus, h.nextPVC, h.escapeAt())
	if h.conductAt >= 0 {
		t = min(t, h.conductAt)
	}
	return t
}

// Fire runs the heart's event at t (t == Next()) and returns the chamber
// that depolarised intrinsically (ok false: the event fell in the tissue's
// refractory period and nothing happened).
func (hh *Heart) Fire(t units.Millis) (ch pacer.Chamber, ok bool) {
	h := &hh.h
	switch {
	case t == h.nextSinus:
		if t-h.lastADepol < atrialTissueRefractoryMs {
			h.nextSinus = t + h.sinusInterval()
			return pacer.ChamberNone, false
		}
		h.atrialDepol(t)
		return pacer.ChamberAtrium, true
	case t == h.conductAt || t == h.nextPVC || t == h.escapeAt():
		if t == h.conductAt {
			h.conductAt = -1
		}
		if t == h.nextPVC {
			h.nextPVC = t + h.pvcGap()
		}
		if t-h.lastVDepol < ventricularTissueRefractoryMs {
			return pacer.ChamberNone, false
		}
		h.lastVDepol = t
		return pacer.ChamberVentricle, true
	}
	return pacer.ChamberNone, false
}

// Paced tells the heart that a pace in ch at t captured.
func (hh *Heart) Paced(ch pacer.Chamber, t units.Millis) {
	h := &hh.h
	switch ch {
	case pacer.ChamberVentricle:
		h.lastVDepol = t
		if h.conductAt >= 0 && h.conductAt-t < ventricularTissueRefractoryMs {
			h.conductAt = -1
		}
	case pacer.ChamberAtrium:
		h.atrialDepol(t)
	}
}

// Simulate runs scenario sc in closed loop with the pacemaker kernel for
// duration, skipping idle time: each iteration jumps to the next heart event
// or the kernel's announced wake-up, whichever is first (1 ms resolution).
func Simulate(sc Scenario, duration units.Millis) (Result, error) {
	cfg := pacer.DefaultConfig()
	s := pacer.NewState()
	res := Result{Scenario: sc.Name, DurationMs: duration, LRIMs: pacer.LowerRateIntervalMs(sc.Program.LRL), URIMs: pacer.UpperRateIntervalMs(sc.Program.URL)}
	// Program the pacemaker; it takes effect at the first cycle start.
	var out pacer.Outputs
	s, out = pacer.Step(&cfg, s, pacer.Input{Kind: pacer.InCommand, Cmd: pacer.Command{Kind: pacer.CmdProgram, Params: sc.Program,
		Verdict: guard.VerdictWithin, Header: guard.Header{Counter: 1, ExpiresAtMs: units.Minute, Signer: guard.RoleClinician}}})
	for _, o := range out.All() {
		if o.Kind == pacer.OutDecision && !o.Accepted {
			return res, fmt.Errorf("heart: %s: program refused: %s", sc.Name, o.Reason)
		}
	}
	hh := NewHeart(sc)

	programmed := false
	var lastV units.Millis
	haveLast, haveMin := false, false
	vEvent := func(t units.Millis, paced bool) {
		// Intervals are recorded once the program is in force.
		if programmed && haveLast {
			iv := t - lastV
			if !haveMin || iv < res.MinIntervalMs {
				res.MinIntervalMs, haveMin = iv, true
			}
			res.MaxIntervalMs = max(res.MaxIntervalMs, iv)
			if paced && (!res.HavePaced || iv < res.MinPacedIntervalMs) {
				res.MinPacedIntervalMs, res.HavePaced = iv, true
			}
		}
		if programmed {
			res.VEvents++
		}
		lastV, haveLast = t, true
	}
	handle := func(t units.Millis, o *pacer.Outputs) {
		for _, x := range o.All() {
			switch {
			case x.Kind == pacer.OutApplied:
				programmed = s.Active == sc.Program
				haveLast = haveLast && programmed
			case x.Kind == pacer.OutPace && x.Chamber == pacer.ChamberVentricle:
				if programmed {
					res.VPaces++
				}
				vEvent(t, true)
				hh.Paced(pacer.ChamberVentricle, t) // capture
			case x.Kind == pacer.OutPace && x.Chamber == pacer.ChamberAtrium:
				if programmed {
					res.APaces++
				}
				hh.Paced(pacer.ChamberAtrium, t)
			case x.Kind == pacer.OutEvent && x.Chamber == pacer.ChamberVentricle && x.Reason == reason.OK:
				vEvent(t, false)
			}
		}
	}
	step := func(in pacer.Input) {
		s, out = pacer.Step(&cfg, s, in)
		handle(in.NowMs, &out)
	}
	for {
		t := hh.Next()
		if out.HaveWake && out.WakeAtMs < t {
			t = out.WakeAtMs
		}
		if t > duration {
			break
		}
		if out.HaveWake && out.WakeAtMs <= t {
			step(pacer.Input{Kind: pacer.InTick, NowMs: t})
		}
		if t == hh.Next() {
			if ch, ok := hh.Fire(t); ok {
				step(pacer.Input{Kind: pacer.InSense, NowMs: t, Chamber: ch})
			}
		}
		if s.Op == pacer.OpFault {
			return res, fmt.Errorf("heart: %s: kernel faulted at %d", sc.Name, t)
		}
	}
	return res, nil
}

func program(mode pacer.PacingMode) pacer.Params {
	p := pacer.Nominal // DDD 60/120, AV 150, VRP 320, PVARP 250
	p.Mode = mode
	return p
}

// Scenarios are the standard closed-loop scenarios, each with its seed.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "normal-sinus", SinusPPM: 72, JitterMs: 40, PRMs: 130, Conduction: ConductAll, Program: program(pacer.ModeDDD), Seed: 1},
		{Name: "sinus-bradycardia", SinusPPM: 40, JitterMs: 60, PRMs: 180, Conduction: ConductAll, Program: program(pacer.ModeDDD), Seed: 2},
		{Name: "complete-av-block", SinusPPM: 75, JitterMs: 30, PRMs: 160, Conduction: BlockComplete, EscapePPM: 35, Program: program(pacer.ModeDDD), Seed: 3},
		{Name: "atrial-tachycardia", SinusPPM: 160, JitterMs: 20, PRMs: 160, Conduction: BlockComplete, EscapePPM: 30, Program: program(pacer.ModeDDD), Seed: 4},
		{Name: "random-beats-vvi", SinusPPM: 55, JitterMs: 300, PRMs: 200, Conduction: BlockRandom, DropPct: 30, EscapePPM: 30, PVCPerHour: 300, Program: program(pacer.ModeVVI), Seed: 5},
	}
}
