package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/implantfhe/implantfhe/hal/board"
	"github.com/implantfhe/implantfhe/hal/filestore"
	"github.com/implantfhe/implantfhe/hal/sim"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
)

// Self-test failures.
var (
	// ErrKnownAnswer: a cryptographic primitive gave a wrong answer to a
	// published test vector.
	ErrKnownAnswer = errors.New("selftest: known-answer test failed")
	// ErrKernelScript: the scripted kernel run broke an invariant or decided
	// differently from the script.
	ErrKernelScript = errors.New("selftest: kernel script failed")
)

// selftestBroken, set at link time (-ldflags "-X main.selftestBroken=why"),
// builds an image whose power-on self-test fails: what a faulty build that
// is correctly signed looks like, for the trial-boot tests and the demo.
var selftestBroken = ""

type check struct {
	name string
	run  func() (detail string, err error)
}

// runSelftest runs every check, prints one line per check and a summary,
// and returns the exit code (0 only if all passed).
func runSelftest(w io.Writer, keysDir, boardPath string) int {
	checks := []check{
		{"sha256-kat", sha256KAT},
		{"ed25519-kat", ed25519KAT},
		{"keys", func() (string, error) { return checkKeys(keysDir) }},
		{"hal", func() (string, error) { return checkHAL(boardPath) }},
		{"kernel", kernelScript},
	}
	if selftestBroken != "" {
		checks = append(checks, check{"build", func() (string, error) { return "", errors.New(selftestBroken) }})
	}
	failed := 0
	for _, c := range checks {
		detail, err := c.run()
		if err != nil {
			failed++
			fmt.Fprintf(w, "selftest: %-12s FAIL %v\n", c.name, err)
			continue
		}
		fmt.Fprintf(w, "selftest: %-12s ok   %s\n", c.name, detail)
	}
	fmt.Fprintf(w, "selftest: %d passed, %d failed\n", len(checks)-failed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err) // constant test vectors
	}
	return b
}

// sha256KAT: FIPS 180-2 Appendix B.1 ("abc") and the empty message.
func sha256KAT() (string, error) {
	for _, v := range []struct{ msg, digest string }{
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	} {
		if got := sha256.Sum256([]byte(v.msg)); !bytes.Equal(got[:], unhex(v.digest)) {
			return "", fmt.Errorf("%w: SHA-256(%q) = %x", ErrKnownAnswer, v.msg, got)
		}
	}
	return "FIPS 180-2 B.1 and empty message", nil
}

// ed25519KAT: RFC 8032 section 7.1, TEST 1 and TEST 2: the public key
// derived from the seed, the deterministic signature, its verification, and
// the refusal of a signature with one flipped bit.
func ed25519KAT() (string, error) {
	for i, v := range []struct{ seed, pub, msg, sig string }{
		{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
			"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
			"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
		{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
			"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	} {
		key := ed25519.NewKeyFromSeed(unhex(v.seed))
		pub, _ := key.Public().(ed25519.PublicKey)
		msg, want := unhex(v.msg), unhex(v.sig)
		switch sig := ed25519.Sign(key, msg); {
		case !bytes.Equal(pub, unhex(v.pub)):
			return "", fmt.Errorf("%w: RFC 8032 TEST %d: public key %x", ErrKnownAnswer, i+1, pub)
		case !bytes.Equal(sig, want):
			return "", fmt.Errorf("%w: RFC 8032 TEST %d: signature %x", ErrKnownAnswer, i+1, sig)
		case !ed25519.Verify(pub, msg, want):
			return "", fmt.Errorf("%w: RFC 8032 TEST %d: valid signature refused", ErrKnownAnswer, i+1)
		}
		bad := bytes.Clone(want)
		bad[5] ^= 0x10
		if ed25519.Verify(pub, msg, bad) {
			return "", fmt.Errorf("%w: RFC 8032 TEST %d: flipped signature accepted", ErrKnownAnswer, i+1)
		}
	}
	return "RFC 8032 7.1 TEST 1, TEST 2 (sign, verify, flipped bit refused)", nil
}

func checkKeys(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no -keys directory")
	}
	_, k, err := loadKeys(dir)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("device %s (%s), every key file checked: FHE keys, signing key, trust list, binding key, seal key, update root and key, limits", k.Device.ID, k.Device.Kind), nil
}

// checkHAL reaches every device of the board description without driving
// anything, or exercises the simulator's storage, clock and pump.
func checkHAL(boardPath string) (string, error) {
	if boardPath != "" {
		cfg, err := board.LoadConfig(boardPath)
		if err != nil {
			return "", err
		}
		if err := board.Probe(cfg, board.Real()); err != nil {
			return "", err
		}
		return "board " + cfg.Name, nil
	}
	dir, err := os.MkdirTemp("", "implant-selftest-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	st, err := filestore.Open(dir)
	if err != nil {
		return "", err
	}
	if err := st.Append("probe", []byte("implantfhe")); err != nil {
		return "", err
	}
	if b, err := st.ReadAll("probe"); err != nil || string(b) != "implantfhe" {
		return "", fmt.Errorf("storage read back %q: %v", b, err)
	}
	clock := sim.NewClock()
	if a, b := clock.Now(), clock.Now(); b < a {
		return "", fmt.Errorf("clock went back: %d then %d", a, b)
	}
	p, err := sim.NewPump(st, 20000)
	if err != nil {
		return "", err
	}
	if _, err := p.Reservoir(); err != nil {
		return "", err
	}
	return "sim (storage, clock, pump)", nil
}

// kernelScript runs the pump kernel through a short script and checks each
// decision and mode the script expects, and that nothing is delivered in
// Alarm or Fault. (The model checker's observer is not linked into the
// firmware: the self-test checks this build's kernel against known answers.)
func kernelScript() (string, error) {
	cfg := pump.DefaultConfig(pump.ProfileAdult)
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	s := pump.NewState()
	lim := pumpLimits(&protocol.DefaultPumpLimits)
	lim.MinBolusInterval = 0 // the script's boluses come back to back
	now := units.Millis(0)
	hdr := func(ctr uint64, issued units.Millis, signer guard.Role) guard.Header {
		return guard.Header{Counter: ctr, IssuedAtMs: issued, ExpiresAtMs: issued + units.Minute, Signer: signer}
	}
	bolus := func(amt units.CentiUnits, v guard.Verdict, h guard.Header) pump.Input {
		return pump.Input{Kind: pump.InCommand, Cmd: pump.Command{Kind: pump.CmdBolus, Amount: amt, Verdict: v, Header: h}}
	}
	script := []struct {
		name string
		in   pump.Input
		want reason.Code // for commands; ignored otherwise
		mode pump.Mode   // expected mode after the step; ModeInit means "don't care"
	}{
		{"reservoir", pump.Input{Kind: pump.InHAL, HAL: pump.HALReservoir, ReservoirCU: 20000}, 0, pump.ModeInit},
		{"program limits", pump.Input{Kind: pump.InCommand, Cmd: pump.Command{Kind: pump.CmdProgramLimits, Limits: lim, Header: hdr(1, 0, guard.RoleClinician)}}, reason.OK, pump.ModeIdle},
		{"glucose", pump.Input{Kind: pump.InGlucose, Glucose: 120}, 0, pump.ModeIdle},
		{"bolus 3.00 U", bolus(300, guard.VerdictWithin, hdr(2, 0, guard.RoleClinician)), reason.OK, pump.ModeInit},
		{"delivery done", pump.Input{Kind: pump.InHAL, HAL: pump.HALDeliveryDone}, 0, pump.ModeIdle},
		{"over max", bolus(800, guard.VerdictOutside, hdr(3, 0, guard.RoleClinician)), reason.BolusOverMax, pump.ModeIdle},
		{"lying verdict", bolus(800, guard.VerdictWithin, hdr(4, 0, guard.RoleClinician)), reason.VerdictMismatch, pump.ModeInit},
		{"replay", bolus(100, guard.VerdictWithin, hdr(2, 0, guard.RoleClinician)), reason.Replay, pump.ModeInit},
		{"unsigned", bolus(100, guard.VerdictWithin, hdr(9, 0, guard.RoleNone)), reason.Unauthenticated, pump.ModeInit},
		{"tick", pump.Input{Kind: pump.InTick, NowMs: 2 * units.Minute}, 0, pump.ModeInit},
		{"expired", bolus(100, guard.VerdictWithin, hdr(10, 0, guard.RoleClinician)), reason.Expired, pump.ModeInit},
		{"occlusion", pump.Input{Kind: pump.InHAL, HAL: pump.HALOcclusion}, 0, pump.ModeAlarm},
		{"bolus in alarm", bolus(100, guard.VerdictWithin, hdr(11, 2*units.Minute, guard.RoleClinician)), reason.AlarmActive, pump.ModeAlarm},
		{"watchdog", pump.Input{Kind: pump.InHAL, HAL: pump.HALWatchdog}, 0, pump.ModeFault},
	}
	for i, st := range script {
		in := st.in
		if in.NowMs == 0 {
			in.NowMs = now
		}
		now = in.NowMs
		if in.Kind == pump.InGlucose {
			in.GlucoseAtMs = now
		}
		nxt, outs := pump.Step(&cfg, s, in)
		if (nxt.Mode == pump.ModeAlarm || nxt.Mode == pump.ModeFault) && outs.Delivered() != 0 {
			return "", fmt.Errorf("%w: step %d (%s): %d delivered in %v", ErrKernelScript, i, st.name, outs.Delivered(), nxt.Mode)
		}
		s = nxt
		if in.Kind == pump.InCommand {
			got, found := reason.Code(255), false
			for _, o := range outs.All() {
				if o.Kind == pump.OutDecision {
					got, found = o.Reason, true
				}
			}
			if !found || got != st.want {
				return "", fmt.Errorf("%w: step %d (%s): decision %v, want %v", ErrKernelScript, i, st.name, got, st.want)
			}
		}
		if st.mode != pump.ModeInit && s.Mode != st.mode {
			return "", fmt.Errorf("%w: step %d (%s): mode %v, want %v", ErrKernelScript, i, st.name, s.Mode, st.mode)
		}
	}
	return fmt.Sprintf("%d steps, every decision and mode as expected", len(script)), nil
}
