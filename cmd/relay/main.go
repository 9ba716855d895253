// Command relay is the untrusted relay: an HTTP API on loopback that stores
// and logs every envelope in a tamper-evident Merkle log with signed
// checkpoints, checks commands against encrypted limits homomorphically,
// forwards radio bundles to the implant, and evaluates telemetry alerts on
// encrypted data. It holds no CKKS secret key. It prints "relay: listening
// on ADDR" once ready.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/relay/jsstore"
	"github.com/implantfhe/implantfhe/tlog"
	"github.com/implantfhe/implantfhe/wire"
)

func main() {
	keys := flag.String("keys", "", "the relay's provisioned key directory")
	data := flag.String("data", "", "directory of the relay's log")
	listen := flag.String("listen", "127.0.0.1:0", "HTTP address (loopback by default)")
	implant := flag.String("implant", "", "the implant's radio link address")
	natsURL := flag.String("nats", "", "NATS JetStream cluster for the device state; empty: an embedded server with its store in DATA/nats")
	rawHook := flag.Bool("radio-injection-hook", false, "TEST ONLY: serve POST /v1/raw, which puts any bytes on the implant's radio (the demo and the adversarial suite play a radio attacker with it); never in production")
	flag.Parse()
	if err := run(*keys, *data, *listen, *implant, *natsURL, *rawHook); err != nil {
		log.Fatalf("relay: %v", err)
	}
}

func run(keys, data, listen, implantAddr, natsURL string, rawHook bool) error {
	if keys == "" || data == "" || implantAddr == "" {
		return errors.New("-keys, -data and -implant are required")
	}
	k, err := protocol.LoadRelay(keys)
	if err != nil {
		return err
	}
	dev := k.Device
	lg, err := tlog.Open(filepath.Join(data, "log"), k.Checkpoint, dev.Origin)
	if err != nil {
		return err
	}
	var st *jsstore.Store
	if natsURL != "" {
		st, err = jsstore.Connect(natsURL)
	} else {
		st, err = jsstore.Embedded(filepath.Join(data, "nats"))
	}
	if err != nil {
		return err
	}
	defer st.Close()
	srv := &relay.Server{
		Dev: &relay.Device{ID: dev.ID, Kind: dev.Kind, Eval: fhe.NewRelay(k.Implant), Signer: k.Signer, MaxCmdAge: 5 * 60 * 1000, Store: st,
			Verifier: wire.Verifier{DeviceID: dev.ID, Trust: k.Trust, MaxFrame: wire.MaxFrame}},
		Clinic:   fhe.NewRelay(k.Clinic),
		Implant:  wire.Verifier{DeviceID: dev.ID, Trust: k.Trust, MaxFrame: wire.MaxFrame},
		Log:      lg,
		LinkAddr: implantAddr,
	}
	if err := srv.Dev.Restore(); err != nil {
		return fmt.Errorf("restore device state: %w", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(data, "addr"), []byte(ln.Addr().String()), 0o600); err != nil {
		return err
	}
	fmt.Printf("relay: %s listening on http://%s (log size %d)\n", dev.ID, ln.Addr(), lg.Size())
	mux := http.NewServeMux()
	mux.Handle("/v1/", srv.Handler())
	if rawHook {
		fmt.Println("relay: TEST ONLY: POST /v1/raw puts any bytes on the implant's radio")
		mux.Handle("POST /v1/raw", srv.Raw())
	}
	// A whole request (headers and body) must arrive within ReadTimeout: a
	// client trickling its body cannot hold a connection and a handler
	// (a 16 MiB command needs 1.7 MB/s; a firmware release, which may be
	// larger and come from a slow clinic link, gets more in its handler).
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: relay.RequestReadTime,
		WriteTimeout: 10 * time.Minute, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	return hs.Serve(relay.LimitListener(ln, relay.MaxConns))
}
