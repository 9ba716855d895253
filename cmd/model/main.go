// Command model runs the exhaustive model checks of the kernels and prints one
// line per kernel:
//
//	model pump: states=N transitions=M invariants=K violations=0
//	model pacer: states=N transitions=M invariants=K violations=0
//
// On a violation it prints the shortest counterexample and exits 1. When a
// check exceeds its state bound it prints the counterexample found so far,
// if any, and exits 2. -first stops each check at its first violation
// (cmd/mutants uses it: one counterexample is enough to kill a mutant).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/implantfhe/implantfhe/model/explore"
	mpacer "github.com/implantfhe/implantfhe/model/pacer"
	"github.com/implantfhe/implantfhe/model/pacerinv"
	mpump "github.com/implantfhe/implantfhe/model/pump"
	"github.com/implantfhe/implantfhe/model/pumpinv"
)

func main() {
	kernel := flag.String("kernel", "all", "which kernel to check: pump, pacer or all")
	first := flag.Bool("first", false, "stop each check at its first violation")
	flag.Parse()
	failed, bounded := false, false
	run := func(name string, ids int, check func() (explore.Result, error)) {
		start := time.Now()
		res, err := check()
		if err != nil {
			fmt.Fprintf(os.Stderr, "model %s: %v (after states=%d transitions=%d violations=%d)\n", name, err, res.States, res.Transitions, res.Violations)
			if res.First != nil {
				fmt.Fprint(os.Stderr, res.First.String())
			}
			bounded = true
			return
		}
		fmt.Printf("model %s: states=%d transitions=%d invariants=%d violations=%d time=%s\n",
			name, res.States, res.Transitions, ids, res.Violations, time.Since(start).Round(time.Millisecond))
		if res.First != nil {
			fmt.Print(res.First.String())
			failed = true
		}
	}
	if *kernel == "pump" || *kernel == "all" {
		run("pump", len(pumpinv.IDs), func() (explore.Result, error) {
			m := mpump.New()
			m.StopAtFirst = *first
			return mpump.Check(m)
		})
		run("pump-accounting", len(pumpinv.IDs), func() (explore.Result, error) {
			m := mpump.NewAccounting()
			m.StopAtFirst = *first
			return mpump.Check(m)
		})
	}
	if *kernel == "pacer" || *kernel == "all" {
		run("pacer", len(pacerinv.IDs), func() (explore.Result, error) {
			m := mpacer.New()
			m.StopAtFirst = *first
			return mpacer.Check(m)
		})
	}
	switch {
	case bounded:
		os.Exit(2)
	case failed:
		os.Exit(1)
	}
}
