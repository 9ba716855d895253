------------------------- MODULE InsulinPumpInductive -------------------------
(***************************************************************************)
(* The inductive form of InsulinPump's safety invariants (proofs/README).   *)
(* IndInv is the conjunction of every requirement invariant with the        *)
(* strengthening that makes it inductive; IndInit starts TLC from EVERY     *)
(* state of a bounded type that satisfies IndInv, not only from Init, so a  *)
(* run that finds no violation of IndInv shows that every such state steps *)
(* (by Next, over the constants' inputs) to states that satisfy it.          *)
(*                                                                         *)
(* TLC is not installed on the machine this was written on and cannot be   *)
(* (spec/README.md): this module passes the syntax check only.  The same    *)
(* claim is checked on the Go kernels by proofs/inductive.                  *)
(***************************************************************************)
EXTENDS InsulinPump

\* The bounded type: TypeOK with every unbounded set cut to the values the
\* constants can produce within the horizon.
Times == {t \in 0..MaxTime : t % TickMs = 0}
IndDeliveries == [at : Times, amount : BolusAmounts \ {0}, bolus : BOOLEAN]
IndHistories == {<<>>} \cup {<<d>> : d \in IndDeliveries}
                 \cup {<<d, e>> : d \in IndDeliveries, e \in IndDeliveries}
TypeBounded ==
    /\ mode \in Modes
    /\ now \in Times
    /\ lastCounter \in 0..2
    /\ limits \in LimitSets \cup {ZeroLimits}
    /\ haveGlucose \in BOOLEAN /\ glucose \in GlucoseValues \cup {0} /\ glucoseAt \in Times
    /\ tempActive \in BOOLEAN /\ tempRate \in TempRates \cup {0}
    /\ tempUntil \in {t + d : t \in Times, d \in TempDurations} \cup {0}
    /\ basalAccum \in {0, MsPerHour \div 2}
    /\ lastWithheld = "ok"
    /\ haveBolus \in BOOLEAN /\ lastBolusAt \in Times
    /\ reservoir \in ReservoirLevels
    /\ history \in IndHistories
    /\ bolusRunning \in BOOLEAN
    /\ events \in 0..MaxEventsPerTick
    \* A state reached by no step yet: its last step is a no-op on itself.
    /\ lastStep = [input |-> NoInput, pre |-> Pre, out |-> NoOut]

\* The strengthening (the Go form is proofs/inductive pumpIndInv).
Strengthening ==
    /\ mode = "init" => (limits = ZeroLimits /\ history = <<>> /\ ~haveBolus /\ ~tempActive)
    /\ HaltedMode(mode) => basalAccum = 0
    /\ bolusRunning <=> mode = "delivering"
    /\ tempActive => (tempRate <= TempBasalCap(limits) /\ tempUntil - now <= MaxTempBasalMs)
    /\ mode = "fault" => (~tempActive /\ basalAccum = 0)
    /\ haveGlucose => glucoseAt <= now
    /\ haveBolus => lastBolusAt <= now
    /\ \A j \in 1..Len(history) : history[j].at <= now

IndInv ==
    /\ TypeOK
    /\ Strengthening
    /\ Inv_PUMP_MAX_BOLUS /\ Inv_PUMP_MAX_BASAL /\ Inv_PUMP_MAX_IOB
    /\ Inv_PUMP_BOLUS_INTERVAL /\ Inv_PUMP_DAILY_MAX /\ Inv_PUMP_HALT
    /\ Inv_PUMP_GLUCOSE_GATE /\ Inv_PUMP_RESERVOIR /\ Inv_PUMP_FAULT_STOP
    /\ Inv_PUMP_ALARM_ACK /\ Inv_PUMP_LIMITS_RANGE /\ Inv_PUMP_UPDATE_SWITCH
    /\ Inv_PUMP_TEMP_DURATION
    /\ Inv_CMD_AUTH /\ Inv_CMD_REPLAY /\ Inv_CMD_COUNTER_STEP /\ Inv_CMD_EXPIRY
    /\ Inv_CMD_VERDICT /\ Inv_FAULT_SAFE

IndInit == TypeBounded /\ IndInv
IndSpec == IndInit /\ [][Next]_vars
=============================================================================
