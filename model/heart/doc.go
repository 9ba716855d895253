// Package heart holds seeded, deterministic heart-rhythm models (normal
// sinus rhythm, sinus bradycardia, complete AV block, atrial tachycardia,
// random ectopic beats with intermittent block) and a closed-loop simulation
// that runs the real pacemaker kernel (kernel/pacer) against them and records
// every ventricular interval.
//
// It is verification code: it must never be linked into firmware, and it
// must stay deterministic (no wall clock, no global random source): the same
// scenario and seed give the same intervals.
package heart
