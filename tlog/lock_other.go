//go:build !unix

package tlog

import "os"

// lockFile is a no-op where flock is unavailable; the relay runs on Linux.
func lockFile(*os.File) error { return nil }
