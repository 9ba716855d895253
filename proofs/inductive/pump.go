package main

import (
	"fmt"

	kp "github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/units"
	mpump "github.com/implantfhe/implantfhe/model/pump"
	"github.com/implantfhe/implantfhe/model/pumpinv"
)

// pumpIndInv is the inductive invariant of the pump kernel with its
// observer's ghost (model/pumpinv): "" if s satisfies it, else the first
// conjunct that fails. The requirement invariants hold of every transition
// the observer checks; this predicate names what a state must satisfy for
// every step from it to pass them, and is itself preserved.
//
// Strengthening beyond the requirement invariants (proofs/README.md):
// the kernel's own structure (epoch = now / bucket, the basal carry in
// [0, 1 pulse), nothing carried while halted, no negative level), the
// kernel and the observer agreeing on everything they both record
// (counter, glucose, last bolus, reservoir, the motor running iff
// Delivering), and the accounting ring never holding less than the
// observer's exact history per bucket, the history lying inside the ring.
func pumpIndInv(cfg *kp.Config, s mpump.State) string {
	k, g := s.K, s.G
	hard, _ := kp.Hard(cfg.Profile)
	bucket := cfg.BucketMs
	n := int64(cfg.WindowMs/bucket) + 1
	switch {
	case int(k.Mode) >= kp.NumModes:
		return "mode out of range"
	case k.Epoch != int64(k.NowMs/bucket):
		return "epoch is not now / bucket"
	case k.BasalAccum < 0 || k.BasalAccum >= int64(units.Hour):
		return "basal carry outside [0, one pulse)"
	case kp.HaltedMode(k.Mode) && k.BasalAccum != 0:
		return "PUMP-HALT: basal carried while halted"
	case k.ReservoirCU < 0:
		return "PUMP-RESERVOIR: negative reservoir"
	case k.Mode != kp.ModeInit && k.Mode != kp.ModeFault && pumpinv.LimitsOutOfRange(cfg, k.Limits) != "":
		return "PUMP-LIMITS-RANGE: " + pumpinv.LimitsOutOfRange(cfg, k.Limits)
	case k.Mode == kp.ModeInit && (k.Limits != kp.Limits{} || len(g.History) > 0 || k.HaveBolus || k.TempActive):
		return "Init has programmed, delivered or started something"
	case k.Mode == kp.ModeFault && (k.TempActive || k.BasalAccum != 0):
		return "FAULT-SAFE: Fault with a temporary rate or a basal carry"
	case k.TempActive && k.TempUntilMs-k.NowMs > cfg.MaxTempBasalMs:
		return "PUMP-TEMP-DURATION: temporary rate beyond the maximum duration"
	case k.TempActive && (k.TempRate < 0 || k.TempRate > min(k.Limits.MaxBasal, hard.MaxBasal, 3*k.Limits.ScheduledBasal)):
		return "PUMP-MAX-BASAL: temporary rate above its clamp"
	case k.Guard.LastCounter != g.MaxSignedCounter:
		return "CMD-REPLAY: kernel and observer disagree on the consumed counter"
	case k.HaveGlucose != g.HaveGlucose || k.HaveGlucose && (k.Glucose != g.Glucose || k.GlucoseAtMs != g.GlucoseAtMs):
		return "glucose: kernel and observer disagree"
	case k.HaveGlucose && k.GlucoseAtMs > k.NowMs:
		return "glucose from the future"
	case k.HaveBolus != g.HaveBolus || k.HaveBolus && k.LastBolusAtMs != g.LastBolusAtMs:
		return "PUMP-BOLUS-INTERVAL: kernel and observer disagree on the last bolus"
	case k.HaveBolus && k.LastBolusAtMs > k.NowMs:
		return "bolus from the future"
	case g.BolusRunning != (k.Mode == kp.ModeDelivering):
		return "PUMP-UPDATE-SWITCH: the motor runs a bolus iff Delivering"
	case g.HaveReservoir && g.ReservoirKnown != k.ReservoirCU || !g.HaveReservoir && k.ReservoirCU != 0:
		return "PUMP-RESERVOIR: kernel and observer disagree on the reservoir"
	}
	// Accounting: the ring holds at least the exact history per bucket.
	var perBucket [kp.MaxBuckets]units.CentiUnits
	for _, d := range g.History {
		b := int64(d.AtMs / bucket)
		if d.AtMs > k.NowMs || d.Amount <= 0 || b < k.Epoch-n+1 {
			return fmt.Sprintf("history entry %+v outside the ring", d)
		}
		perBucket[b%n] += d.Amount
	}
	for i := int64(0); i < n; i++ {
		if k.Ring[i] < perBucket[i] {
			return fmt.Sprintf("ring slot %d holds %d < exact %d", i, k.Ring[i], perBucket[i])
		}
	}
	for i := n; i < kp.MaxBuckets; i++ {
		if k.Ring[i] != 0 {
			return "ring slot beyond the window in use"
		}
	}
	// Not part of it: "the exact window total and insulin on board are
	// within the limits in force". They hold after each delivery (the
	// requirement), but a ProgramLimits command may lower the limits below
	// what was delivered before, so as state predicates they are not
	// invariant; the ring conjunct above is what makes each delivery's
	// check sound.
	return ""
}

// pumpStates enumerates the bounded state type of the pump: every
// combination of the field domains below, with the ghost built to agree
// with the kernel where the invariant asks it to (a state whose ghost
// disagrees fails the invariant and is not a case to check). yield gets
// every state; it returns false to stop.
func pumpStates(cfg *kp.Config, yield func(mpump.State) bool) {
	min5 := 5 * units.Minute
	// Times: the kernel depends on absolute time only through bucket
	// alignment, so one aligned and one mid-bucket time after a whole
	// window cover it.
	nows := []units.Millis{20 * units.Minute, 25 * units.Minute}
	modes := []kp.Mode{kp.ModeInit, kp.ModeIdle, kp.ModeDelivering, kp.ModeSuspended, kp.ModeAlarm, kp.ModeFault}
	type glu struct {
		have bool
		v    units.MgDL
		age  units.Millis
	}
	glus := []glu{{}, {true, 70, 0}, {true, 69, 0}, {true, 70, 2 * min5}, {true, 70, 3 * min5}}
	type temp struct {
		on    bool
		rate  units.CentiUnitsPerHour
		until units.Millis // relative to now
	}
	temps := []temp{{}, {true, 90, min5}, {true, 90, cfg.MaxTempBasalMs}, {true, 90, -min5}, {true, 91, min5}}
	accums := []int64{0, int64(units.Hour) / 2, int64(units.Hour) - 1}
	bolusAges := []units.Millis{-1, 0, 2 * min5, 2*min5 + 1}
	reservoirs := []units.CentiUnits{0, 19, 100}
	type del struct {
		age units.Millis
		amt units.CentiUnits
	}
	dels := []del{{0, 2}, {0, 19}, {min5, 2}, {2 * min5, 20}, {3 * min5, 19}, {4 * min5, 2}}
	var hists [][]pumpinv.Delivery
	hists = append(hists, nil)
	for i := range dels {
		hists = append(hists, []pumpinv.Delivery{{AtMs: -dels[i].age, Amount: dels[i].amt}})
		for j := i + 1; j < len(dels); j++ {
			hists = append(hists, []pumpinv.Delivery{{AtMs: -dels[j].age, Amount: dels[j].amt}, {AtMs: -dels[i].age, Amount: dels[i].amt}})
		}
	}
	n := int64(cfg.WindowMs/cfg.BucketMs) + 1
	for _, now := range nows {
		for _, mode := range modes {
			lims := []kp.Limits{mpump.GoodLimits}
			if mode == kp.ModeInit {
				lims = []kp.Limits{{}}
			}
			for _, lim := range lims {
				for ctr := uint64(0); ctr <= 1; ctr++ {
					for _, gl := range glus {
						for _, tp := range temps {
							for _, acc := range accums {
								for _, ba := range bolusAges {
									for _, res := range reservoirs {
										for _, h := range hists {
											for extra := 0; extra < 2; extra++ {
												var s mpump.State
												k := kp.NewState()
												k.Mode, k.Limits, k.NowMs, k.Epoch = mode, lim, now, int64(now/cfg.BucketMs)
												k.Guard.LastCounter = ctr
												k.HaveGlucose, k.Glucose, k.GlucoseAtMs = gl.have, gl.v, now-gl.age
												if !gl.have {
													k.Glucose, k.GlucoseAtMs = 0, 0
												}
												k.TempActive, k.TempRate, k.TempUntilMs = tp.on, tp.rate, now+tp.until
												if !tp.on {
													k.TempRate, k.TempUntilMs = 0, 0
												}
												k.BasalAccum = acc
												k.HaveBolus = ba >= 0
												if k.HaveBolus {
													k.LastBolusAtMs = now - ba
												}
												k.ReservoirCU = res
												g := pumpinv.Ghost{MaxSignedCounter: ctr, HaveGlucose: k.HaveGlucose, Glucose: k.Glucose, GlucoseAtMs: k.GlucoseAtMs,
													HaveBolus: k.HaveBolus, LastBolusAtMs: k.LastBolusAtMs, HaveReservoir: res > 0, ReservoirKnown: res,
													BolusRunning: mode == kp.ModeDelivering}
												for _, d := range h {
													d.AtMs += now
													g.History = append(g.History, d)
													k.Ring[int64(d.AtMs/cfg.BucketMs)%n] += d.Amount
												}
												if extra == 1 {
													// The oldest ring bucket holds insulin the
													// observer has already pruned.
													k.Ring[(k.Epoch+1)%n] += 20
												}
												s.K, s.G = k, g
												if !yield(s) {
													return
												}
											}
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// checkPump runs the inductive check: every state of the bounded type that
// satisfies pumpIndInv steps, under every input and probe the model check
// offers there, without a requirement violation to a state that satisfies
// pumpIndInv. sample > 1 checks only every sample-th state of the type.
func checkPump(sample int) result {
	m := mpump.New()
	m.Horizon = 1 << 40 // every state may still tick
	m.PerTick = 1 << 30 // and take every other input
	cfg := &m.Cfg
	var r result
	i := 0
	pumpStates(cfg, func(s mpump.State) bool {
		i++
		if !sampled(i, sample) {
			return true
		}
		r.typed++
		if why := pumpIndInv(cfg, s); why != "" {
			if r.excluded == nil {
				r.excluded = map[string]int{}
			}
			r.excluded[why]++
			return true
		}
		r.inv++
		step := func(label string, from mpump.State, in kp.Input) {
			r.steps++
			nxt, vs := m.Apply(from, in)
			for _, v := range vs {
				r.fail(fmt.Sprintf("pump: %s from %s: %s", label, describePump(s), v.Error()))
			}
			// A corruption probe starts from a state outside IndInv (that is
			// its point); the observer checks the step to Fault, and what
			// follows is not claimed.
			if why := pumpIndInv(cfg, nxt); why != "" && !from.G.Corrupted {
				r.fail(fmt.Sprintf("pump: %s from %s leads out of IndInv: %s", label, describePump(s), why))
			}
		}
		for _, in := range m.Inputs(s) {
			step(in.Label, s, in.In)
		}
		for _, p := range m.Probes(s) {
			step(p.Label, p.State, p.In)
		}
		return r.failures < 20
	})
	return r
}

func describePump(s mpump.State) string {
	k := s.K
	return fmt.Sprintf("[mode %s now %d ctr %d glucose %v/%d@%d temp %v/%d→%d carry %d bolus %v@%d reservoir %d ring %v history %v]",
		k.Mode, k.NowMs, k.Guard.LastCounter, k.HaveGlucose, k.Glucose, k.GlucoseAtMs, k.TempActive, k.TempRate, k.TempUntilMs,
		k.BasalAccum, k.HaveBolus, k.LastBolusAtMs, k.ReservoirCU, k.Ring[:3], s.G.History)
}
