// Package filestore is a hal.Storage on a directory of the host's file
// system: appends and overwrites reach the disk (fsync of the file, and of
// the directory for new names) before they return. It backs the implant
// process on the host and on the target board.
//
// It must never leave a partially replaced file: Overwrite writes a
// temporary file, syncs it and renames it over the old one.
package filestore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/implantfhe/implantfhe/hal"
)

// Store is a directory of named files.
type Store struct{ dir string }

var _ hal.Storage = (*Store)(nil)

// Open creates dir (mode 0700) if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	return &Store{dir: dir}, nil
}

func (s *Store) path(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("filestore: bad name %q", name)
	}
	return filepath.Join(s.dir, name), nil
}

func (s *Store) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Append adds b at the end of name and syncs it.
func (s *Store) Append(name string, b []byte) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(p)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("filestore: append %s: %w: %v", name, hal.ErrStorageWrite, err)
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("filestore: append %s: %w: %v", name, hal.ErrStorageWrite, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		return s.syncDir()
	}
	return nil
}

// Sync is a no-op: every write is synced before it returns.
func (s *Store) Sync(name string) error {
	_, err := s.path(name)
	return err
}

// ReadAll returns the contents of name, or an empty slice if it does not exist.
func (s *Store) ReadAll(name string) ([]byte, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("filestore: read %s: %w", name, hal.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: read %s: %w", name, err)
	}
	return b, nil
}

// Overwrite replaces name atomically.
func (s *Store) Overwrite(name string, b []byte) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("filestore: overwrite %s: %w: %v", name, hal.ErrStorageWrite, err)
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("filestore: overwrite %s: %w: %v", name, hal.ErrStorageWrite, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("filestore: overwrite %s: %w: %v", name, hal.ErrStorageWrite, err)
	}
	return s.syncDir()
}

// Truncate cuts name to size bytes and syncs it.
func (s *Store) Truncate(name string, size int64) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("filestore: truncate %s: %w: %v", name, hal.ErrStorageWrite, err)
	}
	terr := f.Truncate(size)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(terr, serr, cerr); err != nil {
		return fmt.Errorf("filestore: truncate %s: %w: %v", name, hal.ErrStorageWrite, err)
	}
	return nil
}
