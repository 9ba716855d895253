package tlog_test

import (
	"fmt"
	"log"
	"os"

	"golang.org/x/mod/sumdb/note"

	"github.com/implantfhe/implantfhe/tlog"
)

// The relay appends what it receives and signs, publishes checkpoints, and
// hands out proofs; an auditor holding only the verifier key checks them.
func Example() {
	skey, vkey, err := tlog.GenerateKey("relay.example")
	if err != nil {
		log.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "tlog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	// Relay side.
	l, err := tlog.Open(dir, signer, "relay.example/log")
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range []string{"envelope 1", "verdict 1", "envelope 2", "verdict 2"} {
		if _, err := l.Append([]byte(e)); err != nil {
			log.Fatal(err)
		}
	}
	cpNote, err := l.Checkpoint()
	if err != nil {
		log.Fatal(err)
	}
	proof, err := l.InclusionProof(1, l.Size())
	if err != nil {
		log.Fatal(err)
	}
	if err := l.Close(); err != nil {
		log.Fatal(err)
	}

	// Auditor side: only the verifier key is trusted.
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		log.Fatal(err)
	}
	cp, err := tlog.ParseCheckpoint(cpNote, verifier)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("checkpoint:", cp.Origin, cp.Size)
	fmt.Println("verdict 1 included:", tlog.VerifyInclusion([]byte("verdict 1"), 1, proof, cp) == nil)
	fmt.Println("forged verdict included:", tlog.VerifyInclusion([]byte("verdict 1'"), 1, proof, cp) == nil)

	audit, err := tlog.VerifyLogDir(dir, verifier, cp)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("offline audit:", audit.Entries, "entries match the signed root")
	// Output:
	// checkpoint: relay.example/log 4
	// verdict 1 included: true
	// forged verdict included: false
	// offline audit: 4 entries match the signed root
}
