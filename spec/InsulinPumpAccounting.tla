------------------------ MODULE InsulinPumpAccounting ------------------------
\* A sub-model of InsulinPump for the accounting rules (PUMP-MAX-IOB,
\* PUMP-DAILY-MAX, PUMP-BOLUS-INTERVAL), which InsulinPump.cfg never reaches:
\*   - a second bolus needs a delivery-done between the two, so with one
\*     input per 5 min tick it comes at least 10 min (the minimum interval)
\*     after the first: bolus-too-soon is unreachable;
\*   - with 10 min buckets and a 10 min insulin action the kernel's IOB sums
\*     two of the window's three buckets, so it is never above the window
\*     total; with max IOB 0.35 U > max daily 0.25 U iob-over-max is
\*     unreachable;
\*   - a 20 min horizon ends before the window total reaches its maximum.
\* Here only the inputs that lead to delivery are taken (ticks, readings,
\* reservoir fills, delivery-done, slot-switch requests, and fresh bolus,
\* temporary-basal and program-limits commands), so that InsulinPumpAccounting.cfg can afford
\* two inputs per tick, a 30 min horizon (past the first slide of the
\* window) and limits under which every accounting rule refuses.
\*
\* AccNext implies Next, so every behaviour of AccSpec is a behaviour of
\* Spec; the invariants checked are InsulinPump's own.
EXTENDS InsulinPump

AccCmdKinds == {"bolus", "temp-basal", "program-limits"}

\* A fresh command (next counter) of one of AccCmdKinds.
AccCommand ==
    \E h \in Headers, p \in CmdParams :
        /\ p.kind \in AccCmdKinds
        /\ h.counter = lastCounter + 1
        /\ CommandStep(MkCmd(h, p))

AccNext == Tick \/ Glucose \/ DeliveryDone \/ Reservoir \/ SwitchRequest \/ AccCommand

AccSpec == Init /\ [][AccNext]_vars

=============================================================================
