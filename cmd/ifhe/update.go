package main

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/provision"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

func cmdUpdate(verb string, args []string) error {
	switch verb {
	case "sign":
		return cmdUpdateSign(args)
	case "publish", "status":
		return cmdUpdateRelay(verb, args)
	}
	usage()
	return nil
}

func cmdUpdateSign(args []string) error {
	fs := flag.NewFlagSet("update sign", flag.ExitOnError)
	mdir := fs.String("manufacturer", "", "the manufacturer's key directory")
	pub := fs.String("public", "", "the deployment's public directory (device key, device.json)")
	keys := fs.String("keys", "1,2", "manufacturer keys to sign with (numbers of update-N.key)")
	image := fs.String("image", "", "firmware image file")
	version := fs.Uint64("version", 0, "image version (above the running one)")
	counter := fs.Uint64("counter", 0, "security counter (anti-rollback)")
	class := fs.Uint64("class", 0, "device class ID; 0: the device's own")
	chunk := fs.Int("chunk", update.DefaultChunkSize, "encryption chunk size, bytes")
	out := fs.String("out", "", "release file to write")
	_ = fs.Parse(args)
	if *mdir == "" || *pub == "" || *image == "" || *out == "" || *version == 0 || *counter == 0 {
		return errors.New("update sign: -manufacturer, -public, -image, -version, -counter and -out are required")
	}
	dev, err := provision.ReadDevice(*pub)
	if err != nil {
		return err
	}
	dk, err := provision.ReadUpdateDevicePub(*pub)
	if err != nil {
		return err
	}
	var signers []*wire.SigningKey
	for _, f := range strings.Split(*keys, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("update sign: -keys: %w", err)
		}
		k, err := provision.ReadSigningKey(*mdir, provision.UpdateKeyFile(n))
		if err != nil {
			return err
		}
		signers = append(signers, k)
	}
	img, err := os.ReadFile(*image)
	if err != nil {
		return err
	}
	cls := dev.ClassID
	if *class != 0 {
		cls = uint32(*class)
	}
	p := update.Params{VendorID: dev.VendorID, ClassID: cls, Version: *version, SecurityCounter: *counter,
		ChunkSize: *chunk, Recipients: []*ecdh.PublicKey{dk}}
	rel, err := update.NewRelease(img, p, rand.Reader, signers...)
	if err != nil {
		return err
	}
	b, err := rel.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, b, 0o600); err != nil {
		return err
	}
	fmt.Printf("signed release %s: image %d bytes, version %d, security counter %d, class %#x, %d chunks, manifest %d bytes, %d signatures\n",
		*out, len(img), *version, *counter, cls, len(rel.Chunks), len(rel.Manifest), len(signers))
	return nil
}

func cmdUpdateRelay(verb string, args []string) error {
	fs := flag.NewFlagSet("update "+verb, flag.ExitOnError)
	dir := fs.String("clinic", "", "the clinic's key directory")
	relayURL := fs.String("relay", "", "relay base URL")
	relFile := fs.String("release", "", "release file (publish)")
	_ = fs.Parse(args)
	if *dir == "" || *relayURL == "" {
		return fmt.Errorf("update %s: -clinic and -relay are required", verb)
	}
	dev, err := provision.ReadDevice(*dir)
	if err != nil {
		return err
	}
	trust, _, err := provision.ReadTrust(*dir)
	if err != nil {
		return err
	}
	cl := &controller.Client{Relay: strings.TrimRight(*relayURL, "/"),
		Implant: wire.Verifier{DeviceID: dev.ID, Trust: trust, MaxFrame: wire.MaxFrame}}
	if verb == "status" {
		r, err := cl.UpdateStatus()
		if err != nil {
			return err
		}
		fmt.Println(describeUpdate(r))
		return nil
	}
	if *relFile == "" {
		return errors.New("update publish: -release is required")
	}
	b, err := os.ReadFile(*relFile)
	if err != nil {
		return err
	}
	u, err := cl.PublishUpdate(b)
	if err != nil {
		return err
	}
	for _, r := range u.Acks {
		fmt.Println(describeUpdate(r))
	}
	fmt.Printf("manifest %d bytes, %d chunks (%d bytes), %d bytes on the radio, %d ms\n",
		u.Response.ManifestBytes, u.Response.Chunks, u.Response.ChunkBytes, u.Response.RadioBytes, u.Response.TransferMs)
	return nil
}

// describeUpdate is one line for an implant update acknowledgement.
func describeUpdate(r *firmware.Record) string {
	ev := r.Event
	if r.Event == firmware.EvStatus && r.Reason != "" {
		ev = "status (last event: " + r.Reason + ")"
	}
	s := fmt.Sprintf("implant: %s — running slot %s version %d, phase %s, confirmed security counter %d", ev, r.Slot, r.Version, r.Phase, r.Confirmed)
	if r.Error != "" {
		s += ": " + r.Error
	}
	return s
}
