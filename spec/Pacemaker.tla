------------------------------ MODULE Pacemaker ------------------------------
(***************************************************************************)
(* The pacemaker safety kernel (kernel/pacer, kernel/guard) at the level   *)
(* of its inputs: time advancing to the next tick or the kernel's wake-up, *)
(* sensed atrial and ventricular events, authenticated programming         *)
(* commands with the relay's verdict, HAL faults, and firmware slot-switch *)
(* requests.  Time is in ms, rates in ppm; intervals are checked with      *)
(* products (I * LRL <= 60000, I * URL >= 60000) as in model/pacerinv.     *)
(*                                                                         *)
(* A granted slot switch starts a blackout: the firmware reboots into the  *)
(* other image and neither paces nor steps the kernel until it resumes at  *)
(* the declared time (Resume), with the kernel's state restored.           *)
(*                                                                         *)
(* The relay compares a program's LRL and URL homomorphically with the    *)
(* patient's encrypted limits (a minimum LRL and a maximum URL set by the  *)
(* clinician); the kernel makes the same comparison exactly (the verdict   *)
(* rule), then its own Table 7 and cross-parameter checks.                 *)
(*                                                                         *)
(* Modes: Off, VVI, DDD (AAI, AOO, VOO, DOO behave as the single- or dual- *)
(* chamber case of these).  Operating states: por, permanent, fault.       *)
(* lastStep records the last input and the ghost facts the invariants need *)
(* so that properties of transitions are state predicates.                 *)
(***************************************************************************)
EXTENDS Naturals, Integers, FiniteSets

CONSTANTS
    TickMs,        \* model time step
    MaxTime,       \* horizon
    Programs,      \* programs a command may carry (records, see Params)
    Verdicts,      \* verdicts a command may carry
    LimitSets,     \* patient limits a set-limits command may carry
    VBlankMs,      \* ventricular blanking after an atrial pace
    MaxSwitchMs,   \* longest switch-over blackout a switch may declare
    SwitchDurations, \* blackouts a slot-switch request may declare
    MaxEventsPerTick, \* inputs other than time advances between two of them
    MaxCommands,   \* bound on the counter (CommandBound, a TLC constraint)
    MaxCounterStep \* CMD-COUNTER-STEP: most one command may move the counter (kernel: 2^20)

VARIABLES
    op,            \* "por", "permanent", "fault"
    active,        \* parameters in force
    perm,          \* permanent program
    pending,       \* program waiting for a safe point, or NoProgram
    now, lastV, lastA, lastAPace, avPending,
    lastCounter,   \* guard.State
    limits,        \* the patient's limits [minLRL, maxURL]
    blackout,      \* a granted slot switch is under way
    resumeAt,      \* when the firmware resumes after it (0 without one)
    events,        \* inputs since the last time advance (bounds interleavings)
    lastStep       \* ghost: facts about the last transition

vars == <<op, active, perm, pending, now, lastV, lastA, lastAPace, avPending, lastCounter, limits,
          blackout, resumeAt, events, lastStep>>

-----------------------------------------------------------------------------
MsPerMinute == 60000
Modes == {"Off", "VVI", "DDD"}
NoProgram == [mode |-> "none"]

\* PACEMAKER spec Table 7 (subset of fields modelled here).
LRLValues == {30, 35, 40, 45} \cup (50..89) \cup {90 + 5 * k : k \in 0..17}
URLValues == {50 + 5 * k : k \in 0..25}
AVValues == {70 + 10 * k : k \in 0..23}
RefractoryValues == {150 + 10 * k : k \in 0..35}
AmpValues == {0} \cup (5..32) \cup {35 + 5 * k : k \in 0..7}

Programmable(p) ==
    /\ p.mode \in Modes
    /\ p.lrl \in LRLValues /\ p.url \in URLValues /\ p.av \in AVValues
    /\ p.vrp \in RefractoryValues /\ p.pvarp \in RefractoryValues
    /\ p.vamp \in AmpValues

\* Some whole-ms interval meets both rates; refractory periods fit.
Fits(ms, p) == (ms + 1) * p.lrl <= MsPerMinute
URI(p) == (MsPerMinute + p.url - 1) \div p.url
LRI(p) == MsPerMinute \div p.lrl
Pacable(p) ==
    /\ p.lrl <= p.url /\ URI(p) * p.lrl <= MsPerMinute
    /\ p.mode # "Off" => p.vamp > 0
    /\ p.mode \in {"VVI", "DDD"} => Fits(p.vrp, p)
    /\ p.mode = "DDD" => Fits(p.av + p.pvarp, p)

\* Patient limits: a Table 7 LRL below a Table 7 URL; the full range at power-on.
FullLimits == [minLRL |-> 30, maxURL |-> 175]
LimitsValid(l) == l.minLRL \in LRLValues /\ l.maxURL \in URLValues /\ l.minLRL < l.maxURL
\* The relay's homomorphic comparison, computed exactly (kernel exactCheck).
WithinLimits(p, l) == p.lrl >= l.minLRL /\ p.url <= l.maxURL
\* Every stored program (permanent, pending) lies within l.
StoredWithin(l) == WithinLimits(perm, l) /\ (pending # NoProgram => WithinLimits(pending, l))

Safe == [mode |-> "VVI", lrl |-> 65, url |-> 120, av |-> 150, vrp |-> 320, pvarp |-> 250, vamp |-> 50]

ASSUME Programmable(Safe) /\ Pacable(Safe) /\ TickMs > 0 /\ VBlankMs >= 0
ASSUME MaxSwitchMs > 0 /\ SwitchDurations \subseteq Nat /\ MaxCommands \in Nat
ASSUME MaxEventsPerTick \in Nat /\ MaxCounterStep \in Nat /\ MaxCounterStep > 0
ASSUME LimitsValid(FullLimits) /\ WithinLimits(Safe, FullLimits)

-----------------------------------------------------------------------------
(* Timing, as kernel/pacer/state.go. *)

\* The ventricular due time, given the last atrial event and the AV-delay
\* state (Resume asks it after a late atrial pace).
VDueAt(la, avp) ==
    CASE active.mode = "VVI" -> lastV + LRI(active)
      [] active.mode = "DDD" /\ avp ->
            LET d == IF la + active.av < lastV + LRI(active)
                     THEN la + active.av ELSE lastV + LRI(active)
            IN IF d < lastV + URI(active) THEN lastV + URI(active) ELSE d
      [] OTHER -> -1
ADue == IF active.mode = "DDD" /\ ~avPending THEN lastV + LRI(active) - active.av ELSE -1
VDue == VDueAt(lastA, avPending)

\* The lower-rate deadline of the rate chamber (the ventricle in VVI and
\* DDD): its next event comes no later (kernel/pacer escapeDeadline).
EscapeDeadline == lastV + LRI(active)

Wake == LET c == {t \in {ADue, VDue} : t > now} IN
        IF c = {} THEN now + TickMs ELSE CHOOSE t \in c : \A u \in c : t <= u

NoFacts == [paced |-> "none", interval |-> 0, vInterval |-> 0, refractory |-> FALSE,
            changed |-> FALSE, safePoint |-> TRUE, fault |-> FALSE, accepted |-> FALSE,
            signed |-> TRUE, fresh |-> TRUE, inStep |-> TRUE, consumed |-> 0,
            inTime |-> TRUE, verdictOk |-> TRUE,
            inLimits |-> TRUE, switch |-> "none", switchMs |-> 0, pre |-> Safe]

Init ==
    /\ op = "por" /\ active = Safe /\ perm = Safe /\ pending = NoProgram
    /\ now = 0 /\ lastV = 0 /\ lastA = 0 /\ lastAPace = 0 /\ avPending = FALSE
    /\ lastCounter = 0
    /\ limits = FullLimits
    /\ blackout = FALSE /\ resumeAt = 0
    /\ events = 0
    /\ lastStep = NoFacts

\* A cycle start in the ventricle: pending programs take effect here.
Apply == IF pending # NoProgram THEN pending ELSE active
PermApply == IF pending # NoProgram THEN pending ELSE perm

\* Time advances to the next tick or wake-up; due paces are delivered.
Tick ==
    /\ now < MaxTime
    /\ LET t == IF Wake < now + TickMs THEN Wake ELSE now + TickMs IN
       IF active.mode = "DDD" /\ ADue # -1 /\ ADue <= t THEN
            /\ now' = t /\ lastA' = t /\ lastAPace' = t /\ avPending' = TRUE
            /\ UNCHANGED <<op, active, perm, pending, lastV, lastCounter, limits>>
            /\ lastStep' = [NoFacts EXCEPT !.paced = "A", !.pre = active]
       ELSE IF active.mode # "Off" /\ VDue # -1 /\ VDue <= t THEN
            /\ now' = t /\ lastV' = t /\ avPending' = FALSE
            /\ active' = Apply /\ perm' = PermApply /\ pending' = NoProgram
            /\ op' = IF pending # NoProgram THEN "permanent" ELSE op
            /\ UNCHANGED <<lastA, lastAPace, lastCounter, limits>>
            /\ lastStep' = [NoFacts EXCEPT !.paced = "V", !.vInterval = t - lastV,
                            !.changed = (Apply # active), !.pre = active]
       ELSE /\ now' = t
            /\ UNCHANGED <<op, active, perm, pending, lastV, lastA, lastAPace, avPending, lastCounter, limits>>
            /\ lastStep' = [NoFacts EXCEPT !.pre = active]

VRefractory == active.mode \notin {"VVI", "DDD"} \/ now - lastV < active.vrp
               \/ (active.mode = "DDD" /\ now - lastAPace < VBlankMs)
ARefractory == active.mode # "DDD" \/ avPending \/ now - lastV < active.pvarp

SenseV ==
    /\ IF VRefractory
       THEN /\ UNCHANGED <<op, active, perm, pending, now, lastV, lastA, lastAPace, avPending, lastCounter, limits>>
            /\ lastStep' = [NoFacts EXCEPT !.refractory = TRUE, !.pre = active]
       ELSE /\ lastV' = now /\ avPending' = FALSE
            /\ active' = Apply /\ perm' = PermApply /\ pending' = NoProgram
            /\ op' = IF pending # NoProgram THEN "permanent" ELSE op
            /\ UNCHANGED <<now, lastA, lastAPace, lastCounter, limits>>
            /\ lastStep' = [NoFacts EXCEPT !.changed = (Apply # active), !.pre = active]

SenseA ==
    /\ IF ARefractory
       THEN /\ UNCHANGED <<op, active, perm, pending, now, lastV, lastA, lastAPace, avPending, lastCounter, limits>>
            /\ lastStep' = [NoFacts EXCEPT !.refractory = TRUE, !.pre = active]
       ELSE /\ lastA' = now /\ avPending' = TRUE
            /\ UNCHANGED <<op, active, perm, pending, now, lastV, lastAPace, lastCounter, limits>>
            /\ lastStep' = [NoFacts EXCEPT !.pre = active]

\* A command's counter, as its distance d above the last consumed one: a
\* replay (0), the next (1), exactly the step (admitted) or one more (a
\* jump).  CMD-COUNTER-STEP.
CounterOffsets == {0, 1, MaxCounterStep, MaxCounterStep + 1}

\* guard.Admit: signed by the clinician, fresh (d > 0) and within the step
\* consume the counter (CMD-REPLAY, CMD-COUNTER-STEP); a jump is refused
\* without consuming it.
Consumed(signed, d) == IF signed /\ 0 < d /\ d <= MaxCounterStep THEN d ELSE 0

\* A command: admitted (guard.Admit) only if signed by the clinician, fresh,
\* within the counter step and in time; then taken only if the verdict
\* agrees with the exact check (the patient's limits) and the program
\* passes Table 7 and the cross-parameter rules, which the relay cannot
\* check.
Command(p, v, signed, d, inTime) ==
    LET exact == WithinLimits(p, limits)
        fresh == d > 0
        inStep == d <= MaxCounterStep
        ok == signed /\ fresh /\ inStep /\ inTime /\ op # "fault" /\ v = "within" /\ exact
              /\ Programmable(p) /\ Pacable(p)
    IN /\ pending' = IF ok THEN p ELSE pending
       /\ lastCounter' = lastCounter + Consumed(signed, d)
       /\ UNCHANGED <<op, active, perm, now, lastV, lastA, lastAPace, avPending, limits>>
       /\ lastStep' = [NoFacts EXCEPT !.accepted = ok, !.signed = signed, !.fresh = fresh,
                       !.inStep = inStep, !.consumed = Consumed(signed, d),
                       !.inTime = inTime, !.verdictOk = (v = "within" /\ exact),
                       !.inLimits = exact, !.pre = active]

\* New patient limits: no verdict; taken at once if valid and every stored
\* program lies within them (therapy never changes to fit new limits).
SetLimits(l, signed, d, inTime) ==
    LET fresh == d > 0
        inStep == d <= MaxCounterStep
        ok == signed /\ fresh /\ inStep /\ inTime /\ op # "fault" /\ LimitsValid(l) /\ StoredWithin(l)
    IN /\ limits' = IF ok THEN l ELSE limits
       /\ lastCounter' = lastCounter + Consumed(signed, d)
       /\ UNCHANGED <<op, active, perm, pending, now, lastV, lastA, lastAPace, avPending>>
       /\ lastStep' = [NoFacts EXCEPT !.accepted = ok, !.signed = signed, !.fresh = fresh,
                       !.inStep = inStep, !.consumed = Consumed(signed, d),
                       !.inTime = inTime, !.pre = active]

Fault ==
    /\ op' = "fault" /\ active' = Safe /\ pending' = NoProgram
    /\ UNCHANGED <<perm, now, lastV, lastA, lastAPace, avPending, lastCounter, limits>>
    /\ lastStep' = [NoFacts EXCEPT !.fault = TRUE, !.pre = active]

\* PACE-UPDATE-SWITCH: the answer to a request to switch to the staged
\* firmware slot with a blackout of d ms (kernel/pacer switchSafe).
SwitchAnswer(d) ==
    IF d = 0 \/ d > MaxSwitchMs THEN "switch-duration-out-of-range"
    ELSE IF op = "fault" THEN "faulted"
    ELSE IF active.mode = "Off" THEN "switch-pacing-off"
    ELSE IF now + d > EscapeDeadline THEN "switch-escape-deadline"
    ELSE "ok"

\* A grant changes no therapy state; it starts the blackout.  Requests come
\* only before the horizon, as ticks do (the blackout moves time on).
SwitchRequest(d) ==
    LET ok == SwitchAnswer(d) = "ok" IN
    /\ now < MaxTime
    /\ blackout' = ok
    /\ resumeAt' = IF ok THEN now + d ELSE 0
    /\ UNCHANGED <<op, active, perm, pending, now, lastV, lastA, lastAPace, avPending, lastCounter, limits>>
    /\ lastStep' = [NoFacts EXCEPT !.switch = SwitchAnswer(d), !.switchMs = d, !.pre = active]

\* The first Step after the blackout: time jumps to resumeAt and every pace
\* that fell due meanwhile is delivered late, the atrial one first; in DDD a
\* late atrial pace starts an AV delay that ends no later than the
\* lower-rate deadline, so both may come at once.
Resume ==
    LET t == resumeAt
        paceA == active.mode = "DDD" /\ ADue # -1 /\ ADue <= t
        la == IF paceA THEN t ELSE lastA
        avp == paceA \/ avPending
        vd == VDueAt(la, avp)
        paceV == active.mode # "Off" /\ vd # -1 /\ vd <= t
    IN /\ now' = t /\ blackout' = FALSE /\ resumeAt' = 0
       /\ lastA' = la /\ lastAPace' = IF paceA THEN t ELSE lastAPace
       /\ IF paceV
          THEN /\ lastV' = t /\ avPending' = FALSE
               /\ active' = Apply /\ perm' = PermApply /\ pending' = NoProgram
               /\ op' = IF pending # NoProgram THEN "permanent" ELSE op
          ELSE /\ avPending' = avp
               /\ UNCHANGED <<op, active, perm, pending, lastV>>
       /\ UNCHANGED <<lastCounter, limits>>
       /\ lastStep' = [NoFacts EXCEPT !.paced = IF paceV THEN "V" ELSE IF paceA THEN "A" ELSE "none",
                        !.vInterval = IF paceV THEN t - lastV ELSE 0,
                        !.changed = (paceV /\ Apply # active), !.pre = active]

\* Inputs at the current time (model/pacer: at most PerTick between two
\* time advances).
Event ==
    \/ SenseV
    \/ SenseA
    \/ \E p \in Programs, v \in Verdicts, s \in BOOLEAN, d \in CounterOffsets, i \in BOOLEAN : Command(p, v, s, d, i)
    \/ \E l \in LimitSets, s \in BOOLEAN, d \in CounterOffsets, i \in BOOLEAN : SetLimits(l, s, d, i)
    \/ Fault

\* The blackouts a request may declare: the constants, and the two around
\* the deadline (ending exactly at it, and one ms after it), as model/pacer
\* offers them.
SwitchOffers ==
    SwitchDurations \cup ({EscapeDeadline - now, EscapeDeadline - now + 1} \cap 1..MaxSwitchMs + 1)

\* During a blackout nothing happens but the resumption.
Next ==
    \/ ~blackout /\ Tick /\ events' = 0 /\ UNCHANGED <<blackout, resumeAt>>
    \/ ~blackout /\ events < MaxEventsPerTick /\ events' = events + 1
       /\ \/ Event /\ UNCHANGED <<blackout, resumeAt>>
          \/ \E d \in SwitchOffers : SwitchRequest(d)
    \/ blackout /\ Resume /\ events' = 0

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants, one per requirement ID. *)

\* PACE-PARAM-PROGRAMMABLE: every program in force or waiting is a Table 7 value.
Inv_PACE_PARAM_PROGRAMMABLE ==
    /\ Programmable(active) /\ Programmable(perm)
    /\ pending # NoProgram => Programmable(pending)

\* PACE-CROSS-PARAM: and a pacable combination.
Inv_PACE_CROSS_PARAM ==
    /\ Pacable(active) /\ Pacable(perm)
    /\ pending # NoProgram => Pacable(pending)

\* PACE-LRL: no ventricular interval longer than 60000/LRL ms, and the
\* kernel is never past its lower-rate deadline.
Inv_PACE_LRL ==
    /\ lastStep.paced = "V" => lastStep.vInterval * lastStep.pre.lrl <= MsPerMinute
    /\ active.mode # "Off" => (now - lastV) * active.lrl <= MsPerMinute

\* PACE-URL: no ventricular pace sooner than 60000/URL ms after the last
\* ventricular event.
Inv_PACE_URL ==
    lastStep.paced = "V" => lastStep.vInterval * lastStep.pre.url >= MsPerMinute

\* PACE-REFRACTORY: a refractory sense changes nothing but the ghost.
Inv_PACE_REFRACTORY ==
    lastStep.refractory => lastStep.paced = "none" /\ ~lastStep.changed

\* PACE-SAFE-POINT: parameters change only at a ventricular cycle start, never
\* inside an AV delay, or by a fault.
Inv_PACE_SAFE_POINT ==
    (active # lastStep.pre) => (lastStep.fault \/ (lastStep.changed /\ ~avPending))

\* PACE-FAULT-SAFE: a fault leaves the kernel in fault with the safe VVI 65
\* setting; power-on reset runs it too.
Inv_PACE_FAULT_SAFE ==
    /\ lastStep.fault => op = "fault" /\ active = Safe
    /\ op \in {"por", "fault"} => active = Safe

\* PACE-PATIENT-LIMITS: a program is accepted only if its LRL is not below
\* the patient's minimum LRL and its URL not above the maximum URL then in
\* force; the limits are valid, and every stored program lies within them
\* (limits that would exclude one are refused).
Inv_PACE_PATIENT_LIMITS ==
    /\ lastStep.accepted => lastStep.inLimits
    /\ LimitsValid(limits)
    /\ StoredWithin(limits)

\* CMD-AUTH, CMD-REPLAY, CMD-COUNTER-STEP, CMD-EXPIRY, CMD-VERDICT: an
\* accepted command was signed by the clinician, fresh, within the counter
\* step of the previous one, in time, and its verdict agreed; and no step
\* moves the counter by more than MaxCounterStep, so no single command can
\* exhaust the counter space (a controller that lost its counter resumes
\* from the implant's last consumed counter + 1).  CMD-EXPIRY includes
\* machine arithmetic (no wrap-around: the window length is computed
\* exactly for every int64 pair); TLA+ integers are unbounded, so the
\* kernel's property and fuzz tests check that part.
Inv_CMD_AUTH == lastStep.accepted => lastStep.signed
Inv_CMD_REPLAY == lastStep.accepted => lastStep.fresh
Inv_CMD_COUNTER_STEP ==
    /\ lastStep.accepted => lastStep.inStep
    /\ lastStep.consumed <= MaxCounterStep
Inv_CMD_EXPIRY == lastStep.accepted => lastStep.inTime
Inv_CMD_VERDICT == lastStep.accepted => lastStep.verdictOk

\* While a granted slot switch is under way, backup pacing is kept within
\* the lower-rate interval: pacing resumes no later than 60000/LRL ms after
\* the last ventricular event, pacing is on, and the kernel is not in
\* fault; a granted blackout is within (0, MaxSwitchMs].  (Inv_PACE_LRL on
\* the Resume step shows the resumption is then on time.)
\* PACE-UPDATE-SWITCH
Inv_PACE_UPDATE_SWITCH ==
    /\ blackout => /\ (resumeAt - lastV) * active.lrl <= MsPerMinute
                   /\ active.mode # "Off" /\ op # "fault"
    /\ lastStep.switch = "ok" => blackout /\ 0 < lastStep.switchMs /\ lastStep.switchMs <= MaxSwitchMs

\* In DDD the atrial escape is ventricular-based: the atrium is paced the
\* AV delay before the lower-rate deadline (LRI - AV after the last
\* ventricular event), never sooner; the ventricle ends the AV delay.
\* Neither the atrial escape nor the end of a running AV delay is ever
\* overdue.
\* PACE-AV-DELAY
Inv_PACE_AV_DELAY ==
    /\ (lastStep.paced = "A" /\ lastStep.pre.mode = "DDD")
          => (now - lastV) + lastStep.pre.av >= LRI(lastStep.pre)
    /\ (active.mode = "DDD" /\ ~avPending) => now < lastV + LRI(active) - active.av
    /\ (active.mode = "DDD" /\ avPending) => now < VDue

-----------------------------------------------------------------------------
(* The bounded model of Pacemaker.cfg: the programs and patient limits the  *)
(* commands carry (a .cfg cannot write records), and a bound on the         *)
(* counter (with MaxCounterStep = 1, the number of admitted commands).      *)

MCPrograms ==
    {[mode |-> "VVI", lrl |-> 150, url |-> 175, av |-> 70, vrp |-> 150, pvarp |-> 150, vamp |-> 35],
     [mode |-> "DDD", lrl |-> 150, url |-> 175, av |-> 70, vrp |-> 150, pvarp |-> 150, vamp |-> 35],
     [mode |-> "VVI", lrl |-> 177, url |-> 175, av |-> 70, vrp |-> 150, pvarp |-> 150, vamp |-> 35]}
MCLimitSets ==
    {[minLRL |-> 30, maxURL |-> 175], [minLRL |-> 150, maxURL |-> 175],
     [minLRL |-> 30, maxURL |-> 170], [minLRL |-> 33, maxURL |-> 175],
     [minLRL |-> 150, maxURL |-> 150]}
CommandBound == lastCounter <= MaxCommands
=============================================================================
