package main

import (
	"fmt"

	kp "github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/units"
	mpacer "github.com/implantfhe/implantfhe/model/pacer"
	"github.com/implantfhe/implantfhe/model/pacerinv"
)

const msPerMinute = 60000

// expectedActive is the observer's reading of the parameters each
// operating state runs (PACEMAKER spec §3.6).
func expectedActive(s kp.State) kp.Params {
	switch s.Op {
	case kp.OpPermanent:
		return s.Perm
	case kp.OpTemporary:
		return s.Temp
	case kp.OpPaceNow:
		return kp.SafePaceNow
	case kp.OpMagnet:
		return kp.MagnetParams(s.Perm)
	}
	return kp.SafePowerOnReset
}

func within(p kp.Params, l kp.Limits) bool { return p.LRL >= l.MinLRL && p.URL <= l.MaxURL }

// pacerIndInv is the inductive invariant of the pacemaker kernel with its
// observer's ghost (model/pacerinv): "" if s satisfies it, else the first
// conjunct that fails.
//
// Strengthening beyond the requirement invariants (proofs/README.md): the
// parameters in force are the operating state's; a program waits while
// pacing is Off only under a magnet; an AV delay runs only in a dual
// mode and after the last ventricular event; nothing is overdue at the end
// of a Step (the rate chamber's lower-rate deadline, the atrial escape and
// the end of a running AV delay all lie ahead); and the observer agrees
// with the kernel on every timing anchor, the counter and the limits, its
// lower-rate bound never faster than the rate in force.
func pacerIndInv(s mpacer.State) string {
	k, g := s.K, s.G
	now := k.NowMs
	a := k.Active
	if int(k.Op) >= kp.NumOps {
		return "operating state out of range"
	}
	if a != expectedActive(k) {
		return "PACE-FAULT-SAFE / PACE-SAFE-POINT: parameters in force are not the operating state's"
	}
	for _, p := range []kp.Params{k.Perm, a} {
		if why := pacerinv.Programmable(p); why != "" {
			return "PACE-PARAM-PROGRAMMABLE: " + why
		}
		if why := pacerinv.Cross(p); why != "" {
			return "PACE-CROSS-PARAM: " + why
		}
	}
	if k.HavePending && (pacerinv.Programmable(k.Pending) != "" || pacerinv.Cross(k.Pending) != "") {
		return "PACE-PARAM-PROGRAMMABLE: pending program"
	}
	if !within(k.Perm, k.Limits) || k.Op == kp.OpTemporary && !within(k.Temp, k.Limits) || k.HavePending && !within(k.Pending, k.Limits) {
		return "PACE-PATIENT-LIMITS: a stored program outside the limits"
	}
	if k.HavePending && a.Mode == kp.ModeOff && k.Op != kp.OpMagnet {
		return "PACE-SAFE-POINT: a program waits while pacing is Off"
	}
	if k.LastVMs > now || k.LastAMs > now || k.LastAPaceMs > now || k.LastVMs < 0 || k.LastAMs < 0 {
		return "a timing anchor in the future"
	}
	if k.AVPending && (!a.Mode.Dual() || k.LastAMs < k.LastVMs) {
		return "an AV delay outside a dual mode or before the last ventricular event"
	}
	// Nothing overdue (PACE-LRL, PACE-AV-DELAY).
	if a.Mode != kp.ModeOff {
		anchor := k.LastVMs
		if a.Mode.RateChamber() == kp.ChamberAtrium {
			anchor = k.LastAMs
		}
		if int64(now+1-anchor)*int64(a.LRL) > msPerMinute {
			return "PACE-LRL: the lower-rate deadline is due"
		}
	}
	if a.Mode.Dual() {
		lri := units.Millis(msPerMinute / int64(a.LRL))
		uri := units.Millis((msPerMinute + int64(a.URL) - 1) / int64(a.URL))
		if !k.AVPending && now >= k.LastVMs+lri-a.AVDelayMs {
			return "PACE-AV-DELAY: the atrial escape is due"
		}
		if k.AVPending && now >= max(min(k.LastAMs+a.AVDelayMs, k.LastVMs+lri), k.LastVMs+uri) {
			return "PACE-AV-DELAY: the end of the AV delay is due"
		}
	}
	// The observer agrees with the kernel.
	switch {
	case g.MaxSignedCounter != k.Guard.LastCounter:
		return "CMD-REPLAY: kernel and observer disagree on the counter"
	case g.Limits != k.Limits:
		return "PACE-PATIENT-LIMITS: kernel and observer disagree on the limits"
	case g.LastVMs != k.LastVMs || g.LastAMs != k.LastAMs || g.AVPending != k.AVPending || g.HaveAPace != k.HaveAPace || k.HaveAPace && g.LastAPaceMs != k.LastAPaceMs:
		return "kernel and observer disagree on the timing anchors"
	case a.Mode != kp.ModeOff && g.BoundLRL > a.LRL:
		return "PACE-LRL: the observer's lower-rate bound is faster than the rate in force"
	case a.Mode.RateChamber() == kp.ChamberVentricle && g.AnchorMs != k.LastVMs, a.Mode.RateChamber() == kp.ChamberAtrium && g.AnchorMs != k.LastAMs:
		return "PACE-LRL: the observer's anchor is not the rate chamber's last event"
	case g.Switching:
		return "a blackout (the model's own state, checked by model/pacer)"
	}
	return ""
}

// withGhost builds the observer's ghost that agrees with kernel state k,
// with the wake-up the kernel announces in k.
func withGhost(cfg *kp.Config, k kp.State) mpacer.State {
	g := pacerinv.Ghost{MaxSignedCounter: k.Guard.LastCounter, LastVMs: k.LastVMs, LastAMs: k.LastAMs, LastAPaceMs: k.LastAPaceMs,
		HaveAPace: k.HaveAPace, AVPending: k.AVPending, AnchorMs: k.LastVMs, BoundLRL: k.Active.LRL, Limits: k.Limits}
	if k.Active.Mode.RateChamber() == kp.ChamberAtrium {
		g.AnchorMs = k.LastAMs
	}
	_, out := kp.Step(cfg, k, kp.Input{Kind: kp.InTick, NowMs: k.NowMs})
	g.WakeAtMs, g.HaveWake = out.WakeAtMs, out.HaveWake
	return mpacer.State{K: k, G: g}
}

// pacerStates enumerates the bounded state type of the pacemaker: every
// operating state with every permanent program of the model check, the
// parameters in force derived from them, both model limit sets, no or a
// pending program, and timing anchors on a grid around every interval the
// programs use, at a time long after power-on.
func pacerStates(cfg *kp.Config, yield func(mpacer.State) bool) {
	const now units.Millis = 5000
	ops := []kp.Op{kp.OpPowerOnReset, kp.OpPermanent, kp.OpTemporary, kp.OpPaceNow, kp.OpMagnet, kp.OpFault}
	perms := []kp.Params{kp.Nominal, mpacer.ProgDDD, mpacer.ProgVVI, mpacer.ProgAAI, mpacer.ProgOff}
	limits := []kp.Limits{mpacer.LimitsFull, mpacer.LimitsFast}
	pendings := []*kp.Params{nil, &mpacer.ProgDDD, &mpacer.ProgVVI}
	// Ages of the last ventricular and atrial events: at, just before and
	// just after every AV delay, refractory period, escape and lower-rate
	// interval of the programs (70, 150, 250, 320, 330, 400, 600, 850, 923
	// and 1000 ms).
	vAges := []units.Millis{0, 40, 69, 149, 150, 249, 319, 320, 329, 330, 342, 399, 529, 599, 772, 849, 850, 922, 999}
	aAges := []units.Millis{0, 39, 40, 69, 70, 149, 150, 300}
	for _, op := range ops {
		for _, perm := range perms {
			for _, lim := range limits {
				for _, pend := range pendings {
					for _, dv := range vAges {
						for _, da := range aAges {
							for apace := 0; apace < 2; apace++ {
								for avp := 0; avp < 2; avp++ {
									for ctr := uint64(0); ctr <= 1; ctr++ {
										k := kp.NewState()
										k.Op, k.Perm, k.Limits, k.NowMs = op, perm, lim, now
										if op == kp.OpTemporary {
											k.Temp, k.TempUntilMs = mpacer.ProgVVI, now+200
										}
										k.Active = expectedActive(k)
										if pend != nil {
											k.HavePending, k.Pending = true, *pend
										}
										k.LastVMs, k.LastAMs = now-dv, now-da
										k.HaveAPace = apace == 1
										if k.HaveAPace {
											k.LastAPaceMs = k.LastAMs
										}
										k.AVPending = avp == 1
										k.Guard.LastCounter = ctr
										if !yield(withGhost(cfg, k)) {
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

// checkPacer runs the inductive check of the pacemaker: every state of the
// bounded type that satisfies pacerIndInv steps, under every input and
// probe the model check offers there, without a requirement violation to
// a state that satisfies pacerIndInv. A granted slot switch is followed by
// the model's resumption at the end of the blackout, which must also land
// in IndInv.
func checkPacer(sample int) result {
	m := mpacer.New()
	m.PerTick = 1 << 30
	cfg := &m.Cfg
	var r result
	i := 0
	pacerStates(cfg, func(s mpacer.State) bool {
		i++
		if !sampled(i, sample) {
			return true
		}
		r.typed++
		if why := pacerIndInv(s); why != "" {
			if r.excluded == nil {
				r.excluded = map[string]int{}
			}
			r.excluded[why]++
			return true
		}
		r.inv++
		step := func(label string, from mpacer.State, in kp.Input) {
			r.steps++
			nxt, vs := m.Apply(from, in)
			for _, v := range vs {
				r.fail(fmt.Sprintf("pacer: %s from %s: %s", label, describePacer(s), v.Error()))
			}
			if from.G.Corrupted {
				return
			}
			if nxt.Blackout {
				// The firmware resumes at the end of the declared blackout.
				r.steps++
				res, vs := m.Apply(nxt, kp.Input{Kind: kp.InTick, NowMs: nxt.ResumeAtMs})
				for _, v := range vs {
					r.fail(fmt.Sprintf("pacer: %s, resume from %s: %s", label, describePacer(s), v.Error()))
				}
				nxt = res
			}
			if why := pacerIndInv(nxt); why != "" {
				r.fail(fmt.Sprintf("pacer: %s from %s leads out of IndInv: %s", label, describePacer(s), why))
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

func describePacer(s mpacer.State) string {
	k := s.K
	pend := "none"
	if k.HavePending {
		pend = fmt.Sprintf("%s %d", k.Pending.Mode, k.Pending.LRL)
	}
	return fmt.Sprintf("[%s perm %s %d active %s %d limits %d..%d pending %s now %d lastV -%d lastA -%d apace %v av %v ctr %d]",
		k.Op, k.Perm.Mode, k.Perm.LRL, k.Active.Mode, k.Active.LRL, k.Limits.MinLRL, k.Limits.MaxURL, pend,
		k.NowMs, k.NowMs-k.LastVMs, k.NowMs-k.LastAMs, k.HaveAPace, k.AVPending, k.Guard.LastCounter)
}
