package tlog

import (
	"fmt"
	"github.com/transparency-dev/merkle/compact"
	"os"
	"path/filepath"

	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
)

// LeafHash returns the RFC 6962 leaf hash of an entry.
func LeafHash(entry []byte) []byte { return hasher.HashLeaf(entry) }

// VerifyInclusion checks that entry is at index in the tree signed by cp,
// using an audit path from Log.InclusionProof(index, cp.Size).
func VerifyInclusion(entry []byte, index uint64, p [][]byte, cp Checkpoint) error {
	if index >= cp.Size {
		return fmt.Errorf("%w: inclusion: index %d not below checkpoint size %d", ErrProof, index, cp.Size)
	}
	if err := proof.VerifyInclusion(hasher, index, cp.Size, hasher.HashLeaf(entry), p, cp.Root); err != nil {
		return fmt.Errorf("%w: inclusion of entry %d in tree of size %d: %v", ErrProof, index, cp.Size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree signed by older is a prefix of the
// tree signed by newer (same origin, size not decreasing), using a proof
// from Log.ConsistencyProof(older.Size, newer.Size). Two checkpoints of equal
// size must carry the same root; a proof failure means the log forked or
// rewrote history.
func VerifyConsistency(older, newer Checkpoint, p [][]byte) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("%w: consistency: origins differ (%q, %q)", ErrProof, older.Origin, newer.Origin)
	}
	if older.Size > newer.Size {
		return fmt.Errorf("%w: consistency: log shrank from %d to %d entries", ErrProof, older.Size, newer.Size)
	}
	if older.Size == 0 && !equalHash(older.Root, hasher.EmptyRoot()) {
		return fmt.Errorf("%w: consistency: empty checkpoint with a non-empty root", ErrProof)
	}
	if err := proof.VerifyConsistency(hasher, older.Size, newer.Size, p, older.Root, newer.Root); err != nil {
		return fmt.Errorf("%w: consistency from size %d to %d: %v", ErrProof, older.Size, newer.Size, err)
	}
	return nil
}

// VerifyEntries recomputes the root of entries (all of them, in order) and
// checks it equals cp: len(entries) must be cp.Size and the roots must match.
func VerifyEntries(entries [][]byte, cp Checkpoint) error {
	if uint64(len(entries)) != cp.Size {
		return fmt.Errorf("%w: %d entries, checkpoint covers %d", ErrRootMismatch, len(entries), cp.Size)
	}
	r := rangeFactory.NewEmptyRange(0)
	for i, e := range entries {
		if err := r.Append(hasher.HashLeaf(e), nil); err != nil {
			return fmt.Errorf("tlog: verify entries: append leaf %d: %w", i, err)
		}
	}
	return checkRoot(r.End(), rootOrEmpty(r.GetRootHash(nil)), cp)
}

// rootOrEmpty maps GetRootHash's answer for an empty range (nil) to the
// RFC 6962 empty root. GetRootHash fails only for ranges not starting at 0,
// which this package never builds.
func rootOrEmpty(root []byte, err error) []byte {
	if err != nil || root == nil {
		return hasher.EmptyRoot()
	}
	return root
}

func checkRoot(size uint64, root []byte, cp Checkpoint) error {
	if size != cp.Size {
		return fmt.Errorf("%w: tree has %d entries, checkpoint covers %d", ErrRootMismatch, size, cp.Size)
	}
	if !equalHash(root, cp.Root) {
		return fmt.Errorf("%w: recomputed root of %d entries differs from checkpoint", ErrRootMismatch, size)
	}
	return nil
}

// Audit is the result of VerifyLogDir.
type Audit struct {
	// Checkpoint is the signed checkpoint stored in the directory, verified.
	Checkpoint Checkpoint
	// Entries is the number of complete records in the data file. Entries
	// beyond Checkpoint.Size are not yet covered by any signed checkpoint.
	Entries uint64
	// TornTailBytes is the length of an incomplete final record: an Append
	// interrupted by a crash, never acknowledged, outside every checkpoint.
	TornTailBytes int64
}

// VerifyLogDir audits a log directory offline, without modifying it: it
// verifies the stored checkpoint's signature with verifier, re-reads every
// record (checksums included), and checks that the first Checkpoint.Size
// entries hash to its root. Each checkpoint in retained (for example ones
// the auditor kept from earlier audits, already verified with
// ParseCheckpoint) must also match the prefix of its size: that is what
// catches a relay that rewrote history and re-signed it.
func VerifyLogDir(dir string, verifier note.Verifier, retained ...Checkpoint) (Audit, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointFileName))
	if err != nil {
		return Audit{}, fmt.Errorf("tlog: audit %s: read checkpoint: %w", dir, err)
	}
	cp, err := ParseCheckpoint(b, verifier)
	if err != nil {
		return Audit{}, fmt.Errorf("tlog: audit %s: %w", dir, err)
	}
	want := append([]Checkpoint{cp}, retained...)
	for i, c := range want[1:] {
		if c.Origin != cp.Origin {
			return Audit{}, fmt.Errorf("%w: audit %s: retained checkpoint %d has origin %q, log is %q", ErrRootMismatch, dir, i, c.Origin, cp.Origin)
		}
	}

	path := filepath.Join(dir, dataFileName)
	f, err := os.Open(path)
	if err != nil {
		return Audit{}, fmt.Errorf("tlog: audit %s: %w", dir, err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return Audit{}, fmt.Errorf("tlog: audit %s: stat data file: %w", dir, err)
	}

	r := rangeFactory.NewEmptyRange(0)
	checked := make([]bool, len(want))
	// check compares the root of the first r.End() entries with every
	// wanted checkpoint of that size.
	check := func() error {
		var root []byte
		for i, c := range want {
			if c.Size != r.End() {
				continue
			}
			if root == nil {
				root = rootOrEmpty(r.GetRootHash(nil))
			}
			if err := checkRoot(r.End(), root, c); err != nil {
				return err
			}
			checked[i] = true
		}
		return nil
	}
	if err := check(); err != nil { // checkpoints of size 0
		return Audit{}, fmt.Errorf("tlog: audit %s: %w", dir, err)
	}
	res, err := scan(f, st.Size(), func(_ int64, data []byte) error {
		if err := r.Append(hasher.HashLeaf(data), nil); err != nil {
			return fmt.Errorf("append leaf %d: %w", r.End(), err)
		}
		return check()
	})
	if err != nil {
		return Audit{}, fmt.Errorf("tlog: audit %s: %w", dir, err)
	}
	for i, ok := range checked {
		if !ok {
			return Audit{}, fmt.Errorf("%w: audit %s: checkpoint %d covers %d entries, data file holds %d",
				ErrRootMismatch, dir, i, want[i].Size, r.End())
		}
	}
	return Audit{Checkpoint: cp, Entries: r.End(), TornTailBytes: res.torn}, nil
}

// ReadEntries reads every complete entry of a log directory without
// modifying it or taking its lock, for VerifyEntries or other offline use.
// It holds all entries in memory. If the data file ends in an incomplete
// record, ReadEntries returns the complete entries together with an error
// wrapping ErrTornTail; damage elsewhere is ErrCorrupt with no entries.
func ReadEntries(dir string) ([][]byte, error) {
	path := filepath.Join(dir, dataFileName)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tlog: read entries: %w", err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tlog: read entries: stat %s: %w", path, err)
	}
	var entries [][]byte
	res, err := scan(f, st.Size(), func(_ int64, data []byte) error {
		entries = append(entries, append([]byte{}, data...))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tlog: read entries from %s: %w", path, err)
	}
	if res.torn > 0 {
		return entries, fmt.Errorf("%w: %s ends in %d bytes of an incomplete record after entry %d",
			ErrTornTail, path, res.torn, len(entries))
	}
	return entries, nil
}

// EntryVerifier recomputes a log's root entry by entry, so an auditor can
// stream a log of any size in constant memory: it never allocates from a
// size it was told (a relay that claims 2^62 entries costs the auditor the
// entries it actually sends, nothing more).
type EntryVerifier struct {
	r *compact.Range
}

// NewEntryVerifier starts at entry 0.
func NewEntryVerifier() *EntryVerifier { return &EntryVerifier{r: rangeFactory.NewEmptyRange(0)} }

// Add takes the next entry.
func (v *EntryVerifier) Add(entry []byte) error {
	if err := v.r.Append(hasher.HashLeaf(entry), nil); err != nil {
		return fmt.Errorf("tlog: verify entries: append leaf %d: %w", v.r.End(), err)
	}
	return nil
}

// Size is how many entries were added.
func (v *EntryVerifier) Size() uint64 { return v.r.End() }

// Check compares the recomputed root with a signed checkpoint.
func (v *EntryVerifier) Check(cp Checkpoint) error {
	return checkRoot(v.r.End(), rootOrEmpty(v.r.GetRootHash(nil)), cp)
}
