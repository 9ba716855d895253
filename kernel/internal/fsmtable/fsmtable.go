// Package fsmtable compiles a looplab/fsm mode machine into a lookup table
// at start-up, so that a kernel's Step consults its declared mode machine
// without calling fsm.Event (which allocates) on the hot path.
package fsmtable

import (
	"context"
	"errors"
	"fmt"

	"github.com/looplab/fsm"
)

// Next asks the machine built by machine(from) where event leads: the
// destination, from itself for a declared self-transition, or none when the
// machine does not allow the event. States are the values 0..n-1 and are
// named by their String method.
func Next[S interface {
	~uint8
	fmt.Stringer
}](machine func(S) *fsm.FSM, from S, event string, n, none S) S {
	f := machine(from)
	err := f.Event(context.Background(), event)
	var same fsm.NoTransitionError
	switch {
	case err == nil:
	case errors.As(err, &same):
		return from
	default:
		return none
	}
	for s := S(0); s < n; s++ {
		if f.Current() == s.String() {
			return s
		}
	}
	return none
}
