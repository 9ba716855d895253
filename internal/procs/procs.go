// Package procs starts the project's programs (implant, relay) as processes
// and waits until they say they are ready: the one place that knows the
// "listening on ADDR" line. The demo, the conformance firmware checks, the
// end-to-end and the adversarial tests all use it.
package procs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Ready is what every program prints, followed by its address, once it
// serves.
const Ready = "listening on "

// ErrNotReady: the program exited or did not print Ready in time.
var ErrNotReady = errors.New("procs: program did not become ready")

// Proc is a started program.
type Proc struct {
	Cmd *exec.Cmd
	// Addr is the first word after Ready on its output.
	Addr string

	mu  sync.Mutex
	out strings.Builder // everything it printed on stdout, for diagnostics
}

// Output is what the program printed on stdout so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Start runs cmd (its Stdout is taken; Stderr is left as set) and waits up
// to timeout for its Ready line. On failure the process is killed.
func Start(cmd *exec.Cmd, timeout time.Duration) (*Proc, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("procs: start %s: %w", cmd.Path, err)
	}
	p := &Proc{Cmd: cmd}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			p.mu.Lock()
			if p.out.Len() < 1<<20 {
				p.out.WriteString(sc.Text() + "\n")
			}
			p.mu.Unlock()
			if i := strings.Index(sc.Text(), Ready); i >= 0 && !sent {
				if f := strings.Fields(sc.Text()[i+len(Ready):]); len(f) > 0 {
					addr <- f[0]
					sent = true
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
		if !sent {
			close(addr)
		}
	}()
	select {
	case a, ok := <-addr:
		if ok {
			p.Addr = a
			return p, nil
		}
		_ = cmd.Wait()
		return nil, fmt.Errorf("%w: %s exited; output:\n%s", ErrNotReady, cmd.Path, p.Output())
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("%w within %s: %s; output:\n%s", ErrNotReady, timeout, cmd.Path, p.Output())
	}
}

// Stop kills the process and waits for it.
func (p *Proc) Stop() {
	if p != nil && p.Cmd.Process != nil {
		_ = p.Cmd.Process.Kill()
		_ = p.Cmd.Wait()
	}
}
