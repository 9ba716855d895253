// Package implog is the implant's tamper-evident log: an append-only,
// hash-chained sequence of records on hal.Storage that survives a power cut
// at any byte.
//
// Every decision of the safety kernel, accepted or rejected, is appended here
// before the firmware acts on it, and mirrored to the relay. An auditor
// holding a copy checks it offline with Verify, which needs nothing but the
// bytes.
//
// # Byte layout
//
// The log is a concatenation of records; integers are big-endian.
//
//	offset   size  field
//	0        4     payload length n (at most MaxPayload)
//	4        8     seq: 1 for the first record, then +1 per record
//	12       4     CRC-32C (Castagnoli) of bytes 0..11
//	16       32    prev: the hash of the previous record (zero for seq 1)
//	48       n     payload
//	48+n     32    hash = SHA-256(Tag || seq || prev || payload)
//
// A record is 80+n bytes. Tag ("implantfhe/implog/v1 record\x00") separates
// these hashes from every other SHA-256 use in the system and names the
// format version. The hash covers seq and prev, so records cannot be
// reordered, dropped or replayed without breaking the chain; the CRC covers
// the header alone, so that a length can be trusted before the record it
// announces is read.
//
// # Crash recovery
//
// hal.Storage promises that a cut Append leaves a prefix of the bytes. A torn
// record is therefore recognisable: the file ends inside a header, or inside
// the body a valid header announced. Open cuts such a tail off and reports
// how many bytes it removed. Anything else that fails to verify — a header
// whose CRC is wrong, a sequence gap, a wrong prev or hash, even in the last
// record — is damage, not a crash, and is reported as a *ChainError
// (errors.Is(err, ErrChainBroken)) with the index of the first bad record.
// Records after a break are never dropped silently.
//
// Append returns only after the record is synced. If the write or the sync
// fails, Append truncates the partial record away before returning the
// error; if even that fails, the Log refuses further appends
// (ErrNeedsRecovery) until it is opened again.
//
// implog must never interpret payloads or decide anything from them: it
// stores and proves bytes. The sibling package implog/counter keeps the
// implant's monotonic counters.
package implog
