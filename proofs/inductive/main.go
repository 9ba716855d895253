// Command inductive shows that the conjunction of each kernel's safety
// invariants, strengthened as proofs/README.md says, is inductive over the
// whole bounded state space, not only over the states the model check
// reaches: every state of the bounded type that satisfies the invariant
// (IndInv) steps, under every input and probe of the model check's domain
// (model/pump, model/pacer), to a state that satisfies it, and no step
// breaks a requirement the observers (model/pumpinv, model/pacerinv)
// check. The bounded type is enumerated exhaustively; -sample N checks
// every N-th state of it (the short form in `make test`).
//
// It prints one line per kernel:
//
//	inductive pump: type=N IndInv=M steps=K failures=0 time=…
//
// and exits 1 on any failure, printing the first ones.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

type result struct {
	typed, inv, steps, failures int
	first                       []string
	excluded                    map[string]int // states of the type outside IndInv, by the conjunct that fails
}

func (r *result) fail(s string) {
	r.failures++
	if len(r.first) < 10 {
		r.first = append(r.first, s)
	}
}

func main() {
	kernel := flag.String("kernel", "all", "pump, pacer or all")
	sample := flag.Int("sample", 1, "check every N-th state of the bounded type (1: all)")
	verbose := flag.Bool("v", false, "count the states of the type outside IndInv by the conjunct that fails")
	flag.Parse()
	failed := false
	run := func(name string, check func(int) result) {
		start := time.Now()
		r := check(*sample)
		fmt.Printf("inductive %s: type=%d IndInv=%d steps=%d failures=%d sample=1/%d time=%s\n",
			name, r.typed, r.inv, r.steps, r.failures, *sample, time.Since(start).Round(time.Millisecond))
		if *verbose {
			for why, n := range r.excluded {
				fmt.Printf("   outside IndInv: %7d  %s\n", n, why)
			}
		}
		for _, f := range r.first {
			fmt.Println("  ", f)
		}
		if r.failures > 0 || r.inv == 0 {
			failed = true
		}
	}
	if *kernel == "pump" || *kernel == "all" {
		run("pump", checkPump)
	}
	if *kernel == "pacer" || *kernel == "all" {
		run("pacer", checkPacer)
	}
	if failed {
		os.Exit(1)
	}
}

// sampled picks about one state in n of the enumeration, spread by a hash
// of its index rather than by its position (a stride would alias with the
// nested loops of the enumeration). Deterministic: the same n picks the
// same states.
func sampled(i, n int) bool {
	if n <= 1 {
		return true
	}
	x := uint64(i) * 0x9E3779B97F4A7C15
	x ^= x >> 29
	return x%uint64(n) == 0
}
