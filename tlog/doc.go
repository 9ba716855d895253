// Package tlog is the relay's tamper-evident log: an append-only RFC 6962
// Merkle log of opaque byte entries, stored in one directory, with signed
// checkpoints, inclusion and consistency proofs, and an offline verifier.
//
// What it is for (docs/architecture.md, data flow): the relay
// appends every command envelope it receives and every verdict it signs, and
// mirrors every decision the implant logs. Auditors and the clinician
// controller hold the log's note verifier key; with a checkpoint and a proof
// they can check that an entry is in the log (VerifyInclusion), that a later
// log extends an earlier one (VerifyConsistency), or recompute the whole log
// offline (VerifyLogDir, VerifyEntries). The relay is untrusted: the log does
// not make it honest, it makes rewriting what it already committed to
// detectable by anyone who kept an earlier checkpoint.
//
// Storage: entries are framed records (length, checksums) in entries.dat,
// fsynced before Append returns; the latest checkpoint is stored beside them
// for offline audit. Open rebuilds the tree from the records, truncates an
// incomplete last record left by a crash (reported by Log.Recovered; the
// read-only ReadEntries reports it as ErrTornTail), and refuses anything else that is damaged (ErrCorrupt) or a
// data file that no longer contains the tree its stored checkpoint signed
// (ErrRootMismatch). Leaf and subtree hashes are kept in memory (about 64
// bytes per entry), so roots and proofs for any size cost O(log n).
//
// What it must never do:
//   - rewrite history: there is no delete, no update, no truncation except of
//     a record that was never acknowledged; a checkpoint once issued must stay
//     provable from the data.
//   - hold or log a CKKS secret key, or any plaintext therapy value: entries
//     are ciphertexts, signatures and verdicts as the relay saw them, and the
//     relay holds no secret key (docs/architecture.md, parties and keys). The only
//     secret this package touches is the note signer for checkpoints.
//   - interpret entries: it stores and hashes bytes; decoding is wire's job.
//
// Hashing, compact ranges and proof checks come from
// github.com/transparency-dev/merkle; checkpoints are golang.org/x/mod/sumdb/note
// signed notes (Ed25519) in the transparency-dev checkpoint format
// "<origin>\n<size>\n<base64 root>\n".
package tlog
