package tlog

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// MaxCheckpointSize bounds a checkpoint note accepted for parsing. A
// checkpoint is three short lines plus a few signature lines.
const MaxCheckpointSize = 16 << 10

// Checkpoint is the verified content of a signed checkpoint: the log's
// origin, its size and the RFC 6962 root hash of its first Size entries.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// checkpointText renders the transparency-dev checkpoint body:
// "<origin>\n<size>\n<base64 root>\n".
func checkpointText(origin string, size uint64, root []byte) string {
	return origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root) + "\n"
}

// validOrigin reports why an origin cannot head a checkpoint, if it cannot.
func validOrigin(origin string) error {
	if origin == "" {
		return errors.New("origin is empty")
	}
	if !utf8.ValidString(origin) {
		return errors.New("origin is not valid UTF-8")
	}
	for _, r := range origin {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("origin contains control character %U", r)
		}
	}
	if strings.TrimSpace(origin) != origin {
		return errors.New("origin has leading or trailing space")
	}
	return nil
}

// parseCheckpointText parses a checkpoint body strictly: exactly three lines,
// a canonical decimal size, a canonical base64 root of HashSize bytes.
// Extension lines are refused: this log never writes them, so a checkpoint
// carrying them was not produced by it.
func parseCheckpointText(text string) (Checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint body does not end in a newline", ErrCorrupt)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 3 {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint body has %d lines, want 3", ErrCorrupt, len(lines))
	}
	if err := validOrigin(lines[0]); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint %v", ErrCorrupt, err)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint size %q is not a canonical decimal", ErrCorrupt, lines[1])
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != HashSize || base64.StdEncoding.EncodeToString(root) != lines[2] {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint root %q is not a base64 %d-byte hash", ErrCorrupt, lines[2], HashSize)
	}
	if size == 0 && !bytes.Equal(root, hasher.EmptyRoot()) {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint of size 0 with a root other than the empty root", ErrRootMismatch)
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

// ParseCheckpoint opens a signed checkpoint note, requires a valid signature
// by verifier, and parses its body. It does not check the origin: callers
// compare Checkpoint.Origin with the log they expect.
func ParseCheckpoint(noteBytes []byte, verifier note.Verifier) (Checkpoint, error) {
	if verifier == nil {
		return Checkpoint{}, fmt.Errorf("%w: no verifier given", ErrBadSignature)
	}
	if len(noteBytes) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint note is %d bytes, limit %d", ErrCorrupt, len(noteBytes), MaxCheckpointSize)
	}
	n, err := note.Open(noteBytes, note.VerifierList(verifier))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: key %q: %v", ErrBadSignature, verifier.Name(), err)
	}
	if len(n.Sigs) == 0 { // note.Open guarantees this; assert it anyway.
		return Checkpoint{}, fmt.Errorf("%w: no verified signature", ErrBadSignature)
	}
	cp, err := parseCheckpointText(n.Text)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("parse signed checkpoint: %w", err)
	}
	return cp, nil
}

// parseUnverifiedCheckpoint parses a checkpoint note without checking its
// signature. Open uses it on the log's own checkpoint file, as an integrity
// cross-check between the data and the last checkpoint it issued (a Signer
// cannot verify).
func parseUnverifiedCheckpoint(noteBytes []byte) (Checkpoint, error) {
	if len(noteBytes) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint note is %d bytes, limit %d", ErrCorrupt, len(noteBytes), MaxCheckpointSize)
	}
	_, err := note.Open(noteBytes, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint note: %v", ErrCorrupt, err)
	}
	return parseCheckpointText(unverified.Note.Text)
}

// GenerateKey returns a new Ed25519 note signer key and its verifier key for
// the given key name, using crypto/rand. Keep skey secret (it lets its holder
// sign checkpoints); publish vkey to auditors.
func GenerateKey(name string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("tlog: generate note key %q: %w", name, err)
	}
	return skey, vkey, nil
}
