-------------------------- MODULE PacemakerInductive --------------------------
(***************************************************************************)
(* The inductive form of Pacemaker's safety invariants (proofs/README).     *)
(* IndInv is the conjunction of every requirement invariant with the        *)
(* strengthening that makes it inductive; IndInit starts TLC from EVERY     *)
(* state of a bounded type that satisfies IndInv.  Times lie on a grid      *)
(* (IndGridMs) up to the horizon; equalities come first in TypeBounded so   *)
(* that TLC derives the parameters in force instead of enumerating them.    *)
(*                                                                         *)
(* TLC is not installed on the machine this was written on and cannot be   *)
(* (spec/README.md): this module passes the syntax check only.  The same    *)
(* claim is checked on the Go kernel by proofs/inductive.                   *)
(***************************************************************************)
EXTENDS Pacemaker

IndGridMs == 20
Times == {t \in 0..MaxTime : t % IndGridMs = 0}
TypeBounded ==
    /\ op \in {"por", "permanent", "fault"}
    /\ perm \in Programs \cup {Safe}
    /\ active = IF op = "permanent" THEN perm ELSE Safe
    /\ pending \in Programs \cup {NoProgram}
    /\ now \in Times
    /\ lastV \in {t \in Times : t <= now}
    /\ lastA \in {t \in Times : t <= now}
    /\ lastAPace \in {lastA, 0}
    /\ avPending \in BOOLEAN
    /\ lastCounter \in 0..MaxCommands
    /\ limits \in LimitSets
    /\ blackout = FALSE /\ resumeAt = 0
    /\ events \in 0..MaxEventsPerTick
    /\ lastStep = [NoFacts EXCEPT !.pre = active]

\* The strengthening (the Go form is proofs/inductive pacerIndInv).
Strengthening ==
    /\ op \in {"por", "fault"} => active = Safe
    /\ op = "permanent" => active = perm
    /\ avPending => (active.mode = "DDD" /\ lastA >= lastV)
    /\ lastV <= now /\ lastA <= now /\ lastAPace <= now
    \* Nothing is overdue at the end of a step.
    /\ active.mode # "Off" => (now + 1 - lastV) * active.lrl <= MsPerMinute
    /\ (active.mode = "DDD" /\ ~avPending) => now < ADue
    /\ (active.mode = "DDD" /\ avPending) => now < VDue

IndInv ==
    /\ Strengthening
    /\ Inv_PACE_PARAM_PROGRAMMABLE /\ Inv_PACE_CROSS_PARAM /\ Inv_PACE_LRL
    /\ Inv_PACE_URL /\ Inv_PACE_REFRACTORY /\ Inv_PACE_SAFE_POINT
    /\ Inv_PACE_FAULT_SAFE /\ Inv_PACE_PATIENT_LIMITS /\ Inv_PACE_UPDATE_SWITCH
    /\ Inv_PACE_AV_DELAY
    /\ Inv_CMD_AUTH /\ Inv_CMD_REPLAY /\ Inv_CMD_COUNTER_STEP /\ Inv_CMD_EXPIRY
    /\ Inv_CMD_VERDICT

IndInit == TypeBounded /\ IndInv
IndSpec == IndInit /\ [][Next]_vars
=============================================================================
