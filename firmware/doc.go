// Package firmware is the implant program: the only place that touches the
// HAL. It wires the radio, the wire protocol, the fhe package and the safety
// kernel in one loop, in the pattern of etcd/raft's Ready:
//
//	receive frame → verify (size, version, device, key, role, signature,
//	counter, expiry — on the ciphertext bytes, before decryption) → decrypt
//	command and verdict → check the clinician's value commitment → kernel
//	Step → persist the log record → actuate → acknowledge.
//
// Every kernel decision that changes anything is appended to the implant's
// hash-chained log (implog) before any actuator moves, together with the
// kernel state after the Step, so that after a power cut the implant resumes
// from the last persisted state: an executed delivery is never lost from the
// log and never repeated (a delivery persisted but cut before the motor ran
// is reported as interrupted, never re-run).
//
// What it must never do: actuate before persisting; decrypt before verifying;
// let any input bypass the kernel; read a secret key into a log record.
package firmware
