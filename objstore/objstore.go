// Package objstore is the vocabulary of the implant's persistent storage: the
// Storage interface with its crash contract and the not-found error. It lives
// apart from package hal so that code which only reads or writes images and
// records (package update, shared with the relay and the clinic) links no
// device interface. hal re-exports both names.
package objstore

import "errors"

// ErrNotFound: the named storage object does not exist.
var ErrNotFound = errors.New("hal: not found")

// Storage is a minimal named-object store (flash or a filesystem) with an
// explicit crash contract, so that the code above it can be tested against
// every power cut:
//
//   - Append adds bytes at the end of the object, creating it if absent. The
//     bytes are durable only after a successful Sync. If power fails, or
//     Append returns a storage-write error, the object holds its previous
//     content followed by a prefix (possibly empty, possibly all) of b; a
//     backend never leaves bytes that were not written.
//   - Overwrite replaces the object's content in place and returns when it
//     is durable. It is NOT atomic: a power cut leaves the first k bytes of b
//     followed by the old bytes from offset k on (if the old content was
//     longer), for some 0 <= k <= len(b). Callers that need atomic updates
//     build them on top (implog/counter's A/B slots).
//   - Truncate shortens an object to size bytes and is atomic and durable
//     when it returns.
//   - After a power loss every call fails until the device restarts; what was
//     durable before the cut survives the restart.
type Storage interface {
	Append(name string, b []byte) error
	Sync(name string) error
	// ReadAll returns a copy of the object's content, or ErrNotFound.
	ReadAll(name string) ([]byte, error)
	Overwrite(name string, b []byte) error
	Truncate(name string, size int64) error
}
