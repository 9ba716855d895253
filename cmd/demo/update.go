package main

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/internal/scenario"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/provision"
	"github.com/implantfhe/implantfhe/update"
)

// updateChunk is the encryption chunk size of the demo's releases.
const updateChunk = 32 << 10

// refusal names the check an implant's update refusal came from.
func refusal(msg string) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{update.ErrThreshold, "signature threshold"},
		{update.ErrSignature, "signature"},
		{update.ErrRollback, "rollback"},
		{update.ErrClass, "device class"},
		{update.ErrVendor, "vendor"},
		{update.ErrDigest, "digest"},
		{update.ErrDecrypt, "decryption"},
		{update.ErrSwitchRefused, "kernel: switch not safe"},
	} {
		if strings.Contains(msg, c.err.Error()) {
			return c.name
		}
	}
	return "other"
}

// updateOutcome describes a published release by the implant's last signed
// event: "confirmed", "reverted (why)" or "refused (check)".
func updateOutcome(u *controller.UpdateResult, err error) (string, string) {
	var re *controller.RelayError
	switch {
	case errors.As(err, &re):
		return "refused by relay", scenario.FirstLine(re.Msg)
	case err != nil:
		return "error", err.Error()
	}
	last := u.Last()
	if last == nil {
		return "no answer", ""
	}
	var evs []string
	for _, v := range u.Acks {
		ev := v.Ack.Update.Event
		if ev == protocol.EvStatus {
			ev = v.Ack.Update.Last
		}
		evs = append(evs, ev.String())
	}
	detail := fmt.Sprintf("events %s; manifest %d B, %d chunks %d B, radio %d B, %d ms",
		strings.Join(evs, "→"), u.Response.ManifestBytes, u.Response.Chunks, u.Response.ChunkBytes, u.Response.RadioBytes, u.Response.TransferMs)
	ev := last.Event
	if ev == protocol.EvStatus {
		ev = last.Last
	}
	switch ev {
	case protocol.EvRefused:
		return "refused (" + refusal(last.Error) + ")", detail + "; " + scenario.FirstLine(last.Error)
	case protocol.EvReverted:
		return "reverted", detail + "; " + scenario.FirstLine(last.Error)
	case protocol.EvConfirmed:
		return "confirmed", fmt.Sprintf("now slot %s version %d, security counter %d; %s", last.Slot, last.Version, last.Confirmed, detail)
	}
	return ev.String(), detail
}

// signRelease runs `ifhe update sign` (the manufacturer's step) on image
// for the deployment under keys and returns the release.
func (d *demo) signRelease(keys, image string, version, counter int, signers string) ([]byte, error) {
	out := filepath.Join(d.root, fmt.Sprintf("release-%s-v%d.bin", filepath.Base(keys), version))
	sign := exec.Command(filepath.Join(d.bin, "ifhe"), "update", "sign", "-manufacturer", filepath.Join(keys, "manufacturer"),
		"-public", filepath.Join(keys, "public"), "-keys", signers, "-image", image,
		"-version", fmt.Sprint(version), "-counter", fmt.Sprint(counter), "-chunk", fmt.Sprint(updateChunk), "-out", out)
	if b, err := sign.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ifhe update sign: %v: %s", err, b)
	}
	return os.ReadFile(out)
}

// updateSteps plays the firmware-update path: the manufacturer signs
// releases (2 of 3 keys), the clinician publishes them through the relay,
// the implant checks, stages, asks its kernel, test-boots and confirms or
// refuses. The valid release is this build's own implant binary.
func (d *demo) updateSteps(keys, bin string) error {
	mdir, pub := filepath.Join(keys, "manufacturer"), filepath.Join(keys, "public")
	mfr, err := protocol.LoadUpdateKeys(mdir, 1, 2, 3)
	if err != nil {
		return err
	}
	pk, err := protocol.LoadPublic(pub)
	if err != nil {
		return err
	}
	dk, dev := pk.UpdatePub, pk.Device
	params := func(version, counter uint64, class uint32) update.Params {
		return update.Params{VendorID: dev.VendorID, ClassID: class, Version: version, SecurityCounter: counter,
			ChunkSize: updateChunk, Recipients: []*ecdh.PublicKey{dk}}
	}
	publish := func(rel *update.Release) (*controller.UpdateResult, error) {
		b, err := rel.Marshal()
		if err != nil {
			return nil, err
		}
		return d.client.PublishUpdate(b)
	}

	// U1. A valid release: this build's implant binary as version 2,
	// security counter 2, signed with 2 of 3 keys by `ifhe update sign`.
	relBytes, err := d.signRelease(keys, filepath.Join(bin, "implant"), 2, 2, "1,3")
	if err != nil {
		return err
	}
	got, detail := updateOutcome(d.client.PublishUpdate(relBytes))
	d.row("firmware update v2 (2 of 3 signatures)", "confirmed", got, detail)

	img := make([]byte, 1<<20)
	if _, err := rand.Read(img); err != nil {
		return err
	}
	flipped := bytes.Clone(img)
	flipped[len(flipped)/3] ^= 0x20
	for _, c := range []struct {
		step, want string
		build      func() (*update.Release, error)
	}{
		// U2. Rollback: a newer version number but an older security counter.
		{"update with security counter 1 < 2 (rollback)", "refused (rollback)", func() (*update.Release, error) {
			return update.NewRelease(img, params(3, 1, dev.ClassID), rand.Reader, mfr[0], mfr[1])
		}},
		// U3. An image for another device class (a pacemaker's).
		{"update for another device class", "refused (device class)", func() (*update.Release, error) {
			return update.NewRelease(img, params(3, 3, provision.ClassPacer), rand.Reader, mfr[0], mfr[1])
		}},
		// U4. One flipped byte after hashing (a faulty build): every chunk
		// authenticates, the staged image's digest does not match.
		{"update image with one flipped byte", "refused (digest)", func() (*update.Release, error) {
			return update.NewMismatchedRelease(img, flipped, params(3, 3, dev.ClassID), rand.Reader, mfr[0], mfr[1])
		}},
		// U5. Only one of the two required signatures.
		{"update with 1 of 2 required signatures", "refused (signature threshold)", func() (*update.Release, error) {
			return update.NewRelease(img, params(3, 3, dev.ClassID), rand.Reader, mfr[2])
		}},
		// U6. Properly signed, but not a program for this board: it stages
		// and test-boots, fails its self-test and the implant reverts
		// (MCUboot's test/confirm/revert).
		{"signed update that fails its trial self-test", "reverted", func() (*update.Release, error) {
			return update.NewRelease(img, params(3, 3, dev.ClassID), rand.Reader, mfr[0], mfr[1])
		}},
	} {
		rel, err := c.build()
		if err != nil {
			return err
		}
		got, detail := updateOutcome(publish(rel))
		d.row(c.step, c.want, got, detail)
	}

	// U7. Status through `ifhe update status`: still version 2, counter 2.
	st := exec.Command(filepath.Join(bin, "ifhe"), "update", "status", "-clinic", filepath.Join(keys, "clinic"), "-relay", d.relay.Addr)
	out, err := st.CombinedOutput()
	res := "failed"
	if err == nil && strings.Contains(string(out), "version 2,") && strings.Contains(string(out), "confirmed security counter 2") {
		res = "v2 running, counter 2"
	}
	d.row("update status (ifhe update status)", "v2 running, counter 2", res, scenario.FirstLine(strings.TrimSpace(string(out))))

	// U8. Manufacturer key rotation: `ifhe update rotate` makes three new
	// keys and root v2, signed by 2 current and the new keys; the implant
	// takes it only with a threshold of both.
	rootFile := filepath.Join(d.root, "update-root-v2.cbor")
	rot := exec.Command(filepath.Join(bin, "ifhe"), "update", "rotate", "-manufacturer", mdir, "-public", pub,
		"-old", "1,2", "-new", "3", "-threshold", "2", "-out", rootFile)
	if b, err := rot.CombinedOutput(); err != nil {
		return fmt.Errorf("ifhe update rotate: %v: %s", err, b)
	}
	rb, err := os.ReadFile(rootFile)
	if err != nil {
		return err
	}
	res, detail = "failed", ""
	if r, err := d.client.RotateRoot(rb); err != nil {
		detail = err.Error()
	} else {
		u := r.Ack.Update
		res, detail = u.Event.String(), fmt.Sprintf("trust root v%d; signed root %d B", u.RootVersion, len(rb))
		if u.Error != "" {
			detail += "; " + scenario.FirstLine(u.Error)
		}
	}
	d.row("manufacturer key rotation (root v2, 2 old + 3 new signatures)", protocol.EvRootRotated.String(), res, detail)

	// U9. After the rotation, a release signed with two retired keys.
	rel, err := update.NewRelease(img, params(3, 3, dev.ClassID), rand.Reader, mfr[0], mfr[1])
	if err != nil {
		return err
	}
	got, detail = updateOutcome(publish(rel))
	d.row("update signed with retired keys", "refused (signature threshold)", got, detail)
	return nil
}
