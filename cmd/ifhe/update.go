package main

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/provision"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

func cmdUpdate(verb string, args []string) error {
	switch verb {
	case "sign":
		return cmdUpdateSign(args)
	case "publish", "status", "publish-root":
		return cmdUpdateRelay(verb, args)
	case "rotate":
		return cmdUpdateRotate(args)
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
	pk, err := protocol.LoadPublic(*pub)
	if err != nil {
		return err
	}
	dev, dk := pk.Device, pk.UpdatePub
	signers, err := readUpdateKeys(*mdir, *keys)
	if err != nil {
		return fmt.Errorf("update sign: %w", err)
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

// readUpdateKeys reads the manufacturer keys named by a list of numbers
// ("1,3": update-1.key and update-3.key).
func readUpdateKeys(dir, list string) ([]*wire.SigningKey, error) {
	var nums []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("key list %q: %w", list, err)
		}
		nums = append(nums, n)
	}
	return protocol.LoadUpdateKeys(dir, nums...)
}

// cmdUpdateRotate is the manufacturer's key rotation: new keys are
// generated next to the old ones, and the new root (version + 1) is signed
// by the named current keys and by every new key, as the implant requires
// (a threshold of each). It is written to -out and becomes public/'s root.
func cmdUpdateRotate(args []string) error {
	fs := flag.NewFlagSet("update rotate", flag.ExitOnError)
	mdir := fs.String("manufacturer", "", "the manufacturer's key directory")
	pub := fs.String("public", "", "the deployment's public directory (the current root)")
	old := fs.String("old", "1,2", "current keys that authorise the rotation")
	n := fs.Int("new", 3, "new keys to generate")
	threshold := fs.Int("threshold", 2, "signatures the new root requires")
	out := fs.String("out", "", "signed root file to write")
	_ = fs.Parse(args)
	if *mdir == "" || *pub == "" || *out == "" {
		return errors.New("update rotate: -manufacturer, -public and -out are required")
	}
	pk, err := protocol.LoadPublic(*pub)
	if err != nil {
		return err
	}
	cur := pk.UpdateRoot
	oldKeys, err := readUpdateKeys(*mdir, *old)
	if err != nil {
		return fmt.Errorf("update rotate: %w", err)
	}
	newKeys, err := provision.AddUpdateKeys(*mdir, *n, rand.Reader)
	if err != nil {
		return err
	}
	var pubs []wire.TrustedKey
	for _, k := range newKeys {
		pubs = append(pubs, k.Public())
	}
	root, err := update.NewTrustRoot(cur.Version+1, *threshold, pubs...)
	if err != nil {
		return err
	}
	sr, err := update.SignRoot(root, append(oldKeys, newKeys...)...)
	if err != nil {
		return err
	}
	b, err := sr.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, b, 0o600); err != nil {
		return err
	}
	tmp := filepath.Join(*pub, protocol.FileUpdateRoot+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(*pub, protocol.FileUpdateRoot)); err != nil {
		return err
	}
	fmt.Printf("rotated the update root to v%d: %d new keys, %d required, signed by %d current and %d new keys (%s)\n",
		root.Version, len(newKeys), *threshold, len(oldKeys), len(newKeys), *out)
	return nil
}

func cmdUpdateRelay(verb string, args []string) error {
	fs := flag.NewFlagSet("update "+verb, flag.ExitOnError)
	dir := fs.String("clinic", "", "the clinic's key directory")
	relayURL := fs.String("relay", "", "relay base URL")
	relFile := fs.String("release", "", "release file (publish)")
	rootFile := fs.String("root", "", "signed root file (publish-root)")
	_ = fs.Parse(args)
	if *dir == "" || *relayURL == "" {
		return fmt.Errorf("update %s: -clinic and -relay are required", verb)
	}
	k, err := protocol.LoadClinic(*dir)
	if err != nil {
		return err
	}
	cl := controller.NewClient(*relayURL, k)
	if verb == "publish-root" {
		if *rootFile == "" {
			return errors.New("update publish-root: -root is required")
		}
		b, err := os.ReadFile(*rootFile)
		if err != nil {
			return err
		}
		r, err := cl.RotateRoot(b)
		if err != nil {
			return err
		}
		fmt.Println(describeUpdate(r))
		return nil
	}
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

// describeUpdate is one line for an implant update acknowledgement. A
// status names the running image; other events the image they concern.
func describeUpdate(v *controller.Verified) string {
	r := v.Ack.Update
	var s string
	if r.Event == protocol.EvStatus {
		last := ""
		if r.Last != protocol.EvNone {
			last = " (last event: " + r.Last.String() + ")"
		}
		s = fmt.Sprintf("implant: status%s — running slot %s version %d, phase %s, confirmed security counter %d, trust root v%d",
			last, r.Slot, r.Version, r.Phase, r.Confirmed, r.RootVersion)
	} else {
		s = fmt.Sprintf("implant: %s — image version %d, security counter %d; active slot %s, phase %s, confirmed security counter %d, trust root v%d",
			r.Event, r.Version, r.SecCtr, r.Slot, r.Phase, r.Confirmed, r.RootVersion)
	}
	if r.Error != "" {
		s += ": " + r.Error
	}
	if v.Private != nil && v.Private.Reason != 0 {
		s += " (kernel: " + v.Private.Reason.String() + ")"
	}
	return s
}
