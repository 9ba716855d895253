----------------------------- MODULE InsulinPump -----------------------------
(***************************************************************************)
(* The insulin-pump safety kernel (kernel/pump, kernel/guard) at the level  *)
(* of its inputs: ticks carrying monotonic time, glucose readings, HAL      *)
(* events, firmware slot-switch requests and authenticated commands with   *)
(* the relay's verdict.  Each action is one call of the kernel's Step: it  *)
(* first accrues basal up to the input's time, then handles the input,     *)
(* exactly as step.go does.                                                *)
(*                                                                         *)
(* Units are the kernel's: time in ms, insulin in 0.01 U, rates in          *)
(* 0.01 U/h, glucose in mg/dL.                                              *)
(*                                                                         *)
(* Accounting.  The kernel keeps delivered insulin in buckets and rounds    *)
(* towards more insulin.  The spec keeps the exact history of deliveries    *)
(* (a ghost) and defines two views of it:                                   *)
(*   - KernelWindowTotal / KernelIOB: the kernel's conservative bucketed    *)
(*     estimates, computed from the history; the actions use these, so the *)
(*     spec takes the same decisions as the kernel;                         *)
(*   - ExactWindowTotal / ExactIOBNum: the exact rolling-window total over  *)
(*     (now - window, now] and the exact linear insulin-action curve, as in *)
(*     model/pumpinv; the invariants use these.                             *)
(* TLC thereby checks that the conservative rule implies the exact one.     *)
(*                                                                         *)
(* lastStep records the last input, a snapshot of the state before it and   *)
(* the kernel's outputs, so that properties of transitions are state        *)
(* predicates (one invariant per requirement ID).                           *)
(***************************************************************************)
EXTENDS Naturals, Integers, Sequences, FiniteSets, TLC

CONSTANTS
    \* Bounded model: time step, horizon, inputs between two ticks.
    TickMs, MaxTime, MaxEventsPerTick,
    \* kernel/pump Config.
    WindowMs, BucketMs, InsulinActionMs, GlucoseStaleMs,
    MaxCommandValidityMs, MinTempBasalMs, MaxTempBasalMs, MaxSwitchMs,
    \* Hard limits of the pump's profile.
    HardMaxBolus, HardMaxBasal, HardMaxIOB, HardMaxDaily,
    \* Programmable ranges (kernel/pump/limits.go).
    MinProgMaxBolus, MinSuspendBelow, MaxSuspendBelow,
    \* Values a ProgramLimits command may carry, one set per field.
    LimMaxBolus, LimMaxBasal, LimMaxIOB, LimMaxDaily,
    LimMinBolusInterval, LimSuspendBelow, LimScheduledBasal,
    \* Parameters of the other inputs.
    BolusAmounts, BasalRates, TempRates, TempDurations,
    GlucoseValues, ReservoirLevels,
    \* Switch-over blackouts a firmware slot-switch request may declare.
    SwitchDurations,
    \* Command envelopes: signer roles, verdicts, age of the issue time
    \* (issued = now - age; TLC's .cfg syntax has no negative numbers), and
    \* validity length (expires = issued + length).
    Signers, Verdicts, IssueAges, ValidFor,
    \* CMD-COUNTER-STEP: the most one command may move the counter
    \* (guard.MaxCounterStep, 2^20 in the kernel; small in the TLC models).
    MaxCounterStep

VARIABLES
    mode,          \* operating mode
    now,           \* monotonic time of the last input (ms)
    lastCounter,   \* highest command counter consumed (guard.State)
    limits,        \* programmed limits
    haveGlucose, glucose, glucoseAt,
    tempActive, tempRate, tempUntil,
    basalAccum,    \* undelivered basal, 0.01 U x ms/h, in [0, MsPerHour)
    lastWithheld,  \* cause of the last withheld basal pulse ("ok" if none)
    haveBolus, lastBolusAt,
    reservoir,     \* insulin the reservoir holds (0.01 U)
    history,       \* ghost: deliveries [at, amount, bolus] still relevant
    bolusRunning,  \* ghost: a bolus was actuated and not since reported done or stopped
    events,        \* inputs since the last tick (bounds interleavings)
    lastStep       \* ghost: [input, pre, out] of the last transition

vars == <<mode, now, lastCounter, limits, haveGlucose, glucose, glucoseAt,
          tempActive, tempRate, tempUntil, basalAccum, lastWithheld,
          haveBolus, lastBolusAt, reservoir, history, bolusRunning, events, lastStep>>

-----------------------------------------------------------------------------
(* Sets and small helpers. *)

MsPerHour == 3600000

Min(S) == CHOOSE x \in S : \A y \in S : x <= y
Max(S) == CHOOSE x \in S : \A y \in S : x >= y

Modes == {"init", "idle", "delivering", "suspended", "alarm", "fault"}
Running == {"idle", "delivering"}
NoMode == "forbidden"

Roles == {"none", "clinician", "manufacturer", "relay", "implant"}
VerdictKinds == {"absent", "within", "outside"}
CmdKinds == {"bolus", "set-basal", "temp-basal", "cancel-temp-basal",
             "suspend", "resume", "ack-alarm", "program-limits"}
VerdictCmdKinds == {"bolus", "set-basal", "temp-basal"}
HALKinds == {"delivery-done", "occlusion", "motor-fault", "reservoir", "watchdog"}
InputKinds == {"none", "tick", "glucose", "hal", "command", "clock-back", "switch"}

\* Reason codes (kernel/reason), by their stable names.
Reasons == {"ok", "unauthenticated", "wrong-role", "replay", "expired",
            "not-yet-valid", "validity-too-long", "no-verdict",
            "verdict-mismatch", "over-limit", "mode-forbids",
            "param-out-of-range", "unknown-command", "clock-went-back",
            "state-corrupt", "watchdog", "motor-fault", "occlusion",
            "reservoir-empty", "bolus-over-max", "bolus-too-soon",
            "iob-over-max", "daily-over-max", "basal-over-max",
            "glucose-low", "glucose-stale", "alarm-active", "suspended",
            "faulted", "invalid-reading", "switch-bolus-in-progress",
            "switch-duration-out-of-range", "counter-jump"}

ASSUME /\ TickMs > 0 /\ MaxTime \in Nat /\ MaxEventsPerTick \in Nat
       /\ BucketMs > 0 /\ WindowMs > 0 /\ WindowMs % BucketMs = 0
       /\ InsulinActionMs > 0 /\ InsulinActionMs % BucketMs = 0
       /\ InsulinActionMs <= WindowMs
       /\ GlucoseStaleMs > 0 /\ MaxCommandValidityMs > 0
       /\ 0 < MinTempBasalMs /\ MinTempBasalMs <= MaxTempBasalMs
       /\ 0 < MaxSwitchMs /\ MaxSwitchMs <= GlucoseStaleMs /\ SwitchDurations \subseteq Nat
       /\ Signers \subseteq Roles /\ Verdicts \subseteq VerdictKinds
       /\ "clinician" \in Signers /\ "within" \in Verdicts /\ 0 \in IssueAges /\ IssueAges \subseteq Nat
       /\ MaxCounterStep \in Nat /\ MaxCounterStep > 0

-----------------------------------------------------------------------------
(* Mode machine (kernel/pump/mode.go): the mode after an event, or NoMode  *)
(* when the machine does not allow it.                                      *)

ModeNext(m, ev) ==
    CASE ev = "program" -> IF m \in {"init", "idle"} THEN "idle"
                           ELSE IF m = "suspended" THEN "suspended" ELSE NoMode
      [] ev = "bolus"   -> IF m = "idle" THEN "delivering" ELSE NoMode
      [] ev = "done"    -> IF m = "delivering" THEN "idle" ELSE NoMode
      [] ev = "suspend" -> IF m \in Running THEN "suspended" ELSE NoMode
      [] ev = "resume"  -> IF m = "suspended" THEN "idle" ELSE NoMode
      [] ev = "alarm"   -> IF m \in {"idle", "delivering", "suspended", "alarm"}
                           THEN "alarm" ELSE NoMode
      [] ev = "ack"     -> IF m = "alarm" THEN "idle" ELSE NoMode
      [] ev = "fault"   -> "fault"
      [] OTHER          -> NoMode

HaltReason(m) ==
    CASE m = "suspended" -> "suspended"
      [] m = "alarm"     -> "alarm-active"
      [] m = "fault"     -> "faulted"
      [] OTHER           -> "mode-forbids"

-----------------------------------------------------------------------------
(* Limits (kernel/pump/limits.go). *)

LimitRecords == [maxBolus : Nat, maxBasal : Nat, maxIOB : Nat, maxDaily : Nat,
                 minBolusInterval : Nat, suspendBelow : Nat, scheduledBasal : Nat]

ZeroLimits == [maxBolus |-> 0, maxBasal |-> 0, maxIOB |-> 0, maxDaily |-> 0,
               minBolusInterval |-> 0, suspendBelow |-> 0, scheduledBasal |-> 0]

\* The limit sets a ProgramLimits command may carry (in range or not).
LimitSets == [maxBolus : LimMaxBolus, maxBasal : LimMaxBasal, maxIOB : LimMaxIOB,
              maxDaily : LimMaxDaily, minBolusInterval : LimMinBolusInterval,
              suspendBelow : LimSuspendBelow, scheduledBasal : LimScheduledBasal]

LimitsInRange(l) ==
    /\ MinProgMaxBolus <= l.maxBolus /\ l.maxBolus <= HardMaxBolus
    /\ 1 <= l.maxBasal /\ l.maxBasal <= HardMaxBasal
    /\ 1 <= l.maxIOB /\ l.maxIOB <= HardMaxIOB
    /\ 1 <= l.maxDaily /\ l.maxDaily <= HardMaxDaily
    /\ 0 <= l.minBolusInterval /\ l.minBolusInterval <= WindowMs
    /\ MinSuspendBelow <= l.suspendBelow /\ l.suspendBelow <= MaxSuspendBelow
    /\ 0 <= l.scheduledBasal /\ l.scheduledBasal <= l.maxBasal

BolusCap(l) == Min({l.maxBolus, HardMaxBolus})
BasalCap(l) == Min({l.maxBasal, HardMaxBasal})
\* oref0 getMaxSafeBasal with one scheduled rate (max daily = current basal).
TempBasalCap(l) == Min({l.maxBasal, HardMaxBasal, 3 * l.scheduledBasal, 4 * l.scheduledBasal})

-----------------------------------------------------------------------------
(* Delivery history and accounting. *)

Deliveries == [at : Nat, amount : Nat, bolus : BOOLEAN]

BucketOf(t) == t \div BucketMs
ActionBuckets == InsulinActionMs \div BucketMs
\* Oldest time the kernel's bucketed window still counts at time t: the start
\* of the oldest bucket of its ring (one bucket wider than the exact window).
KernelWindowStart(t) == (BucketOf(t) - WindowMs \div BucketMs) * BucketMs

RECURSIVE SumFrom(_, _)
\* Total of the deliveries at or after time lo.
SumFrom(h, lo) ==
    IF h = <<>> THEN 0
    ELSE (IF Head(h).at >= lo THEN Head(h).amount ELSE 0) + SumFrom(Tail(h), lo)

RECURSIVE SumInBucket(_, _)
SumInBucket(h, b) ==
    IF h = <<>> THEN 0
    ELSE (IF BucketOf(Head(h).at) = b THEN Head(h).amount ELSE 0) + SumInBucket(Tail(h), b)

RECURSIVE ExactIOBNum(_, _)
\* Exact linear insulin action, scaled by InsulinActionMs:
\* sum of amount x (action - age) over deliveries younger than the action.
ExactIOBNum(h, t) ==
    IF h = <<>> THEN 0
    ELSE (IF t - Head(h).at < InsulinActionMs
          THEN Head(h).amount * (InsulinActionMs - (t - Head(h).at)) ELSE 0)
         + ExactIOBNum(Tail(h), t)

\* Exact PUMP-DAILY-MAX total over (t - window, t].
ExactWindowTotal(h, t) == SumFrom(h, t - WindowMs + 1)

\* The kernel's window total: every bucket overlapping the window.
KernelWindowTotal(h, t) == SumFrom(h, KernelWindowStart(t))

\* The kernel's insulin on board: the bucket i back is weighted
\* (D - i + 1) / D (1 for the current bucket) and rounded up.
BucketWeight(i) == IF i = 0 THEN ActionBuckets ELSE ActionBuckets - i + 1

RECURSIVE KernelIOBFrom(_, _, _)
KernelIOBFrom(h, t, i) ==
    IF i > ActionBuckets \/ i > BucketOf(t) THEN 0
    ELSE (SumInBucket(h, BucketOf(t) - i) * BucketWeight(i) + ActionBuckets - 1) \div ActionBuckets
         + KernelIOBFrom(h, t, i + 1)

KernelIOB(h, t) == KernelIOBFrom(h, t, 0)

RECURSIVE PruneFrom(_, _)
PruneFrom(h, lo) ==
    IF h = <<>> THEN <<>>
    ELSE IF Head(h).at >= lo THEN <<Head(h)>> \o PruneFrom(Tail(h), lo)
    ELSE PruneFrom(Tail(h), lo)

\* Deliveries that can no longer matter are dropped from the ghost.
Prune(h, t) == PruneFrom(h, KernelWindowStart(t))

-----------------------------------------------------------------------------
(* Inputs, outputs and the step record. *)

CmdRecords == [kind : CmdKinds \cup {"none"}, signer : Roles, counter : Nat,
               issued : Int, expires : Int, verdict : VerdictKinds,
               amount : Int, rate : Int, duration : Int, limits : LimitRecords]

NoCmd == [kind |-> "none", signer |-> "none", counter |-> 0, issued |-> 0,
          expires |-> 0, verdict |-> "absent", amount |-> 0, rate |-> 0,
          duration |-> 0, limits |-> ZeroLimits]

InputRecords == [kind : InputKinds, at : Int, hal : HALKinds \cup {"none"},
                 level : Int, glucose : Int, glucoseAt : Int, cmd : CmdRecords,
                 switchMs : Int]

NoInput == [kind |-> "none", at |-> 0, hal |-> "none", level |-> 0,
            glucose |-> 0, glucoseAt |-> 0, cmd |-> NoCmd, switchMs |-> 0]

\* What the kernel asked for: a stop, alerts (by reason), basal and bolus
\* actuations (0.01 U), the decision on a command ("none" if no command), and
\* the answer to a slot-switch request ("ok": switch now; "none" if no request).
OutRecords == [stop : BOOLEAN, alerts : SUBSET Reasons, basal : Nat,
               bolus : Nat, decision : Reasons \cup {"none"},
               switch : Reasons \cup {"none"}]

NoOut == [stop |-> FALSE, alerts |-> {}, basal |-> 0, bolus |-> 0, decision |-> "none",
          switch |-> "none"]

PreRecords == [mode : Modes, now : Nat, lastCounter : Nat, limits : LimitRecords,
               haveGlucose : BOOLEAN, glucose : Nat, glucoseAt : Nat,
               haveBolus : BOOLEAN, lastBolusAt : Nat, reservoir : Nat,
               bolusRunning : BOOLEAN]

\* The state before the current transition, as lastStep keeps it.
Pre == [mode |-> mode, now |-> now, lastCounter |-> lastCounter, limits |-> limits,
        haveGlucose |-> haveGlucose, glucose |-> glucose, glucoseAt |-> glucoseAt,
        haveBolus |-> haveBolus, lastBolusAt |-> lastBolusAt, reservoir |-> reservoir,
        bolusRunning |-> bolusRunning]

\* The kernel state as one record, and a step in progress [k, o].
Cur == [mode |-> mode, now |-> now, lastCounter |-> lastCounter, limits |-> limits,
        haveGlucose |-> haveGlucose, glucose |-> glucose, glucoseAt |-> glucoseAt,
        tempActive |-> tempActive, tempRate |-> tempRate, tempUntil |-> tempUntil,
        basalAccum |-> basalAccum, lastWithheld |-> lastWithheld,
        haveBolus |-> haveBolus, lastBolusAt |-> lastBolusAt,
        reservoir |-> reservoir, history |-> history]

Start == [k |-> Cur, o |-> NoOut]

Stop(r) == [r EXCEPT !.o.stop = TRUE]
Alert(r, why) == [r EXCEPT !.o.alerts = @ \cup {why}]
Decide(r, why) == [r EXCEPT !.o.decision = why]

\* Book a delivery against the reservoir and the history, and actuate it.
Deliver(r, amt, isBolus) ==
    [r EXCEPT !.k.reservoir = @ - amt,
              !.k.history = Append(@, [at |-> r.k.now, amount |-> amt, bolus |-> isBolus]),
              !.o.basal = IF isBolus THEN @ ELSE @ + amt,
              !.o.bolus = IF isBolus THEN @ + amt ELSE @]

-----------------------------------------------------------------------------
(* The kernel's rules. *)

\* PUMP-GLUCOSE-GATE: no insulin without a fresh reading at or above the
\* suspend threshold.
GlucoseGate(k) ==
    IF ~k.haveGlucose \/ k.now - k.glucoseAt > GlucoseStaleMs THEN "glucose-stale"
    ELSE IF k.glucose < k.limits.suspendBelow THEN "glucose-low"
    ELSE "ok"

\* Every rule a delivery must pass, whatever asked for it; the first that
\* refuses names the reason.
DeliveryAllowed(k, amt) ==
    IF k.mode \notin Running THEN HaltReason(k.mode)
    ELSE IF GlucoseGate(k) # "ok" THEN GlucoseGate(k)
    ELSE IF amt > k.reservoir THEN "reservoir-empty"
    ELSE IF KernelIOB(k.history, k.now) + amt > k.limits.maxIOB THEN "iob-over-max"
    ELSE IF KernelWindowTotal(k.history, k.now) + amt > k.limits.maxDaily THEN "daily-over-max"
    ELSE "ok"

BolusSpacing(k) ==
    IF k.haveBolus /\ k.now - k.lastBolusAt < k.limits.minBolusInterval
    THEN "bolus-too-soon" ELSE "ok"

BasalRateOf(k) ==
    IF k.tempActive /\ k.now < k.tempUntil THEN k.tempRate ELSE k.limits.scheduledBasal

\* Advance time to t and deliver the basal that accrued since the last input,
\* the temporary rate up to its end and the scheduled rate after it.
RunBasal(r, t) ==
    LET from == r.k.now
        a == [r EXCEPT !.k.now = t]
    IN IF a.k.mode \notin Running THEN [a EXCEPT !.k.basalAccum = 0]
       ELSE
         LET elapsed == Min({t - from, WindowMs})
             start   == t - elapsed
             tempEnd == IF a.k.tempActive THEN Min({Max({a.k.tempUntil, start}), t}) ELSE start
             acc     == a.k.basalAccum
                        + (IF a.k.tempActive THEN a.k.tempRate * (tempEnd - start) ELSE 0)
                        + a.k.limits.scheduledBasal * (t - tempEnd)
             pulse   == acc \div MsPerHour
             b       == [a EXCEPT !.k.basalAccum = acc % MsPerHour,
                                  !.k.tempActive = @ /\ t < a.k.tempUntil]
             why     == DeliveryAllowed(b.k, pulse)
         IN IF pulse = 0 THEN b
            ELSE IF why # "ok"
                 \* Withheld basal is dropped, not owed; alert once per cause.
                 THEN [(IF why # b.k.lastWithheld THEN Alert(b, why) ELSE b)
                          EXCEPT !.k.lastWithheld = why]
                 ELSE Deliver([b EXCEPT !.k.lastWithheld = "ok"], pulse, FALSE)

\* FAULT-SAFE: stop for good and alert.
EnterFault(r, why) ==
    Alert(Stop([r EXCEPT !.k.mode = ModeNext(@, "fault"), !.k.tempActive = FALSE,
                         !.k.basalAccum = 0]), why)

\* PUMP-FAULT-STOP, PUMP-ALARM-ACK: stop until acknowledged.
EnterAlarm(r, why) ==
    LET a == Alert(Stop(r), why)
    IN IF ModeNext(r.k.mode, "alarm") = NoMode THEN a
       ELSE [a EXCEPT !.k.mode = "alarm", !.k.basalAccum = 0]

\* CMD-EXPIRY.  The rule includes machine arithmetic: the window length
\* c.expires - c.issued is the exact difference for every pair of int64
\* times (kernel/guard computes it without wrap-around, in uint64 once
\* expires > issued).  TLA+ integers are unbounded, so this spec cannot
\* show the kernel does that; the property and fuzz tests of kernel/guard
\* and wire draw the int64 and uint64 edge values for it.
CheckExpiry(c, t) ==
    IF c.expires <= c.issued \/ c.expires - c.issued > MaxCommandValidityMs
    THEN "validity-too-long"
    ELSE IF t < c.issued THEN "not-yet-valid"
    ELSE IF t >= c.expires THEN "expired"
    ELSE "ok"

\* The kernel's exact check of a command's plaintext against its limits.
ExactCheck(k, c) ==
    IF k.mode = "init" THEN [within |-> FALSE, why |-> "mode-forbids"]
    ELSE IF c.kind = "bolus"
         THEN IF c.amount <= 0 THEN [within |-> FALSE, why |-> "param-out-of-range"]
              ELSE [within |-> c.amount <= BolusCap(k.limits), why |-> "ok"]
    ELSE IF c.kind = "set-basal"
         THEN IF c.rate < 0 THEN [within |-> FALSE, why |-> "param-out-of-range"]
              ELSE [within |-> c.rate <= BasalCap(k.limits), why |-> "ok"]
    ELSE IF c.kind = "temp-basal"
         THEN IF c.rate < 0 \/ c.duration < MinTempBasalMs \/ c.duration > MaxTempBasalMs
              THEN [within |-> FALSE, why |-> "param-out-of-range"]
              ELSE [within |-> c.rate <= TempBasalCap(k.limits), why |-> "ok"]
    ELSE [within |-> FALSE, why |-> "unknown-command"]

\* CMD-VERDICT: run only if the verdict says within AND the exact check
\* agrees; a verdict contradicting the exact check is refused with an alert.
ApplyVerdict(v, exact) ==
    IF v = "within"
    THEN IF exact THEN [why |-> "ok", alert |-> FALSE]
         ELSE [why |-> "verdict-mismatch", alert |-> TRUE]
    ELSE IF v = "outside"
    THEN IF exact THEN [why |-> "verdict-mismatch", alert |-> TRUE]
         ELSE [why |-> "over-limit", alert |-> FALSE]
    ELSE [why |-> "no-verdict", alert |-> FALSE]

ExecBolus(r, c) ==
    LET k == r.k IN
    IF k.mode # "idle" THEN Decide(r, HaltReason(k.mode))
    ELSE IF BolusSpacing(k) # "ok" THEN Decide(r, BolusSpacing(k))
    ELSE IF DeliveryAllowed(k, c.amount) # "ok" THEN Decide(r, DeliveryAllowed(k, c.amount))
    ELSE Decide(Deliver([r EXCEPT !.k.mode = ModeNext(k.mode, "bolus"),
                                  !.k.haveBolus = TRUE,
                                  !.k.lastBolusAt = k.now], c.amount, TRUE), "ok")

ExecSetBasal(r, c) ==
    LET k == r.k
        l == [k.limits EXCEPT !.scheduledBasal = c.rate]
    IN IF k.mode \notin {"idle", "delivering", "suspended"} THEN Decide(r, HaltReason(k.mode))
       \* A temporary rate above the new clamp ends now.
       ELSE Decide([r EXCEPT !.k.limits = l,
                             !.k.tempActive = @ /\ ~(k.tempRate > TempBasalCap(l))], "ok")

ExecTempBasal(r, c) ==
    IF r.k.mode \notin Running THEN Decide(r, HaltReason(r.k.mode))
    ELSE Decide([r EXCEPT !.k.tempActive = TRUE, !.k.tempRate = c.rate,
                          !.k.tempUntil = r.k.now + c.duration], "ok")

ExecProgram(r, c) ==
    LET k == r.k
        to == ModeNext(k.mode, "program")
    IN IF ~LimitsInRange(c.limits) THEN Decide(r, "param-out-of-range")
       ELSE IF to = NoMode THEN Decide(r, "mode-forbids")
       ELSE Decide([r EXCEPT !.k.mode = to, !.k.limits = c.limits,
                             !.k.tempActive = @ /\ ~(k.tempRate > TempBasalCap(c.limits))], "ok")

\* A mode-machine event that a command asks for.
ExecModeEvent(r, ev) ==
    LET to == ModeNext(r.k.mode, ev)
    IN IF to = NoMode THEN Decide(r, "mode-forbids")
       ELSE IF ev = "suspend"
            THEN Decide(Stop([r EXCEPT !.k.mode = to, !.k.basalAccum = 0]), "ok")
       ELSE IF ev = "ack"
            THEN Decide([r EXCEPT !.k.mode = to, !.k.lastWithheld = "ok"], "ok")
       ELSE Decide([r EXCEPT !.k.mode = to], "ok")

Execute(r, c) ==
    CASE c.kind = "bolus"             -> ExecBolus(r, c)
      [] c.kind = "set-basal"         -> ExecSetBasal(r, c)
      [] c.kind = "temp-basal"        -> ExecTempBasal(r, c)
      [] c.kind = "cancel-temp-basal" -> Decide([r EXCEPT !.k.tempActive = FALSE], "ok")
      [] c.kind = "suspend"           -> ExecModeEvent(r, "suspend")
      [] c.kind = "resume"            -> ExecModeEvent(r, "resume")
      [] c.kind = "ack-alarm"         -> ExecModeEvent(r, "ack")
      [] c.kind = "program-limits"    -> ExecProgram(r, c)
      [] OTHER                        -> Decide(r, "unknown-command")

VerdictThenExecute(r, c) ==
    LET ex == ExactCheck(r.k, c)
        av == ApplyVerdict(c.verdict, ex.within)
        why == IF av.why = "over-limit"
               THEN IF c.kind = "bolus" THEN "bolus-over-max" ELSE "basal-over-max"
               ELSE av.why
        r2 == IF av.alert THEN Alert(r, why) ELSE r
    IN IF ex.why # "ok" THEN Decide(r, ex.why)
       ELSE IF why # "ok" THEN Decide(r2, why)
       ELSE Execute(r2, c)

\* CMD-AUTH, CMD-REPLAY, CMD-COUNTER-STEP, CMD-EXPIRY, then CMD-VERDICT,
\* then the command.  An admitted counter is consumed even if the command
\* is refused later, an unknown command kind included (step.go admits
\* before it looks at the kind); a counter more than MaxCounterStep above
\* the last is refused before it is consumed, so no single command can
\* exhaust the counter space.
DoCommand(r, c) ==
    IF c.signer = "none" THEN Decide(r, "unauthenticated")
    ELSE IF c.signer # "clinician" THEN Decide(r, "wrong-role")
    ELSE IF c.counter <= r.k.lastCounter THEN Decide(r, "replay")
    ELSE IF c.counter - r.k.lastCounter > MaxCounterStep THEN Decide(r, "counter-jump")
    ELSE LET a == [r EXCEPT !.k.lastCounter = c.counter]
             exp == CheckExpiry(c, a.k.now)
         IN IF exp # "ok" THEN Decide(a, exp)
            ELSE IF c.kind \notin CmdKinds THEN Decide(a, "unknown-command")
            ELSE IF c.kind \in VerdictCmdKinds THEN VerdictThenExecute(a, c)
            ELSE Execute(a, c)

DoGlucose(r, g, at) ==
    LET k == r.k
        wasLow == k.haveGlucose /\ k.glucose < k.limits.suspendBelow
        a == [r EXCEPT !.k.haveGlucose = TRUE, !.k.glucose = g, !.k.glucoseAt = at]
    IN IF at > k.now \/ g <= 0 \/ g > 1000 THEN r
       ELSE IF k.haveGlucose /\ at < k.glucoseAt THEN r
       ELSE IF k.mode # "init" /\ g < k.limits.suspendBelow /\ ~wasLow
            THEN Alert(a, "glucose-low")
       ELSE a

\* PUMP-UPDATE-SWITCH: the answer to a request to switch to the staged
\* firmware slot with a blackout of d ms (kernel/pump switchSafe).  Only an
\* answer: no therapy state changes.  Granted in every mode but Delivering
\* (a bolus is in progress) and Fault (out of service for good).
SwitchAnswer(k, d) ==
    IF d <= 0 \/ d > MaxSwitchMs THEN "switch-duration-out-of-range"
    ELSE IF k.mode = "fault" THEN "faulted"
    ELSE IF k.mode = "delivering" THEN "switch-bolus-in-progress"
    ELSE "ok"

DoSwitch(r, d) == [r EXCEPT !.o.switch = SwitchAnswer(r.k, d)]

DoHAL(r, e, level) ==
    CASE e = "delivery-done" ->
            IF ModeNext(r.k.mode, "done") = NoMode THEN r
            ELSE [r EXCEPT !.k.mode = ModeNext(@, "done")]
      [] e = "occlusion"   -> EnterAlarm(r, "occlusion")
      [] e = "motor-fault" -> EnterFault(r, "motor-fault")
      [] e = "watchdog"    -> EnterFault(r, "watchdog")
      [] e = "reservoir"   ->
            IF level < 0 THEN r
            ELSE LET a == [r EXCEPT !.k.reservoir = level]
                 IN IF level = 0 /\ a.k.mode \in Running
                    THEN EnterAlarm(a, "reservoir-empty") ELSE a
      [] OTHER -> r

-----------------------------------------------------------------------------
(* Initial state and actions. *)

InitPre == [mode |-> "init", now |-> 0, lastCounter |-> 0, limits |-> ZeroLimits,
            haveGlucose |-> FALSE, glucose |-> 0, glucoseAt |-> 0,
            haveBolus |-> FALSE, lastBolusAt |-> 0, reservoir |-> 0,
            bolusRunning |-> FALSE]

Init ==
    /\ mode = "init"
    /\ now = 0
    /\ lastCounter = 0
    /\ limits = ZeroLimits
    /\ haveGlucose = FALSE /\ glucose = 0 /\ glucoseAt = 0
    /\ tempActive = FALSE /\ tempRate = 0 /\ tempUntil = 0
    /\ basalAccum = 0
    /\ lastWithheld = "ok"
    /\ haveBolus = FALSE /\ lastBolusAt = 0
    /\ reservoir = 0
    /\ history = <<>>
    /\ bolusRunning = FALSE
    /\ events = 0
    /\ lastStep = [input |-> NoInput, pre |-> InitPre, out |-> NoOut]

\* The state after a Step whose result is r.
Commit(r, input, ev) ==
    /\ mode' = r.k.mode
    /\ now' = r.k.now
    /\ lastCounter' = r.k.lastCounter
    /\ limits' = r.k.limits
    /\ haveGlucose' = r.k.haveGlucose
    /\ glucose' = r.k.glucose
    /\ glucoseAt' = r.k.glucoseAt
    /\ tempActive' = r.k.tempActive
    /\ tempRate' = r.k.tempRate
    /\ tempUntil' = r.k.tempUntil
    /\ basalAccum' = r.k.basalAccum
    /\ lastWithheld' = r.k.lastWithheld
    /\ haveBolus' = r.k.haveBolus
    /\ lastBolusAt' = r.k.lastBolusAt
    /\ reservoir' = r.k.reservoir
    /\ history' = Prune(r.k.history, r.k.now)
    \* The motor, as the outputs and the HAL tell it: a bolus actuation
    \* starts a run; a stop, or the HAL reporting the delivery done, ends it.
    /\ bolusRunning' = IF r.o.bolus > 0 THEN TRUE
                       ELSE IF r.o.stop \/ (input.kind = "hal" /\ input.hal = "delivery-done")
                       THEN FALSE ELSE bolusRunning
    /\ events' = ev
    /\ lastStep' = [input |-> input, pre |-> Pre, out |-> r.o]

\* Inputs other than ticks arrive at the current time, at most
\* MaxEventsPerTick of them between two ticks.
EventAllowed == events < MaxEventsPerTick

Tick ==
    /\ now + TickMs <= MaxTime
    /\ Commit(RunBasal(Start, now + TickMs),
              [NoInput EXCEPT !.kind = "tick", !.at = now + TickMs], 0)

Glucose ==
    /\ EventAllowed
    /\ \E g \in GlucoseValues :
          Commit(DoGlucose(RunBasal(Start, now), g, now),
                 [NoInput EXCEPT !.kind = "glucose", !.at = now, !.glucose = g,
                                 !.glucoseAt = now], events + 1)

HALEvent(e, level) ==
    /\ EventAllowed
    /\ Commit(DoHAL(RunBasal(Start, now), e, level),
              [NoInput EXCEPT !.kind = "hal", !.at = now, !.hal = e, !.level = level],
              events + 1)

DeliveryDone == HALEvent("delivery-done", 0)
Occlusion == HALEvent("occlusion", 0)
MotorFault == HALEvent("motor-fault", 0)
Watchdog == HALEvent("watchdog", 0)
Reservoir == \E lv \in ReservoirLevels : HALEvent("reservoir", lv)

\* The clock runs backwards: the kernel faults without advancing time.
ClockBack ==
    /\ EventAllowed
    /\ now > 0
    /\ Commit(EnterFault(Start, "clock-went-back"),
              [NoInput EXCEPT !.kind = "clock-back", !.at = now - 1], events + 1)

\* The firmware asks to switch to the staged slot (PUMP-UPDATE-SWITCH).
SwitchRequest ==
    /\ EventAllowed
    /\ \E d \in SwitchDurations :
          Commit(DoSwitch(RunBasal(Start, now), d),
                 [NoInput EXCEPT !.kind = "switch", !.at = now, !.switchMs = d], events + 1)

\* Command parameters by kind; commands that need no verdict carry none.
CmdParams ==
    {[kind |-> "bolus", verdict |-> v, amount |-> a, rate |-> 0, duration |-> 0,
      limits |-> ZeroLimits] : v \in Verdicts, a \in BolusAmounts}
    \cup {[kind |-> "set-basal", verdict |-> v, amount |-> 0, rate |-> x, duration |-> 0,
           limits |-> ZeroLimits] : v \in Verdicts, x \in BasalRates}
    \cup {[kind |-> "temp-basal", verdict |-> v, amount |-> 0, rate |-> x, duration |-> d,
           limits |-> ZeroLimits] : v \in Verdicts, x \in TempRates, d \in TempDurations}
    \cup {[kind |-> kd, verdict |-> "absent", amount |-> 0, rate |-> 0, duration |-> 0,
           limits |-> ZeroLimits] : kd \in {"cancel-temp-basal", "suspend", "resume", "ack-alarm"}}
    \cup {[kind |-> "program-limits", verdict |-> "absent", amount |-> 0, rate |-> 0,
           duration |-> 0, limits |-> l] : l \in LimitSets}

\* Envelopes: any signer; a replay of the last counter, the next one, the
\* one exactly MaxCounterStep above the last (admitted) or one more (a jump,
\* refused: CMD-COUNTER-STEP) (counter abstraction); issue time and validity
\* from the constants.
Counters == {lastCounter, lastCounter + 1, lastCounter + MaxCounterStep, lastCounter + MaxCounterStep + 1}
Headers ==
    {[signer |-> s, counter |-> n, issued |-> now - a, expires |-> now - a + v] :
        s \in Signers, n \in Counters, a \in IssueAges, v \in ValidFor}

MkCmd(h, p) ==
    [kind |-> p.kind, signer |-> h.signer, counter |-> h.counter, issued |-> h.issued,
     expires |-> h.expires, verdict |-> p.verdict, amount |-> p.amount, rate |-> p.rate,
     duration |-> p.duration, limits |-> p.limits]

CommandInput(c) == [NoInput EXCEPT !.kind = "command", !.at = now, !.cmd = c]

CommandStep(c) ==
    /\ EventAllowed
    /\ Commit(DoCommand(RunBasal(Start, now), c), CommandInput(c), events + 1)

Command == \E h \in Headers, p \in CmdParams : CommandStep(MkCmd(h, p))

Next ==
    \/ Tick
    \/ Glucose
    \/ DeliveryDone \/ Occlusion \/ MotorFault \/ Watchdog \/ Reservoir
    \/ ClockBack
    \/ SwitchRequest
    \/ Command

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants: one per requirement ID (model/pumpinv checks the same IDs   *)
(* on the Go kernel).  Inp, P and Out are the last transition's input, the  *)
(* state before it, and the kernel's outputs.                               *)

Inp == lastStep.input
P == lastStep.pre
Out == lastStep.out
Delivered == Out.basal + Out.bolus
Accepted == Out.decision = "ok"
HaltedMode(m) == m \notin Running
BasalRateNow == BasalRateOf(Cur)

\* The exact comparison the relay makes homomorphically, on the limits in
\* force before the command.
ExactWithin(c, l) ==
    CASE c.kind = "bolus"      -> 0 < c.amount /\ c.amount <= BolusCap(l)
      [] c.kind = "set-basal"  -> 0 <= c.rate /\ c.rate <= BasalCap(l)
      [] c.kind = "temp-basal" -> 0 <= c.rate /\ c.rate <= TempBasalCap(l)
      [] OTHER                 -> FALSE

\* A well-formed verdict-carrying command that passed admission, whose
\* verdict states the opposite of the exact check.
Contradicts(c, pre) ==
    /\ c.kind \in VerdictCmdKinds
    /\ pre.mode # "init"
    /\ c.signer = "clinician"
    /\ c.counter > pre.lastCounter
    /\ c.counter - pre.lastCounter <= MaxCounterStep
    /\ CheckExpiry(c, pre.now) = "ok"
    /\ IF c.kind = "bolus" THEN c.amount > 0 ELSE c.rate >= 0
    /\ c.kind = "temp-basal" => MinTempBasalMs <= c.duration /\ c.duration <= MaxTempBasalMs
    /\ \/ c.verdict = "within" /\ ~ExactWithin(c, pre.limits)
       \/ c.verdict = "outside" /\ ExactWithin(c, pre.limits)

TypeOK ==
    /\ mode \in Modes
    /\ now \in 0..MaxTime
    /\ lastCounter \in Nat
    /\ limits \in LimitRecords
    /\ haveGlucose \in BOOLEAN /\ glucose \in Nat /\ glucoseAt \in 0..MaxTime
    /\ tempActive \in BOOLEAN /\ tempRate \in Nat /\ tempUntil \in Nat
    /\ basalAccum \in 0..(MsPerHour - 1)
    /\ lastWithheld \in Reasons
    /\ haveBolus \in BOOLEAN /\ lastBolusAt \in 0..MaxTime
    /\ reservoir \in Nat
    /\ history \in Seq(Deliveries)
    /\ bolusRunning \in BOOLEAN
    /\ events \in 0..MaxEventsPerTick
    /\ lastStep \in [input : InputRecords, pre : PreRecords, out : OutRecords]

\* PUMP-MAX-BOLUS
Inv_PUMP_MAX_BOLUS ==
    /\ Out.bolus <= BolusCap(P.limits)
    /\ \A j \in 1..Len(history) : history[j].bolus => history[j].amount <= HardMaxBolus

\* PUMP-MAX-BASAL
Inv_PUMP_MAX_BASAL ==
    /\ ~HaltedMode(mode) =>
          /\ BasalRateNow \in 0..BasalCap(limits)
          /\ (tempActive /\ now < tempUntil) => tempRate <= 3 * limits.scheduledBasal
    \* Basal actually delivered never outruns the ceiling over the elapsed time
    \* (plus less than one pulse of carry-over).
    /\ Out.basal * MsPerHour < BasalCap(P.limits) * (now - P.now) + MsPerHour

\* PUMP-MAX-IOB
Inv_PUMP_MAX_IOB ==
    Delivered > 0 => ExactIOBNum(history, now) <= P.limits.maxIOB * InsulinActionMs

\* PUMP-BOLUS-INTERVAL
Inv_PUMP_BOLUS_INTERVAL ==
    Out.bolus > 0 => (~P.haveBolus \/ now - P.lastBolusAt >= P.limits.minBolusInterval)

\* PUMP-DAILY-MAX
Inv_PUMP_DAILY_MAX ==
    Delivered > 0 => ExactWindowTotal(history, now) <= P.limits.maxDaily

\* PUMP-HALT
Inv_PUMP_HALT ==
    /\ Delivered > 0 => ~HaltedMode(P.mode)
    /\ Out.bolus > 0 => P.mode = "idle"
    \* A halted pump takes no new therapy.
    /\ (Accepted /\ Inp.cmd.kind = "bolus") => P.mode = "idle"
    /\ (Accepted /\ Inp.cmd.kind = "temp-basal") => ~HaltedMode(P.mode)
    /\ HaltedMode(mode) => basalAccum = 0

\* PUMP-GLUCOSE-GATE
Inv_PUMP_GLUCOSE_GATE ==
    Delivered > 0 =>
        /\ P.haveGlucose
        /\ now - P.glucoseAt <= GlucoseStaleMs
        /\ P.glucose >= P.limits.suspendBelow

\* PUMP-RESERVOIR
Inv_PUMP_RESERVOIR ==
    /\ reservoir >= 0
    /\ Delivered <= P.reservoir
    /\ (Inp.kind = "hal" /\ Inp.hal = "reservoir" /\ Inp.level = 0 /\ P.mode \in Running)
          => (mode = "alarm" /\ Out.stop)

\* PUMP-FAULT-STOP
Inv_PUMP_FAULT_STOP ==
    (Inp.kind = "hal" /\ Inp.hal \in {"occlusion", "motor-fault"} /\ P.mode # "init")
        => /\ mode \in {"alarm", "fault"}
           /\ Out.stop
           /\ Delivered = 0

\* PUMP-ALARM-ACK
Inv_PUMP_ALARM_ACK ==
    (P.mode = "alarm" /\ mode \notin {"alarm", "fault"})
        => (Inp.kind = "command" /\ Inp.cmd.kind = "ack-alarm" /\ Accepted)

\* PUMP-LIMITS-RANGE
Inv_PUMP_LIMITS_RANGE ==
    mode \notin {"init", "fault"} => LimitsInRange(limits)

\* Every slot-switch request, and only a request, gets an answer; a granted
\* switch never interrupts a bolus: no bolus the motor was asked for is still
\* running (neither reported done nor stopped), the pump is not faulted, the
\* declared blackout is within (0, MaxSwitchMs], and the grant stops and
\* delivers nothing and leaves the mode as it was.
\* PUMP-UPDATE-SWITCH
Inv_PUMP_UPDATE_SWITCH ==
    /\ (Inp.kind = "switch") = (Out.switch # "none")
    /\ Out.switch = "ok" =>
          /\ ~P.bolusRunning
          /\ P.mode # "fault" /\ mode # "fault"
          /\ 0 < Inp.switchMs /\ Inp.switchMs <= MaxSwitchMs
          /\ ~Out.stop /\ Delivered = 0 /\ mode = P.mode

\* A temporary basal runs for a duration in [MinTempBasalMs, MaxTempBasalMs]:
\* an accepted one declared such a duration, and no temporary rate is ever
\* in force beyond MaxTempBasalMs from now.
\* PUMP-TEMP-DURATION
Inv_PUMP_TEMP_DURATION ==
    /\ tempActive => tempUntil - now <= MaxTempBasalMs
    /\ (Accepted /\ Inp.cmd.kind = "temp-basal")
          => MinTempBasalMs <= Inp.cmd.duration /\ Inp.cmd.duration <= MaxTempBasalMs

\* CMD-AUTH
Inv_CMD_AUTH ==
    /\ Accepted => (Inp.kind = "command" /\ Inp.cmd.signer = "clinician")
    /\ lastCounter # P.lastCounter => (Inp.kind = "command" /\ Inp.cmd.signer = "clinician")

\* CMD-REPLAY
Inv_CMD_REPLAY ==
    /\ lastCounter >= P.lastCounter
    /\ Accepted => Inp.cmd.counter > P.lastCounter

\* No step moves the counter by more than MaxCounterStep; an accepted
\* command's counter is within the step above the previous one; a refused
\* jump consumes nothing.  So the counter space (2^64 in the kernel) cannot
\* be exhausted by one command, and a controller that lost its counter
\* resumes from the implant's last consumed counter + 1.
\* CMD-COUNTER-STEP
Inv_CMD_COUNTER_STEP ==
    /\ lastCounter - P.lastCounter <= MaxCounterStep
    /\ Accepted => Inp.cmd.counter - P.lastCounter <= MaxCounterStep
    /\ Out.decision = "counter-jump" => lastCounter = P.lastCounter

\* Machine arithmetic is part of the rule (no wrap-around: the window
\* length is computed exactly for every int64 pair); TLA+ integers are
\* unbounded, so the kernel's property and fuzz tests check that part.
\* CMD-EXPIRY
Inv_CMD_EXPIRY ==
    Accepted =>
        /\ Inp.cmd.issued <= Inp.at
        /\ Inp.at < Inp.cmd.expires
        /\ Inp.cmd.expires - Inp.cmd.issued <= MaxCommandValidityMs

\* CMD-VERDICT
Inv_CMD_VERDICT ==
    /\ (Accepted /\ Inp.cmd.kind \in VerdictCmdKinds)
          => (Inp.cmd.verdict = "within" /\ ExactWithin(Inp.cmd, P.limits))
    /\ (Inp.kind = "command" /\ Contradicts(Inp.cmd, P))
          => "verdict-mismatch" \in Out.alerts

\* FAULT-SAFE
Inv_FAULT_SAFE ==
    /\ (Inp.kind = "clock-back" \/ (Inp.kind = "hal" /\ Inp.hal \in {"watchdog", "motor-fault"}))
          => /\ mode = "fault"
             /\ Out.stop
             /\ Out.alerts # {}
             /\ Delivered = 0
    /\ P.mode = "fault" => mode = "fault"
    /\ mode = "fault" => (~tempActive /\ basalAccum = 0)

-----------------------------------------------------------------------------
(* Liveness (spec/InsulinPumpLiveness.cfg).                                *)
(*                                                                         *)
(* ValidBolus is the clinician sending a fresh, authentic, unexpired bolus *)
(* within the bolus cap with a "within" verdict.  BolusReady: the pump is  *)
(* Idle, such a command can still be sent, and every valid bolus size      *)
(* passes every delivery rule.  Under weak fairness of ValidBolus, a ready *)
(* pump delivers a bolus, unless some other input first takes readiness    *)
(* away (a tick, a low reading, a suspend, an occlusion, ...).  A kernel   *)
(* that refused a valid in-limit bolus in Idle would violate it.           *)

ValidLengths == {v \in ValidFor : 0 < v /\ v <= MaxCommandValidityMs}

ValidBolusCmds ==
    {[kind |-> "bolus", signer |-> "clinician", counter |-> lastCounter + 1,
      issued |-> now, expires |-> now + v, verdict |-> "within", amount |-> a,
      rate |-> 0, duration |-> 0, limits |-> ZeroLimits] :
        v \in ValidLengths, a \in {x \in BolusAmounts : 0 < x /\ x <= BolusCap(limits)}}

ValidBolus == \E c \in ValidBolusCmds : CommandStep(c)

BolusReady ==
    /\ mode = "idle"
    /\ EventAllowed
    /\ ValidBolusCmds # {}
    /\ \A c \in ValidBolusCmds :
          LET k == RunBasal(Start, now).k
          IN BolusSpacing(k) = "ok" /\ DeliveryAllowed(k, c.amount) = "ok"

WasValidBolus ==
    /\ Inp.kind = "command" /\ Inp.cmd.kind = "bolus" /\ Inp.cmd.signer = "clinician"
    /\ Inp.cmd.verdict = "within" /\ Inp.cmd.counter = P.lastCounter + 1
    /\ Inp.cmd.issued = P.now /\ Inp.cmd.expires - Inp.cmd.issued \in ValidLengths
    /\ 0 < Inp.cmd.amount /\ Inp.cmd.amount <= BolusCap(P.limits)

LiveSpec == Spec /\ WF_vars(ValidBolus)

Liveness_BolusDelivered ==
    BolusReady ~> (Out.bolus > 0 \/ (~BolusReady /\ ~WasValidBolus))

=============================================================================
