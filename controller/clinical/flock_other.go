//go:build !unix

package clinical

import (
	"errors"
	"os"
)

const (
	lockExclusive = iota
	lockShared
	lockRelease
)

// flock: without flock(2) the counter cannot exclude other processes, so it
// refuses to work rather than risk handing a value out twice.
func flock(*os.File, int) error { return errors.ErrUnsupported }
