package pump

import "github.com/implantfhe/implantfhe/kernel/units"

// Profile selects the hard limits a pump is built for. It is fixed at
// provisioning; no command changes it.
type Profile uint8

// Profiles, after AndroidAPS HardLimits (docs/sources.md).
const (
	ProfileChild Profile = iota
	ProfileTeen
	ProfileAdult
	ProfileResistantAdult
	ProfilePregnant
	numProfiles
)

// HardLimits are the ceilings no programmed limit may exceed.
type HardLimits struct {
	MaxBolus units.CentiUnits
	MaxBasal units.CentiUnitsPerHour
	MaxIOB   units.CentiUnits
	MaxDaily units.CentiUnits
}

// hardLimits: AndroidAPS HardLimits (child / teen / adult / resistant adult /
// pregnant): max bolus 5/10/17/25/60 U, max basal 2/5/10/12/25 U/h, max IOB
// 7/13/22/30/70 U. The daily ceiling is this kernel's choice (no open-source
// dosing app has one): 24 h of maximum basal plus three maximum boluses.
var hardLimits = [numProfiles]HardLimits{
	ProfileChild:          daily(HardLimits{MaxBolus: 500, MaxBasal: 200, MaxIOB: 700}),
	ProfileTeen:           daily(HardLimits{MaxBolus: 1000, MaxBasal: 500, MaxIOB: 1300}),
	ProfileAdult:          daily(HardLimits{MaxBolus: 1700, MaxBasal: 1000, MaxIOB: 2200}),
	ProfileResistantAdult: daily(HardLimits{MaxBolus: 2500, MaxBasal: 1200, MaxIOB: 3000}),
	ProfilePregnant:       daily(HardLimits{MaxBolus: 6000, MaxBasal: 2500, MaxIOB: 7000}),
}

func daily(h HardLimits) HardLimits {
	h.MaxDaily = units.CentiUnits(24*int32(h.MaxBasal)) + 3*h.MaxBolus
	return h
}

// Hard returns the hard limits of profile p.
func Hard(p Profile) (HardLimits, bool) {
	if p >= numProfiles {
		return HardLimits{}, false
	}
	return hardLimits[p], true
}

// Limits are the programmed therapy limits, set by a ProgramLimits command and
// range-checked against the hard limits (PUMP-LIMITS-RANGE).
type Limits struct {
	MaxBolus         units.CentiUnits
	MaxBasal         units.CentiUnitsPerHour
	MaxIOB           units.CentiUnits
	MaxDaily         units.CentiUnits
	MinBolusInterval units.Millis
	SuspendBelow     units.MgDL
	ScheduledBasal   units.CentiUnitsPerHour
}

// Programmable ranges.
const (
	// AndroidAPS SafetyPlugin: user max bolus 0.1–60 U.
	MinProgrammableMaxBolus units.CentiUnits = 10
	// Loop guardrail for the suspend threshold: 66.1–110.9 mg/dL, as integers.
	MinSuspendBelow units.MgDL = 67
	MaxSuspendBelow units.MgDL = 110
)

// limitsInRange is the PUMP-LIMITS-RANGE check: every programmed limit lies
// within its programmable range and under the profile's hard limit.
func limitsInRange(cfg *Config, l Limits) bool {
	h := hardLimits[cfg.Profile]
	switch {
	case l.MaxBolus < MinProgrammableMaxBolus || l.MaxBolus > h.MaxBolus:
		return false
	case l.MaxBasal < 1 || l.MaxBasal > h.MaxBasal:
		return false
	case l.MaxIOB < 1 || l.MaxIOB > h.MaxIOB:
		return false
	case l.MaxDaily < 1 || l.MaxDaily > h.MaxDaily:
		return false
	case l.MinBolusInterval < 0 || l.MinBolusInterval > cfg.WindowMs:
		return false
	case l.SuspendBelow < MinSuspendBelow || l.SuspendBelow > MaxSuspendBelow:
		return false
	case l.ScheduledBasal < 0 || l.ScheduledBasal > l.MaxBasal:
		return false
	}
	return true
}

// bolusCap is the PUMP-MAX-BOLUS ceiling: the programmed maximum, never above
// the hard limit.
func bolusCap(cfg *Config, l Limits) units.CentiUnits {
	return min(l.MaxBolus, hardLimits[cfg.Profile].MaxBolus)
}

// tempBasalCap is the PUMP-MAX-BASAL clamp for a temporary rate, after oref0
// getMaxSafeBasal: min(max basal, 3 × max daily basal, 4 × current basal). This
// kernel has a single scheduled rate, which is both the max daily basal and the
// current basal.
func tempBasalCap(cfg *Config, l Limits) units.CentiUnitsPerHour {
	return min(l.MaxBasal, hardLimits[cfg.Profile].MaxBasal, 3*l.ScheduledBasal, 4*l.ScheduledBasal)
}

// basalCap is the PUMP-MAX-BASAL ceiling for the scheduled rate.
func basalCap(cfg *Config, l Limits) units.CentiUnitsPerHour {
	return min(l.MaxBasal, hardLimits[cfg.Profile].MaxBasal)
}
