//go:build unix

package tlog

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking advisory lock on f, so two
// processes never append to the same log (they would interleave records).
// The kernel releases it when f is closed or the process dies.
func lockFile(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("tlog: lock %s (log in use by another process?): %w", f.Name(), err)
	}
	return nil
}
