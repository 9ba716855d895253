package jsstore_test

import (
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/controller"
	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/relay/jsstore"
	"github.com/implantfhe/implantfhe/wire"
)

const dev = "pump-0001"

// TestRestartLosesNothing: the relay's device state lives in JetStream (an
// embedded server on a directory); a relay restarted on the same directory
// has its verdict counter, the clinician counter and the limits as they
// were (regression: after a restart the verdict counter restarted at 1, the
// encrypted limits were gone, and a superseded limits envelope copied from
// the public log was accepted again).
func TestRestartLosesNothing(t *testing.T) {
	dir := t.TempDir()
	params, err := fhe.NewParams(fhe.TestOnlyN11)
	require.NoError(t, err)
	sk, err := fhe.GenerateKeys(params, fhe.DomainImplant)
	require.NoError(t, err)
	rk, err := sk.RelayKeys()
	require.NoError(t, err)
	clin, err := wire.GenerateSigningKey(guard.RoleClinician, rand.Reader)
	require.NoError(t, err)
	relayKey, err := wire.GenerateSigningKey(guard.RoleRelay, rand.Reader)
	require.NoError(t, err)
	trust, err := wire.NewTrustList(clin.Public())
	require.NoError(t, err)
	ctl := &controller.Controller{DeviceID: dev, Kind: protocol.KindPump, Signer: clin, Implant: sk.PublicKey(),
		BindKey: make([]byte, wire.BindKeySize), ValidityMs: 60_000}
	device := func(st relay.Store) *relay.Device {
		d := &relay.Device{ID: dev, Kind: protocol.KindPump, Eval: fhe.NewRelay(rk), Signer: relayKey, MaxCmdAge: 300_000, Store: st,
			Verifier: wire.Verifier{DeviceID: dev, Trust: trust, MaxFrame: wire.MaxFrame}}
		require.NoError(t, d.Restore())
		return d
	}
	frame := func(env *wire.Envelope) []byte {
		b, err := env.Marshal()
		require.NoError(t, err)
		return b
	}

	st, err := jsstore.Embedded(dir)
	require.NoError(t, err)
	d := device(st)
	lim, err := ctl.EncryptLimits(protocol.PumpBolus, 500)
	require.NoError(t, err)
	require.NoError(t, d.AcceptLimits(protocol.PumpBolus, 10, lim))
	bolus, err := ctl.Command(protocol.PumpBolus, 11, 0, 300)
	require.NoError(t, err)
	res, err := d.Process(frame(bolus), 0)
	require.NoError(t, err)
	first := res.Verdict.Header.Counter
	st.Close()

	st, err = jsstore.Embedded(dir)
	require.NoError(t, err)
	defer st.Close()
	d = device(st)
	_, err = d.Process(frame(bolus), 0)
	assert.ErrorIs(t, err, wire.ErrReplay, "the clinician counter survived the restart")
	again, err := ctl.Command(protocol.PumpBolus, 12, 0, 200)
	require.NoError(t, err)
	res, err = d.Process(frame(again), 0)
	require.NoError(t, err, "the limits survived the restart")
	assert.Greater(t, res.Verdict.Header.Counter, first, "the verdict counter never repeats")
	// A superseded limits envelope (counter 10, from the public log) is
	// below the persisted clinician counter: the relay's server refuses it
	// through the same freshness check as any replay.
	old, err := ctl.LimitsEnvelope(protocol.PumpBolus, 10, 0, lim)
	require.NoError(t, err)
	_, err = d.Process(frame(old), 0)
	assert.ErrorIs(t, err, wire.ErrReplay)
	got, err := st.Load(dev)
	require.NoError(t, err)
	assert.Equal(t, uint64(12), got.LastCmd)
	assert.Equal(t, uint64(10), got.LimitsCtr[protocol.PumpBolus])
}

// TestTwoRelaysCannotOverwriteEachOther: state is saved with compare-and-
// set on its revision: of two relay processes that read the same state, the
// second to write is refused (ErrConflict) and must reload.
func TestTwoRelaysCannotOverwriteEachOther(t *testing.T) {
	a, err := jsstore.Embedded(t.TempDir())
	require.NoError(t, err)
	defer a.Close()
	b, err := a.Peer()
	require.NoError(t, err)
	require.NoError(t, a.Save(dev, relay.State{VerdictCtr: 1}))
	_, err = a.Load(dev)
	require.NoError(t, err)
	got, err := b.Load(dev)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), got.VerdictCtr)
	require.NoError(t, a.Save(dev, relay.State{VerdictCtr: 2}))
	err = b.Save(dev, relay.State{VerdictCtr: 2})
	assert.ErrorIs(t, err, relay.ErrConflict, "b wrote over a's counter")
	got, err = b.Load(dev)
	require.NoError(t, err)
	require.NoError(t, b.Save(dev, relay.State{VerdictCtr: got.VerdictCtr + 1}), "after reloading")
	got, err = a.Load(dev)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), got.VerdictCtr)
	_, err = jsstore.Connect("nats://127.0.0.1:1")
	assert.Error(t, err, "no server there")
}
