package pacer

import (
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// msPerMinute converts a rate in ppm to an interval in ms.
const msPerMinute = int64(units.Minute)

// LowerRateIntervalMs is 60000/LRL rounded down: pacing at it is never
// slower than the lower rate. PACE-LRL.
func LowerRateIntervalMs(lrl PPM) units.Millis {
	if lrl <= 0 {
		return 0
	}
	return units.Millis(msPerMinute / int64(lrl))
}

// UpperRateIntervalMs is 60000/URL rounded up: pacing at it is never faster
// than the upper rate. PACE-URL.
func UpperRateIntervalMs(url PPM) units.Millis {
	if url <= 0 {
		return 0
	}
	return units.Millis((msPerMinute + int64(url) - 1) / int64(url))
}

// stepped reports whether v is in [lo, hi] on the grid lo + k*inc.
func stepped[T ~int16 | ~int32 | ~int64](v, lo, hi, inc T) bool {
	return v >= lo && v <= hi && (v-lo)%inc == 0
}

// lrlProgrammable: PACEMAKER spec Table 7: LRL 30–50 ppm (5), 50–90 (1),
// 90–175 (5).
func lrlProgrammable(v PPM) bool {
	return stepped(v, 30, 50, 5) || stepped(v, 50, 90, 1) || stepped(v, 90, 175, 5)
}

// urlProgrammable: PACEMAKER spec Table 7: URL 50–175 ppm (5).
func urlProgrammable(v PPM) bool { return stepped(v, 50, 175, 5) }

// avDelayProgrammable: PACEMAKER spec Table 7: fixed AV delay 70–300 ms (10).
func avDelayProgrammable(v units.Millis) bool { return stepped(v, 70, 300, 10) }

// amplitudeProgrammable: PACEMAKER spec Table 7: regulated amplitude Off,
// 0.5–3.2 V (0.1), 3.5–7.0 V (0.5).
func amplitudeProgrammable(v DeciVolts) bool {
	return v == 0 || stepped(v, 5, 32, 1) || stepped(v, 35, 70, 5)
}

// pulseWidthProgrammable: PACEMAKER spec Table 7: pulse width 0.05 ms,
// 0.1–1.9 ms (0.1).
func pulseWidthProgrammable(v HundredthMs) bool { return v == 5 || stepped(v, 10, 190, 10) }

// sensitivityProgrammable: PACEMAKER spec Table 7: sensitivity 0.25, 0.5,
// 0.75, 1.0–10 mV (0.5).
func sensitivityProgrammable(v CentiMillivolts) bool {
	return v == 25 || v == 50 || v == 75 || stepped(v, 100, 1000, 50)
}

// refractoryProgrammable: PACEMAKER spec Table 7: VRP, ARP, PVARP 150–500 ms (10).
func refractoryProgrammable(v units.Millis) bool { return stepped(v, 150, 500, 10) }

// programmable is the PACE-PARAM-PROGRAMMABLE check: every parameter is one
// of its Table 7 values, increments included.
func programmable(p Params) bool {
	return p.Mode < numPacingModes && // PACEMAKER spec §3.5 modes
		lrlProgrammable(p.LRL) && urlProgrammable(p.URL) &&
		avDelayProgrammable(p.AVDelayMs) &&
		amplitudeProgrammable(p.AAmp) && amplitudeProgrammable(p.VAmp) &&
		pulseWidthProgrammable(p.APulse) && pulseWidthProgrammable(p.VPulse) &&
		sensitivityProgrammable(p.ASens) && sensitivityProgrammable(p.VSens) &&
		refractoryProgrammable(p.VRPMs) && refractoryProgrammable(p.ARPMs) && refractoryProgrammable(p.PVARPMs)
}

// crossCheck is the PACE-CROSS-PARAM check on parameters that are each
// programmable: the combination must be pacable.
//   - LRL ≤ URL (PACEMAKER spec §5: the lower rate cannot exceed the upper),
//     and some whole-ms interval meets both (60000/LRL rounded down ≥
//     60000/URL rounded up);
//   - a paced chamber's amplitude is not Off;
//   - a sensed chamber's refractory period ends before the lower-rate
//     interval, so that it can sense at all (VRP, ARP < 60000/LRL);
//   - dual chamber: the AV delay fits in the lower-rate interval, and in DDD
//     the total atrial refractory period AV + PVARP does too, so that the
//     atrial escape pace never falls inside PVARP.
func crossCheck(p Params) reason.Code {
	lri := LowerRateIntervalMs(p.LRL)
	switch {
	case p.LRL > p.URL || lri < UpperRateIntervalMs(p.URL):
		// Integer intervals: LRL = URL is pacable only if 60000/URL is whole.
		return reason.PacerCrossParam
	case p.Mode.PacesAtrium() && p.AAmp == 0, p.Mode.PacesVentricle() && p.VAmp == 0:
		return reason.PacerCrossParam
	case p.Mode.SensesVentricle() && p.VRPMs >= lri, p.Mode.SensesAtrium() && p.ARPMs >= lri:
		return reason.PacerCrossParam
	case p.Mode.Dual() && p.AVDelayMs >= lri:
		return reason.PacerCrossParam
	case p.Mode == ModeDDD && p.AVDelayMs+p.PVARPMs >= lri:
		return reason.PacerCrossParam
	}
	return reason.OK
}

// paramsCheck combines both rules: the first that refuses p, or OK.
func paramsCheck(p Params) reason.Code {
	if !programmable(p) { // PACE-PARAM-PROGRAMMABLE
		return reason.PacerParamNotProgrammable
	}
	return crossCheck(p) // PACE-CROSS-PARAM
}

// limitsCheck is the range check of patient limits: MinLRL a Table 7 LRL
// value and MaxURL a Table 7 URL value (PacerParamNotProgrammable), MinLRL
// below MaxURL (PacerCrossParam). PACE-PATIENT-LIMITS.
func limitsCheck(l Limits) reason.Code {
	if !lrlProgrammable(l.MinLRL) || !urlProgrammable(l.MaxURL) {
		return reason.PacerParamNotProgrammable
	}
	if l.MinLRL >= l.MaxURL {
		return reason.PacerCrossParam
	}
	return reason.OK
}

// Nominal is the nominal programming of PACEMAKER spec Table 7: DDD, LRL 60,
// URL 120, AV 150 ms, amplitude 3.5 V, pulse width 0.4 ms, sensitivity
// A 0.75 mV / V 2.5 mV, VRP 320, ARP 250, PVARP 250 ms.
var Nominal = Params{
	Mode: ModeDDD, LRL: 60, URL: 120, AVDelayMs: 150,
	AAmp: 35, VAmp: 35, APulse: 40, VPulse: 40, ASens: 75, VSens: 250,
	VRPMs: 320, ARPMs: 250, PVARPMs: 250,
}

// SafePowerOnReset is the Power-On Reset setting, also the Fault backup:
// PACEMAKER spec §3.6 / shared LIMITS: VVI 65 ppm, 5.0 V, pulse width
// 0.5 ms, sensitivity 1.5 mV, VRP 320 ms; the rest nominal.
var SafePowerOnReset = Params{
	Mode: ModeVVI, LRL: 65, URL: 120, AVDelayMs: 150,
	AAmp: 35, VAmp: 50, APulse: 40, VPulse: 50, ASens: 75, VSens: 150,
	VRPMs: 320, ARPMs: 250, PVARPMs: 250,
}

// SafePaceNow is the Pace-Now setting: as Power-On Reset with a 1.0 ms
// pulse width (PACEMAKER spec §3.6).
var SafePaceNow = func() Params { p := SafePowerOnReset; p.VPulse = 100; return p }()

// MagnetRate: PACEMAKER spec §3.6: magnet asynchronous pacing at 100 ppm at
// beginning of life (90 at ERN, 85 at ERT; this kernel treats a depleted
// battery as a fault instead).
const MagnetRate PPM = 100

// magnetParams is the asynchronous version of p at the magnet rate. Off
// stays Off: a magnet never starts pacing a device programmed off.
func magnetParams(p Params) Params {
	switch p.Mode {
	case ModeAOO, ModeAAI:
		p.Mode = ModeAOO
	case ModeVOO, ModeVVI:
		p.Mode = ModeVOO
	case ModeDOO, ModeDDD:
		p.Mode = ModeDOO
	default:
		return p
	}
	p.LRL = MagnetRate
	p.URL = max(p.URL, MagnetRate)
	return p
}
