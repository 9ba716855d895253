package firmware_test

import (
	"bytes"
	"crypto/rand"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/wire"
)

const device = "pump-0001"

var limits = pump.Limits{MaxBolus: 500, MaxBasal: 200, MaxIOB: 1500, MaxDaily: 4000,
	MinBolusInterval: 0, SuspendBelow: 70, ScheduledBasal: 0}

// world is one clinician, one relay and one implant on a mock board, with
// test-only FHE parameters (TestOnlyN12: the proven circuit on a ring too
// small to be secure).
type world struct {
	t       *testing.T
	board   *mock.Board
	im      *firmware.Implant
	keys    firmware.Keys
	cfg     firmware.Config
	ctl     *controller.Controller
	dev     *relay.Device
	relayK  *wire.SigningKey
	counter uint64
}

var (
	keysOnce sync.Once
	implantK *fhe.SecretKeys
	relayFHE *fhe.RelayKeys
)

func fheKeys(t *testing.T) (*fhe.SecretKeys, *fhe.RelayKeys) {
	keysOnce.Do(func() {
		p, err := fhe.NewParams(fhe.TestOnlyN12)
		require.NoError(t, err)
		implantK, err = fhe.GenerateKeys(p, fhe.DomainImplant)
		require.NoError(t, err)
		relayFHE, err = implantK.RelayKeys()
		require.NoError(t, err)
	})
	return implantK, relayFHE
}

func newWorld(t *testing.T) *world { return newWorldWith(t, nil) }

// newWorldWith builds a world; setup runs before the first boot.
func newWorldWith(t *testing.T, setup func(*world)) *world {
	sk, rk := fheKeys(t)
	clin, err := wire.GenerateSigningKey(guard.RoleClinician, rand.Reader)
	require.NoError(t, err)
	rel, err := wire.GenerateSigningKey(guard.RoleRelay, rand.Reader)
	require.NoError(t, err)
	imp, err := wire.GenerateSigningKey(guard.RoleImplant, rand.Reader)
	require.NoError(t, err)
	trust, err := wire.NewTrustList(clin.Public(), rel.Public())
	require.NoError(t, err)
	relayTrust, err := wire.NewTrustList(clin.Public())
	require.NoError(t, err)
	bind := bytes.Repeat([]byte{0x5a}, wire.BindKeySize)
	w := &world{t: t, board: mock.New(mock.Config{Seed: 1, ReservoirCU: 20000}), relayK: rel}
	w.keys = firmware.Keys{FHE: sk, Signer: imp, Trust: trust, BindKey: bind}
	w.cfg = firmware.Config{DeviceID: device, Pump: pump.DefaultConfig(pump.ProfileAdult)}
	w.ctl = &controller.Controller{DeviceID: device, Signer: clin, Implant: rk.PublicKey(), BindKey: bind, ValidityMs: 60_000}
	w.dev = &relay.Device{ID: device, Eval: fhe.NewRelay(rk), Signer: rel, MaxCmdAge: 300_000,
		Verifier: wire.Verifier{DeviceID: device, Trust: relayTrust, MaxFrame: wire.MaxFrame}}
	lim, err := w.ctl.EncryptLimits(pump.CmdBolus, int64(limits.MaxBolus))
	require.NoError(t, err)
	require.NoError(t, w.dev.SetLimits(pump.CmdBolus, lim))
	if setup != nil {
		setup(w)
	}
	w.boot()
	// Provisioning programs the limits directly through the kernel (the
	// radio path for program-limits is not part of this protocol version).
	st := w.im.State()
	require.Equal(t, pump.ModeInit, st.Mode)
	w.program()
	return w
}

func (w *world) boot() {
	im, err := firmware.Boot(w.cfg, w.keys, w.board.HAL())
	require.NoError(w.t, err)
	w.im = im
}

func (w *world) program() {
	w.counter++
	out, _, err := w.im.HandleProgram(pump.Command{Kind: pump.CmdProgramLimits, Limits: limits,
		Header: guard.Header{Counter: w.counter, IssuedAtMs: w.im.State().NowMs, ExpiresAtMs: w.im.State().NowMs + 1000, Signer: guard.RoleClinician}})
	require.NoError(w.t, err)
	require.True(w.t, out.Accepted, "program limits: %s", out.Reason)
	w.board.Glucose.Set(120)
	require.NoError(w.t, w.im.Tick())
}

func (w *world) bundle(kind pump.CommandKind, values ...int64) []byte {
	w.counter++
	env, err := w.ctl.Command(kind, w.counter, w.im.State().NowMs, values...)
	require.NoError(w.t, err)
	f, err := env.Marshal()
	require.NoError(w.t, err)
	res, err := w.dev.Process(f, int64(w.im.State().NowMs))
	require.NoError(w.t, err)
	return res.Bundle
}

func TestInLimitBolusIsDeliveredAndAcknowledged(t *testing.T) {
	w := newWorld(t)
	b := w.bundle(pump.CmdBolus, 300)
	assert.LessOrEqual(t, len(b), wire.MaxRadioFrame, "the bundle fits the radio")
	out, ack, err := w.im.HandleFrame(b)
	require.NoError(t, err)
	require.NoError(t, out.Refused)
	assert.True(t, out.Accepted, "reason %s", out.Reason)
	assert.Equal(t, units.CentiUnits(300), out.Delivered)
	assert.Equal(t, units.CentiUnits(300), w.board.Pump.Delivered())
	assert.Equal(t, []int64{300}, out.Values)

	trust, err := wire.NewTrustList(w.keys.Signer.Public())
	require.NoError(t, err)
	v := wire.Verifier{DeviceID: device, Trust: trust, MaxFrame: wire.MaxFrame}
	env, _, err := v.Verify(ack, wire.KindAck, wire.Freshness{NowMs: int64(w.im.State().NowMs), MaxValidityMs: 300_000}, false)
	require.NoError(t, err)
	rec, err := firmware.DecodeRecord(env.Body)
	require.NoError(t, err)
	assert.True(t, rec.Accepted)
}

func TestOverLimitBolusIsRefusedByVerdictAndKernel(t *testing.T) {
	w := newWorld(t)
	out, _, err := w.im.HandleFrame(w.bundle(pump.CmdBolus, 800))
	require.NoError(t, err)
	require.NoError(t, out.Refused)
	assert.False(t, out.Accepted)
	assert.Equal(t, reason.BolusOverMax, out.Reason, "verdict outside and exact check agree")
	assert.Zero(t, w.board.Pump.Delivered())
}

func TestRefusedFramesNeverReachTheKernel(t *testing.T) {
	w := newWorld(t)
	good := w.bundle(pump.CmdBolus, 200)
	flip := func(b []byte, at int) []byte { c := append([]byte(nil), b...); c[at] ^= 0x01; return c }
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"garbage", []byte{1, 2, 3}, wire.ErrMalformed},
		{"bit flip in the radio ciphertext", flip(good, len(good)-200), wire.ErrBodyDigest},
		{"bit flip in the command signature", flip(good, 100), wire.ErrSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := w.im.State()
			out, ack, err := w.im.HandleFrame(tc.frame)
			require.NoError(t, err)
			assert.ErrorIs(t, out.Refused, tc.want)
			assert.NotEmpty(t, ack, "refusals are acknowledged")
			assert.Equal(t, before, w.im.State(), "a refused frame changes nothing")
			assert.Zero(t, w.board.Pump.Delivered())
		})
	}
	// The intact frame still works afterwards; then its replay is refused.
	out, _, err := w.im.HandleFrame(good)
	require.NoError(t, err)
	assert.True(t, out.Accepted, "reason %s / %v", out.Reason, out.Refused)
	out, _, err = w.im.HandleFrame(good)
	require.NoError(t, err)
	assert.ErrorIs(t, out.Refused, wire.ErrReplay)
	assert.Equal(t, units.CentiUnits(200), w.board.Pump.Delivered(), "delivered once")
}

// A relay that substitutes its own encryption of another dose (it holds
// pk_I) is caught by the clinician's value commitment.
func TestRelaySubstitutionIsCaughtByTheCommitment(t *testing.T) {
	w := newWorld(t)
	w.counter++
	env, err := w.ctl.Command(pump.CmdBolus, w.counter, w.im.State().NowMs, 100)
	require.NoError(t, err)
	evil := *w.ctl
	evil.BindKey = bytes.Repeat([]byte{1}, wire.BindKeySize)
	forged, err := evil.Command(pump.CmdBolus, w.counter, w.im.State().NowMs, 500)
	require.NoError(t, err)
	// Relay keeps the clinician's signed header but compares the forged body.
	env.Body = forged.Body
	env.Header.BodyDigest = forged.Header.BodyDigest
	f, err := env.Marshal()
	require.NoError(t, err)
	_, err = w.dev.Process(f, int64(w.im.State().NowMs))
	assert.ErrorIs(t, err, wire.ErrSignature, "an honest relay refuses it")
	// A malicious relay skips its checks: build the bundle by hand.
	sk, rk := fheKeys(t)
	_ = sk
	schema, _ := firmware.Schema(pump.CmdBolus)
	ct, err := rk.PublicKey().EncryptCommand(schema, []int64{500})
	require.NoError(t, err)
	lim, err := rk.PublicKey().EncryptLimits(schema, []int64{500})
	require.NoError(t, err)
	ev := fhe.NewRelay(rk)
	v, err := ev.Compare(schema, ct, lim)
	require.NoError(t, err)
	pkt, err := ev.ForImplant(schema, ct, v)
	require.NoError(t, err)
	body, err := pkt.MarshalBinary()
	require.NoError(t, err)
	orig, err := w.ctl.Command(pump.CmdBolus, w.counter, w.im.State().NowMs, 100)
	require.NoError(t, err)
	digest, err := orig.Header.HeaderDigest()
	require.NoError(t, err)
	venv, err := wire.Seal(wire.Header{Kind: wire.KindVerdict, DeviceID: device, Counter: 99, IssuedAtMs: orig.Header.IssuedAtMs,
		ExpiresAtMs: orig.Header.ExpiresAtMs, Subkind: orig.Header.Subkind, Bind: digest[:]}, body, w.relayK)
	require.NoError(t, err)
	cf, err := orig.Detached().Marshal()
	require.NoError(t, err)
	vf, err := venv.Marshal()
	require.NoError(t, err)
	bundle, err := (&wire.Bundle{Command: cf, Verdict: vf}).Marshal()
	require.NoError(t, err)
	out, _, err := w.im.HandleFrame(bundle)
	require.NoError(t, err)
	assert.ErrorIs(t, out.Refused, firmware.ErrCommitment)
	assert.Zero(t, w.board.Pump.Delivered())
}

// Power cut at every storage operation of a bolus: after restart the log
// verifies, the bolus was delivered at most once, and if its step record
// persisted the kernel remembers it (no second delivery of the same command).
func TestPowerCutAtEveryWriteNeverRepeatsADelivery(t *testing.T) {
	for cut := int64(0); cut <= 6; cut++ {
		t.Run("", func(t *testing.T) {
			w2 := newWorld(t)
			f := w2.bundle(pump.CmdBolus, 250)
			w2.board.Storage.CutPowerAtOp(cut)
			_, _, _ = w2.im.HandleFrame(f)
			delivered := w2.board.Pump.Delivered()
			w2.board.Restart()
			w2.boot()
			require.NoError(t, w2.im.Tick(), "fresh glucose after boot")
			data, _ := w2.board.Storage.Peek("implant.log")
			_, _, err := implog.Verify(data)
			require.NoError(t, err, "log verifies after a cut at op %d", cut)
			// Retrying the same frame never delivers twice.
			out, _, err := w2.im.HandleFrame(f)
			require.NoError(t, err)
			total := w2.board.Pump.Delivered()
			assert.LessOrEqual(t, total, units.CentiUnits(250), "cut at op %d: delivered %d then %d (%+v)", cut, delivered, total, out)
			t.Logf("cut at op %d: delivered before the cut %d, after retry %d, retry accepted=%v refused=%v interrupted=%v", cut, delivered, total, out.Accepted, out.Refused, w2.im.Interrupted)
			if delivered > 0 || w2.im.Interrupted {
				assert.True(t, out.Refused != nil || !out.Accepted, "a persisted command is not executed again")
			} else {
				assert.True(t, out.Accepted, "a command cut before its record was persisted runs on retry (%s, %v)", out.Reason, out.Refused)
				assert.Equal(t, units.CentiUnits(250), total)
			}
		})
	}
}
