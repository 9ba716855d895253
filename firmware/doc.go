// Package firmware is the implant program: the only place that touches the
// HAL. One runtime serves every kernel (the pump's, the pacemaker's) through
// a small adapter each, in the pattern of etcd/raft's RawNode and Ready:
//
//	receive frame → verify (size, version, device, key, role, signature,
//	counter, counter step, expiry — on the ciphertext bytes, before
//	decryption) → decrypt command and verdict → check the clinician's value
//	commitment → kernel Step → persist the log record (when the step must
//	be durable) → the counter store → carry out the batch → acknowledge.
//
// Every kernel decision that changes anything is appended to the implant's
// hash-chained log (implog) before any actuator moves, together with the
// kernel state after the Step, so that after a power cut the implant resumes
// from the last persisted state: an executed delivery is never lost from the
// log and never repeated (a delivery persisted but cut before the motor ran
// is reported as interrupted, never re-run). The command, verdict and
// acknowledgement counters are also kept in an A/B counter store, so a log
// cut back to an earlier record cannot re-open a replay, and no
// acknowledgement counter is ever signed twice.
//
// Carrying out a batch (runtime.go): in order; at the first HAL error the
// rest of the batch is dropped, the fault is fed back to the kernel, and
// only the outputs of that fault step are carried out. The runtime never
// drives the pump's motor after the kernel has entered Fault, Suspended or
// Alarm; the pacemaker's safe state is backup pacing, which it carries out.
//
// What leaves the implant is a protocol.Ack naming the command it answers,
// its therapy content sealed to the clinic; the log record stays here.
// Loop (run.go) is the tick and radio loop every device runs: the radio
// listener bounds each message by the radio's largest before allocating,
// each read by a deadline, and the number of connections.
//
// What it must never do: actuate before persisting; actuate after a HAL
// error in the same batch; decrypt before verifying; let any input bypass
// the kernel; read a secret key into a log record; put a therapy value in
// clear into anything the relay sees.
package firmware
