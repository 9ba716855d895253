package pacerinv

import (
	"fmt"

	"github.com/implantfhe/implantfhe/kernel/pacer"
)

// The observer's own copy of PACEMAKER spec Table 7, written as explicit
// value lists (the kernel uses range arithmetic), so that a slip in either
// shows up as a disagreement.
var (
	// LRL 30–50 (5), 50–90 (1), 90–175 (5) ppm.
	lrls = join(seq(30, 45, 5), seq(50, 89, 1), seq(90, 175, 5))
	// URL 50–175 (5) ppm.
	urls = seq(50, 175, 5)
	// Fixed AV delay 70–300 (10) ms.
	avDelays = seq(70, 300, 10)
	// Amplitude Off, 0.5–3.2 (0.1), 3.5–7.0 (0.5) V, in 0.1 V.
	amplitudes = join([]int{0}, seq(5, 32, 1), seq(35, 70, 5))
	// Pulse width 0.05, 0.1–1.9 (0.1) ms, in 0.01 ms.
	pulseWidths = join([]int{5}, seq(10, 190, 10))
	// Sensitivity 0.25, 0.5, 0.75, 1.0–10 (0.5) mV, in 0.01 mV.
	sensitivities = join([]int{25, 50, 75}, seq(100, 1000, 50))
	// VRP, ARP, PVARP 150–500 (10) ms.
	refractories = seq(150, 500, 10)
)

func seq(lo, hi, inc int) []int {
	var r []int
	for v := lo; v <= hi; v += inc {
		r = append(r, v)
	}
	return r
}

func join(xs ...[]int) []int {
	var r []int
	for _, x := range xs {
		r = append(r, x...)
	}
	return r
}

func member(set []int, v int) bool {
	for _, x := range set {
		if x == v {
			return true
		}
	}
	return false
}

// Programmable is "" if every parameter of p is a Table 7 value, else what
// is not. PACE-PARAM-PROGRAMMABLE.
func Programmable(p pacer.Params) string {
	checks := []struct {
		name string
		set  []int
		v    int
	}{
		{"LRL", lrls, int(p.LRL)}, {"URL", urls, int(p.URL)}, {"AV delay", avDelays, int(p.AVDelayMs)},
		{"A amplitude", amplitudes, int(p.AAmp)}, {"V amplitude", amplitudes, int(p.VAmp)},
		{"A pulse width", pulseWidths, int(p.APulse)}, {"V pulse width", pulseWidths, int(p.VPulse)},
		{"A sensitivity", sensitivities, int(p.ASens)}, {"V sensitivity", sensitivities, int(p.VSens)},
		{"VRP", refractories, int(p.VRPMs)}, {"ARP", refractories, int(p.ARPMs)}, {"PVARP", refractories, int(p.PVARPMs)},
	}
	if p.Mode > pacer.ModeDDD {
		return fmt.Sprintf("mode %d", p.Mode)
	}
	for _, c := range checks {
		if !member(c.set, c.v) {
			return fmt.Sprintf("%s %d not in Table 7", c.name, c.v)
		}
	}
	return ""
}

// Cross is "" if the combination p is pacable, else why not.
// PACE-CROSS-PARAM. Integer intervals: a pacing interval I (ms) meets the
// lower rate iff I×LRL ≤ 60000 and the upper rate iff I×URL ≥ 60000.
func Cross(p pacer.Params) string {
	lrl, url := int64(p.LRL), int64(p.URL)
	if lrl <= 0 || url <= 0 {
		return "rates must be positive"
	}
	fits := func(ms int64) bool { return (ms+1)*lrl <= msPerMinute } // ms < floor(60000/LRL)
	minURLInterval := (msPerMinute + url - 1) / url
	m := p.Mode
	switch {
	case lrl > url || minURLInterval*lrl > msPerMinute:
		return fmt.Sprintf("no integer interval meets both LRL %d and URL %d", lrl, url)
	case m.PacesAtrium() && p.AAmp == 0 || m.PacesVentricle() && p.VAmp == 0:
		return "a paced chamber's amplitude is Off"
	case m.SensesVentricle() && !fits(int64(p.VRPMs)):
		return fmt.Sprintf("VRP %d does not fit the lower-rate interval", p.VRPMs)
	case m.SensesAtrium() && !fits(int64(p.ARPMs)):
		return fmt.Sprintf("ARP %d does not fit the lower-rate interval", p.ARPMs)
	case m.Dual() && !fits(int64(p.AVDelayMs)):
		return fmt.Sprintf("AV delay %d does not fit the lower-rate interval", p.AVDelayMs)
	case m == pacer.ModeDDD && !fits(int64(p.AVDelayMs+p.PVARPMs)):
		return fmt.Sprintf("AV %d + PVARP %d do not fit the lower-rate interval", p.AVDelayMs, p.PVARPMs)
	}
	return ""
}
