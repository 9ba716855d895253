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
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/provision"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/tlog"
	"github.com/implantfhe/implantfhe/wire"
)

func main() {
	keys := flag.String("keys", "", "the relay's provisioned key directory")
	data := flag.String("data", "", "directory of the relay's log")
	listen := flag.String("listen", "127.0.0.1:0", "HTTP address (loopback by default)")
	implant := flag.String("implant", "", "the implant's radio link address")
	flag.Parse()
	if err := run(*keys, *data, *listen, *implant); err != nil {
		log.Fatalf("relay: %v", err)
	}
}

func run(keys, data, listen, implantAddr string) error {
	if keys == "" || data == "" || implantAddr == "" {
		return errors.New("-keys, -data and -implant are required")
	}
	dev, err := provision.ReadDevice(keys)
	if err != nil {
		return err
	}
	b, err := provision.ReadFile(keys, "fhe-implant.relay")
	if err != nil {
		return err
	}
	rkI, err := fhe.UnmarshalRelayKeys(b)
	if err != nil {
		return err
	}
	if b, err = provision.ReadFile(keys, "fhe-clinic.relay"); err != nil {
		return err
	}
	rkC, err := fhe.UnmarshalRelayKeys(b)
	if err != nil {
		return err
	}
	signer, err := provision.ReadSigningKey(keys, "relay.key")
	if err != nil {
		return err
	}
	trust, trusted, err := provision.ReadTrust(keys)
	if err != nil {
		return err
	}
	skey, err := provision.ReadFile(keys, "checkpoint.skey")
	if err != nil {
		return err
	}
	ns, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return fmt.Errorf("checkpoint key: %w", err)
	}
	lg, err := tlog.Open(filepath.Join(data, "log"), ns, dev.Origin)
	if err != nil {
		return err
	}
	_ = trusted
	srv := &relay.Server{
		Dev: &relay.Device{ID: dev.ID, Eval: fhe.NewRelay(rkI), Signer: signer, MaxCmdAge: 5 * 60 * 1000,
			Verifier: wire.Verifier{DeviceID: dev.ID, Trust: trust, MaxFrame: wire.MaxFrame}},
		Clinic:   fhe.NewRelay(rkC),
		Implant:  wire.Verifier{DeviceID: dev.ID, Trust: trust, MaxFrame: wire.MaxFrame},
		Log:      lg,
		LinkAddr: implantAddr,
	}
	if dev.Kind == provision.KindPacer {
		srv.Dev.SchemaFor = firmware.PacerSchema
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
	mux.Handle("POST /v1/raw", srv.Raw())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return hs.Serve(ln)
}
