// Package pacer is the pacemaker safety kernel: a pure function Step of
// (state, input) to (state, outputs), like kernel/pump. Inputs are sensed
// atrial and ventricular events, ticks carrying monotonic time, authenticated
// decoded programming commands with the relay's verdict, HAL events (lead
// fault, watchdog, battery, magnet) and firmware slot-switch requests.
// Outputs are pace requests (chamber, amplitude in 0.1 V, pulse width in
// 0.01 ms), log records, alerts and switch answers, each with a typed
// reason, plus the time at which the kernel must next be stepped.
//
// Pacing modes (PACEMAKER spec §3.5): Off, AOO, VOO, DOO, AAI, VVI, DDD.
// Operating states (§3.6), a looplab/fsm machine compiled to a table:
// Power-On Reset, Permanent, Temporary, Pace-Now, Magnet and Fault.
//
// Requirement IDs checked here: PACE-PARAM-PROGRAMMABLE, PACE-CROSS-PARAM,
// PACE-LRL, PACE-URL, PACE-REFRACTORY, PACE-SAFE-POINT, PACE-FAULT-SAFE,
// PACE-PATIENT-LIMITS, PACE-UPDATE-SWITCH (a firmware slot switch only when
// its blackout ends by the lower-rate deadline), and through kernel/guard
// CMD-AUTH, CMD-REPLAY, CMD-COUNTER-STEP, CMD-EXPIRY, CMD-VERDICT.
//
// The package must never perform I/O, read a clock, start a goroutine, use
// floating point in timing or limits, or allocate on the Step path
// (BenchmarkStep shows 0 allocs/op). It never trusts the relay's verdict on
// its own: the relay compares a program's LRL and URL homomorphically with
// the patient's encrypted limits (State.Limits, set by CmdSetLimits), the
// kernel makes the same comparison exactly (CMD-VERDICT: a disagreement is
// an alert), and then applies its own Table 7 and cross-parameter checks,
// which the relay cannot.
package pacer
