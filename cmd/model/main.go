// Command model runs the exhaustive model checks of the kernels and prints one
// line per kernel:
//
//	model pump: states=N transitions=M invariants=K violations=0
//	model pacer: states=N transitions=M invariants=K violations=0
//
// On a violation it prints the shortest counterexample and exits 1.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	mpacer "github.com/implantfhe/implantfhe/model/pacer"
	"github.com/implantfhe/implantfhe/model/pacerinv"
	mpump "github.com/implantfhe/implantfhe/model/pump"
	"github.com/implantfhe/implantfhe/model/pumpinv"
)

func main() {
	kernel := flag.String("kernel", "all", "which kernel to check: pump, pacer or all")
	flag.Parse()
	failed := false
	if *kernel == "pump" || *kernel == "all" {
		start := time.Now()
		res, err := mpump.Check(mpump.New())
		if err != nil {
			fmt.Fprintln(os.Stderr, "model pump:", err)
			os.Exit(2)
		}
		fmt.Printf("model pump: states=%d transitions=%d invariants=%d violations=%d time=%s\n",
			res.States, res.Transitions, len(pumpinv.IDs), res.Violations, time.Since(start).Round(time.Millisecond))
		if res.First != nil {
			fmt.Print(res.First.String())
			failed = true
		}
	}
	if *kernel == "pump" || *kernel == "all" {
		start := time.Now()
		m := mpump.NewAccounting()
		res, err := mpump.Check(m)
		if err != nil {
			fmt.Fprintln(os.Stderr, "model pump-accounting:", err)
			os.Exit(2)
		}
		fmt.Printf("model pump-accounting: states=%d transitions=%d invariants=%d violations=%d time=%s\n",
			res.States, res.Transitions, len(pumpinv.IDs), res.Violations, time.Since(start).Round(time.Millisecond))
		if res.First != nil {
			fmt.Print(res.First.String())
			failed = true
		}
	}
	if *kernel == "pacer" || *kernel == "all" {
		start := time.Now()
		res, err := mpacer.Check(mpacer.New())
		if err != nil {
			fmt.Fprintln(os.Stderr, "model pacer:", err)
			os.Exit(2)
		}
		fmt.Printf("model pacer: states=%d transitions=%d invariants=%d violations=%d time=%s\n",
			res.States, res.Transitions, len(pacerinv.IDs), res.Violations, time.Since(start).Round(time.Millisecond))
		if res.First != nil {
			fmt.Print(res.First.String())
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}
