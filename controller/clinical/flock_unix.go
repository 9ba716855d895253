//go:build unix

package clinical

import (
	"os"
	"syscall"
)

const (
	lockExclusive = syscall.LOCK_EX
	lockShared    = syscall.LOCK_SH
	lockRelease   = syscall.LOCK_UN
)

// flock applies flock(2) to f, blocking until granted. The lock belongs to
// the open file description: the kernel releases it when the process dies.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}
