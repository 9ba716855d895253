package firmware_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"sync"
	"testing"

	"github.com/fxamacker/cbor/v2"
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
	"github.com/implantfhe/implantfhe/protocol"
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
	seal    *ecdh.PrivateKey
	limits  *pump.Limits // nil: limits
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
	seal, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	w.seal = seal
	w.keys = firmware.Keys{FHE: sk, Signer: imp, Trust: trust, BindKey: bind, AckSeal: seal.PublicKey()}
	w.cfg = firmware.Config{DeviceID: device, Pump: pump.DefaultConfig(pump.ProfileAdult)}
	w.ctl = &controller.Controller{DeviceID: device, Kind: protocol.KindPump, Signer: clin, Implant: rk.PublicKey(), BindKey: bind, ValidityMs: 60_000}
	w.dev = &relay.Device{ID: device, Kind: protocol.KindPump, Eval: fhe.NewRelay(rk), Signer: rel, MaxCmdAge: 300_000,
		Verifier: wire.Verifier{DeviceID: device, Trust: relayTrust, MaxFrame: wire.MaxFrame}}
	lim, err := w.ctl.EncryptLimits(protocol.PumpBolus, int64(limits.MaxBolus))
	require.NoError(t, err)
	require.NoError(t, w.dev.SetLimits(protocol.PumpBolus, lim))
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
	lim := limits
	if w.limits != nil {
		lim = *w.limits
	}
	out, _, err := w.im.HandleProgram(pump.Command{Kind: pump.CmdProgramLimits, Limits: lim,
		Header: guard.Header{Counter: w.counter, IssuedAtMs: w.im.State().NowMs, ExpiresAtMs: w.im.State().NowMs + 1000, Signer: guard.RoleClinician}})
	require.NoError(w.t, err)
	require.True(w.t, out.Accepted, "program limits: %s", out.Reason)
	w.board.Glucose.Set(120)
	require.NoError(w.t, w.im.Tick())
}

func (w *world) bundle(kind pump.CommandKind, values ...int64) []byte {
	w.counter++
	env, err := w.ctl.Command(uint8(kind), w.counter, w.im.State().NowMs, values...)
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

	_, a, p := w.openAck(ack)
	assert.Equal(t, protocol.AckDecision, a.Kind)
	assert.Equal(t, w.counter, a.Answers.Counter, "the acknowledgement names the command it answers")
	assert.True(t, p.Accepted)
	assert.Equal(t, []int64{300}, p.Delivered)
}

// openAck verifies an acknowledgement as the clinic does and opens its
// sealed part.
func (w *world) openAck(ack []byte) (*wire.Envelope, *protocol.Ack, *protocol.Private) {
	trust, err := wire.NewTrustList(w.keys.Signer.Public())
	require.NoError(w.t, err)
	v := wire.Verifier{DeviceID: device, Trust: trust, MaxFrame: wire.MaxFrame}
	env, _, err := v.Verify(ack, wire.KindAck, wire.Freshness{NowMs: 0, MaxValidityMs: 1 << 40}, false)
	require.NoError(w.t, err)
	a, err := protocol.DecodeAck(env.Body)
	require.NoError(w.t, err)
	var p *protocol.Private
	if len(a.Sealed) > 0 {
		p, err = protocol.OpenPrivate(w.seal, device, a)
		require.NoError(w.t, err)
	}
	return env, a, p
}

// cborInts collects every integer of a generically decoded CBOR value
// (byte strings, i.e. sealed or encrypted parts, are opaque).
func cborInts(v any, out *[]int64) {
	switch x := v.(type) {
	case uint64:
		*out = append(*out, int64(x))
	case int64:
		*out = append(*out, x)
	case []any:
		for _, e := range x {
			cborInts(e, out)
		}
	case map[any]any:
		for k, e := range x {
			cborInts(k, out)
			cborInts(e, out)
		}
	}
}

// TestAckCarriesNoTherapyValueInClear: the acknowledgement the relay stores
// and forwards has the dose, the delivery and the decision only in its
// sealed part. (Before the protocol package the ack was the plaintext log
// record {cmd bolus, ctr, values [287], deliver [287], accepted}.)
func TestAckCarriesNoTherapyValueInClear(t *testing.T) {
	w := newWorld(t)
	const dose = 287
	out, ack, err := w.im.HandleFrame(w.bundle(pump.CmdBolus, dose))
	require.NoError(t, err)
	require.True(t, out.Accepted)
	env, _, p := w.openAck(ack)
	require.Equal(t, []int64{dose}, p.Values, "the clinic reads the dose")
	var generic any
	require.NoError(t, cbor.Unmarshal(env.Body, &generic))
	var ints []int64
	cborInts(generic, &ints)
	assert.NotContains(t, ints, int64(dose), "the dose in clear in the acknowledgement body %x", env.Body)
	// The detector itself finds the old plaintext form.
	var old any
	require.NoError(t, cbor.Unmarshal([]byte{0xa2, 0x06, 0x81, 0x19, 0x01, 0x1f, 0x07, 0xf5}, &old))
	ints = ints[:0]
	cborInts(old, &ints)
	assert.Contains(t, ints, int64(dose))
	for _, h := range []int64{env.Header.IssuedAtMs, env.Header.ExpiresAtMs, int64(env.Header.Counter), int64(env.Header.Subkind)} {
		assert.NotEqual(t, int64(dose), h, "header field equal to the dose")
	}
}

// TestAckCountersNeverRepeat: status replies and refusals are not logged,
// yet no acknowledgement counter is ever signed twice, across reboots
// (regression: after a restart the implant signed counters again).
func TestAckCountersNeverRepeat(t *testing.T) {
	w := newWorld(t)
	seen := map[uint64]bool{}
	var last uint64
	for boot := 0; boot < 4; boot++ {
		for i := 0; i < 5; i++ {
			st, err := w.im.Status()
			require.NoError(t, err)
			env, _, _ := w.openAck(st)
			require.False(t, seen[env.Header.Counter], "boot %d: ack counter %d signed twice", boot, env.Header.Counter)
			require.Greater(t, env.Header.Counter, last)
			seen[env.Header.Counter], last = true, env.Header.Counter
		}
		w.boot()
	}
}

// TestLogCutToARecordBoundaryDoesNotReopenReplay: the command counter lives
// in the A/B counter store as well as the log, so a log cut back to the
// record boundary before a command (storage rolled back, a record lost)
// cannot make the same signed bundle run again.
func TestLogCutToARecordBoundaryDoesNotReopenReplay(t *testing.T) {
	w := newWorld(t)
	st := w.board.HAL().Storage
	before, err := st.ReadAll("implant.log")
	require.NoError(t, err)
	b := w.bundle(pump.CmdBolus, 200)
	out, _, err := w.im.HandleFrame(b)
	require.NoError(t, err)
	require.True(t, out.Accepted)
	require.NoError(t, st.Truncate("implant.log", int64(len(before))))
	w.boot()
	out, ack, err := w.im.HandleFrame(b)
	require.NoError(t, err)
	require.ErrorIs(t, out.Refused, wire.ErrReplay, "the bundle ran again after the log was cut back")
	_, a, _ := w.openAck(ack)
	assert.Equal(t, protocol.RefusedReplay, a.Refusal)
	assert.Equal(t, units.CentiUnits(200), w.board.Pump.Delivered(), "delivered once")
}

// TestAnswerQueryReturnsTheDecision: asked about a command, the implant
// answers with its signed decision; about an unknown one, with "no
// decision" and its last counter.
func TestAnswerQueryReturnsTheDecision(t *testing.T) {
	w := newWorld(t)
	b := w.bundle(pump.CmdBolus, 150)
	_, ack, err := w.im.HandleFrame(b)
	require.NoError(t, err)
	_, a, _ := w.openAck(ack)
	q, err := protocol.EncodeQuery(*a.Answers)
	require.NoError(t, err)
	ans, err := w.im.Answer(q)
	require.NoError(t, err)
	_, qa, qp := w.openAck(ans)
	assert.Equal(t, protocol.AckAnswer, qa.Kind)
	assert.True(t, qa.Answers.Equal(a.Answers))
	assert.True(t, qp.Known && qp.Accepted)
	assert.Equal(t, []int64{150}, qp.Delivered)
	// A reboot keeps the answer (rebuilt from the log).
	w.boot()
	ans, err = w.im.Answer(q)
	require.NoError(t, err)
	_, _, qp = w.openAck(ans)
	assert.True(t, qp.Known && qp.Accepted)
	other := protocol.CommandRef{Counter: a.Answers.Counter + 5, Digest: make([]byte, 32)}
	q2, err := protocol.EncodeQuery(other)
	require.NoError(t, err)
	ans, err = w.im.Answer(q2)
	require.NoError(t, err)
	_, _, qp = w.openAck(ans)
	assert.False(t, qp.Known)
	assert.Equal(t, a.Answers.Counter, qp.LastCounter)
	_, err = w.im.Answer([]byte{0xa0})
	assert.Error(t, err, "a malformed query is refused")
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
	env, err := w.ctl.Command(uint8(pump.CmdBolus), w.counter, w.im.State().NowMs, 100)
	require.NoError(t, err)
	evil := *w.ctl
	evil.BindKey = bytes.Repeat([]byte{1}, wire.BindKeySize)
	forged, err := evil.Command(uint8(pump.CmdBolus), w.counter, w.im.State().NowMs, 500)
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
	schema, _ := protocol.KindPump.Schema(protocol.PumpBolus)
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
	orig, err := w.ctl.Command(uint8(pump.CmdBolus), w.counter, w.im.State().NowMs, 100)
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
	assert.ErrorIs(t, out.Refused, protocol.ErrCommitment)
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
