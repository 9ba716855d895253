// Command spectraces regenerates the trace-validation modules of the
// insulin-pump spec: it walks the real kernel (model/pump's bounded model)
// along seeded random walks and writes one TLA+ module and TLC configuration
// per walk, spec/traces/PumpTrace_NNN.tla and .cfg, each extending
// spec/InsulinPump.tla. The output depends only on the flags.
//
//	go run ./cmd/spectraces -n 5 -steps 25 -seed 1 -out spec/traces
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/implantfhe/implantfhe/model/pumptrace"
)

func main() {
	n := flag.Int("n", 5, "number of traces")
	steps := flag.Int("steps", 25, "kernel steps per trace (a walk stops early at the model's horizon)")
	seed := flag.Uint64("seed", 1, "seed of the first trace; trace k uses seed+k-1")
	out := flag.String("out", "spec/traces", "output directory")
	flag.Parse()
	if *n < 1 || *steps < 1 {
		fmt.Fprintln(os.Stderr, "spectraces: -n and -steps must be positive")
		os.Exit(2)
	}
	paths, err := pumptrace.Generate(*out, *n, *steps, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spectraces:", err)
		os.Exit(1)
	}
	for _, p := range paths {
		fmt.Println(p)
	}
}
