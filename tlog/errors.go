package tlog

import "errors"

// Errors a caller must branch on. Every error returned by this package that
// falls into one of these classes wraps the corresponding sentinel, so test
// with errors.Is; the message around it says what failed and where.
var (
	// ErrBadSignature: a checkpoint note is not signed by the expected key,
	// its signature does not verify, or the note itself is malformed.
	ErrBadSignature = errors.New("tlog: bad checkpoint signature")

	// ErrRootMismatch: the root recomputed from the entries differs from the
	// root in a signed checkpoint (history was rewritten, truncated or forked).
	ErrRootMismatch = errors.New("tlog: root mismatch")

	// ErrProof: an inclusion or consistency proof does not verify.
	ErrProof = errors.New("tlog: invalid proof")

	// ErrCorrupt: stored or received data is damaged in a way a crash cannot
	// explain (a bad checksum before the last record, a bad file header, a
	// malformed checkpoint body, a checkpoint ahead of the data).
	ErrCorrupt = errors.New("tlog: corrupt log")

	// ErrTornTail: the data file ends in an incomplete record, the trace of a
	// crash during an Append that never returned. Open repairs it by
	// truncation (see Log.Recovered); ReadEntries, which never writes,
	// returns it alongside the complete entries.
	ErrTornTail = errors.New("tlog: torn tail")

	// ErrClosed: the Log has been closed.
	ErrClosed = errors.New("tlog: log closed")

	// ErrFailed: an earlier write or fsync failed; the on-disk state is
	// unknown, so the Log refuses further appends until it is reopened
	// (which re-scans and repairs the file).
	ErrFailed = errors.New("tlog: log failed, reopen to recover")
)
