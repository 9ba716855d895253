// Package update is the core of signed, encrypted firmware updates with A/B
// slots (docs/architecture.md, update path; FDA premarket cybersecurity
// guidance 2023: authenticated, integrity-checked updates with
// anti-rollback).
//
// Manufacturer side: Package encrypts an image under a fresh content key and
// wraps that key for each target device; Sign signs the manifest with a
// threshold of manufacturer keys (TrustRoot, TUF-style; the root is itself
// replaced only by RotateRoot, signed by a threshold of the current root and
// of the new one, at a higher version).
//
// Implant side: Slots over hal.Storage. Begin checks the manifest —
// signatures and threshold, vendor, device class, version above the running
// image, security counter not below the confirmed one, size, a content key
// for this device — before anything is written. WriteChunk authenticates
// each chunk (AEAD) before staging its plaintext in the inactive slot; chunks
// may come in any order, repeated, across power cuts. Finish checks the
// staged image's SHA-256 and marks it pending; Boot (the bootloader) marks
// it tried and test-boots it, or reverts an image that was tried and never
// confirmed; Confirm makes it active and only then raises the persisted
// security counter. Every state change is one write of a two-copy record, so
// a power cut anywhere leaves the previous or the next state, and Boot only
// returns a slot whose image digest it has just verified.
//
// Image encryption: AES-256-GCM in fixed-size chunks (default 4 KiB). Chunk
// i's nonce is the manifest's base nonce with its last 8 bytes XORed with i,
// under a content key used for this image only; the AAD binds the image
// digest, the image size, i and a final-chunk flag, so chunks cannot be
// reordered, swapped between images, or the image truncated. The content key
// is wrapped per device: X25519 (crypto/ecdh) between a fresh ephemeral key
// and the device key, HKDF-SHA256 salted with both public keys, AES-256-GCM.
// All cryptography is from the Go standard library.
//
// Why not FHE here. Homomorphic encryption in this project exists so that an
// untrusted relay can compute on data it must not see (command limits,
// telemetry thresholds). Nothing needs computing on a firmware image: the
// relay only stores and forwards it, and the implant needs the plaintext to
// run it. Confidentiality in transit and at the relay is exactly what
// ordinary authenticated encryption gives, at a few bytes per chunk instead
// of megabytes per ciphertext, and authenticity comes from signatures, which
// FHE does not provide at all.
//
// What this package must never do: write anything for a manifest that has not
// passed every check; stage a chunk that did not authenticate; lower the
// confirmed security counter; boot a slot whose digest it has not just
// verified; raise the counter before the new image is confirmed. It does not
// decide when switching is safe for the patient: the firmware asks its
// kernel, as a step of its own, between Slots.Verify and Slots.MarkPending
// and before Slots.Boot.
package update
