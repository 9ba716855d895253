// Package wire is ImplantFHE's envelope format: one versioned, signed frame
// for commands, verdicts, telemetry batches and acknowledgements.
//
// A frame is the deterministic CBOR encoding (RFC 8949 §4.2 core
// deterministic) of an Envelope: a fixed Header, an opaque Body (CKKS
// ciphertext bytes, or nothing in detached form) and an Ed25519 signature.
// The signature covers a domain-separation tag and the CBOR header; the
// header carries the SHA-256 of the body, so a body can travel separately
// from its signed header (the implant's radio never carries the large
// controller ciphertext, only its digest). docs/protocol.md documents every
// field.
//
// Verify checks, in order and before anything is decrypted: frame size,
// decoding within limits and canonical form, version, kind, device ID, key
// ID in the trust list, the key's role for the kind, the signature, the body
// digest, and freshness (counter above the last accepted, by at most
// Freshness.MaxCounterStep when the receiver sets one, and expiry). The
// freshness arithmetic is exact for every int64 and uint64 value: no window
// length or counter step wraps around. Each failure is a typed error.
//
// What this package must never do: panic on any input; accept a frame that
// is not in canonical form (the signed bytes are exactly the decoded ones);
// decrypt anything; implement a cryptographic primitive (Ed25519 and SHA-256
// come from Go's standard library).
package wire
