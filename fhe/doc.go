// Package fhe lets an untrusted relay compare encrypted therapy commands
// against encrypted limits, and encrypted telemetry against alert
// thresholds, with CKKS (Lattigo v5, packages he/hefloat and core/rlwe).
//
// There are two key domains. The implant domain (sk_I, pk_I) carries
// commands, limits and the verdict sent back to the implant; the clinic
// domain (sk_C, pk_C) carries telemetry and its summaries. A relay is given
// a [RelayKeys]: public key plus evaluation keys, a type that has no field
// able to hold a secret key.
//
// Comparisons are quantized: every compared quantity has a quantum and a
// range ([Quantity]). A value is written as two base-B digits and
// "value ≤ limit" is decided lexicographically by three steps at half a
// digit quantum, each input lying in {±0.5, ±1.5, …}/128. The step is a
// composite minimax polynomial (degrees 15 and 31, see signpoly_coeffs.go)
// that separates |x| ≥ 2^-8 from 0; proofs/compare shows, for every
// production parameter set and every quantized input, that the decision is
// exact with the stated CKKS noise bound.
//
// What this package must never do:
//   - return a raw decrypted CKKS value: every decryption is rounded to the
//     quantum (values), to {0,1} (verdicts, flags) or to an integer (counts)
//     before it leaves the package, because raw CKKS outputs leak
//     information about the secret key (Li and Micciancio, eprint 2020/1533);
//   - give a relay a secret key, or accept parameters that are not 128-bit
//     secure per the Homomorphic Encryption Standard (2018), Table 1, unless
//     they are test-only sets in a test binary (see [ParamSet.TestOnly]);
//   - be the final word on safety: a verdict can be wrong if the relay lies,
//     so the implant's kernel re-checks every command exactly.
package fhe
