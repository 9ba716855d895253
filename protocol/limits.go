package protocol

import (
	"errors"
	"fmt"
)

// PumpLimits are an insulin-pump patient's limits, in the kernel's units.
// One copy feeds the implant (programmed at first boot) and the clinic
// (encrypted for the relay's comparison), so the two cannot disagree.
type PumpLimits struct {
	MaxBolusCU         int64 `json:"max_bolus_cu"`
	MaxBasalCUPerHour  int64 `json:"max_basal_cu_per_h"`
	MaxIOBCU           int64 `json:"max_iob_cu"`
	MaxDailyCU         int64 `json:"max_daily_cu"`
	MinBolusIntervalMs int64 `json:"min_bolus_interval_ms"`
	SuspendBelowMgDL   int64 `json:"suspend_below_mg_dl"`
	ScheduledBasalCUph int64 `json:"scheduled_basal_cu_per_h"`
}

// PacerLimits are a pacemaker patient's rate limits (ppm).
type PacerLimits struct {
	MinLRL int64 `json:"min_lrl_ppm"`
	MaxURL int64 `json:"max_url_ppm"`
}

// Limits is limits.json: exactly one of the two, for the device's kind.
type Limits struct {
	Pump  *PumpLimits  `json:"pump,omitempty"`
	Pacer *PacerLimits `json:"pacer,omitempty"`
}

// DefaultPumpLimits are the provisioning defaults, each from a published
// source or stated as this project's choice (conformance/requirements.json
// cites them under PUMP-LIMITS-RANGE):
//   - max bolus 3.00 U: AndroidAPS SafetyPlugin's default user maximum bolus;
//   - max basal 2.00 U/h: AndroidAPS HardLimits' most restrictive (child)
//     maximum basal;
//   - max IOB 6.00 U: Loop's automatic-dosing IOB limit, 2 × maximum bolus;
//   - max daily 40.00 U: this project's choice (no open-source dosing app
//     publishes one), under the kernel's ceiling of 24 h of maximum basal
//     plus three maximum boluses;
//   - minimum bolus interval 15 min: this project's choice (GIIP and the
//     textbook pump name the rule, not a value); 0 would let two boluses a
//     second apart both run;
//   - suspend below 70 mg/dL: ADA level-1 hypoglycaemia, inside Loop's
//     suspend-threshold guardrail of 66.1–110.9 mg/dL;
//   - scheduled basal 0: none until the clinician prescribes one.
var DefaultPumpLimits = PumpLimits{MaxBolusCU: 300, MaxBasalCUPerHour: 200, MaxIOBCU: 600, MaxDailyCU: 4000,
	MinBolusIntervalMs: 15 * 60 * 1000, SuspendBelowMgDL: 70}

// DefaultPacerLimits: LRL at least 40 ppm and URL at most 150 ppm, this
// project's choice inside the PACEMAKER specification's Table 7 ranges
// (LRL 30–175, URL 50–175 ppm) around its nominal 60/120 ppm.
var DefaultPacerLimits = PacerLimits{MinLRL: 40, MaxURL: 150}

// ErrLimits: limits that are not of the device's kind or not plausible.
// The implant's kernel makes the authoritative range check
// (PUMP-LIMITS-RANGE, PACE-PATIENT-LIMITS) when it programs them.
var ErrLimits = errors.New("protocol: invalid limits")

// Check refuses limits of the wrong kind or with values no kernel range
// admits (negative, or past the largest published hard limit).
func (l *Limits) Check(kind DeviceKind) error {
	switch kind {
	case KindPump:
		p := l.Pump
		if p == nil || l.Pacer != nil {
			return fmt.Errorf("%w: a pump needs pump limits only", ErrLimits)
		}
		// AndroidAPS HardLimits, pregnant profile (the largest): 60 U bolus,
		// 25 U/h basal, 70 U IOB.
		switch {
		case p.MaxBolusCU < 10 || p.MaxBolusCU > 6000:
			return fmt.Errorf("%w: max bolus %d cU outside 10..6000", ErrLimits, p.MaxBolusCU)
		case p.MaxBasalCUPerHour < 0 || p.MaxBasalCUPerHour > 2500:
			return fmt.Errorf("%w: max basal %d cU/h outside 0..2500", ErrLimits, p.MaxBasalCUPerHour)
		case p.MaxIOBCU < 0 || p.MaxIOBCU > 7000:
			return fmt.Errorf("%w: max IOB %d cU outside 0..7000", ErrLimits, p.MaxIOBCU)
		case p.MaxDailyCU <= 0 || p.MaxDailyCU > 24*2500+3*6000:
			return fmt.Errorf("%w: max daily %d cU", ErrLimits, p.MaxDailyCU)
		case p.MinBolusIntervalMs < 0 || p.MinBolusIntervalMs > 24*3600*1000:
			return fmt.Errorf("%w: minimum bolus interval %d ms outside 0..24 h", ErrLimits, p.MinBolusIntervalMs)
		case p.SuspendBelowMgDL < 67 || p.SuspendBelowMgDL > 110:
			return fmt.Errorf("%w: suspend threshold %d mg/dL outside 67..110", ErrLimits, p.SuspendBelowMgDL)
		case p.ScheduledBasalCUph < 0 || p.ScheduledBasalCUph > p.MaxBasalCUPerHour:
			return fmt.Errorf("%w: scheduled basal %d cU/h outside 0..max basal", ErrLimits, p.ScheduledBasalCUph)
		}
	case KindPacer:
		p := l.Pacer
		if p == nil || l.Pump != nil {
			return fmt.Errorf("%w: a pacemaker needs pacer limits only", ErrLimits)
		}
		if p.MinLRL < 30 || p.MaxURL > 175 || p.MinLRL >= p.MaxURL {
			return fmt.Errorf("%w: LRL ≥ %d, URL ≤ %d ppm (Table 7: 30..175, LRL below URL)", ErrLimits, p.MinLRL, p.MaxURL)
		}
	default:
		return fmt.Errorf("%w: %s", ErrDeviceKind, kind)
	}
	return nil
}

// DefaultLimits are the defaults of a device kind.
func DefaultLimits(kind DeviceKind) Limits {
	switch kind {
	case KindPump:
		p := DefaultPumpLimits
		return Limits{Pump: &p}
	case KindPacer:
		p := DefaultPacerLimits
		return Limits{Pacer: &p}
	}
	return Limits{}
}

// LimitValues are the values a command subkind is compared against, in its
// schema's order (what the clinic encrypts for the relay).
func (l *Limits) LimitValues(kind DeviceKind, sub Subkind) ([]int64, error) {
	switch {
	case kind == KindPump && l.Pump != nil && sub == PumpBolus:
		return []int64{l.Pump.MaxBolusCU}, nil
	case kind == KindPump && l.Pump != nil && sub == PumpSetBasal:
		return []int64{l.Pump.MaxBasalCUPerHour}, nil
	case kind == KindPacer && l.Pacer != nil && sub == PacerProgram:
		return []int64{l.Pacer.MinLRL, l.Pacer.MaxURL}, nil
	}
	return nil, fmt.Errorf("%w: no compared limits for %s %s", ErrLimits, kind, kind.SubkindName(sub))
}
