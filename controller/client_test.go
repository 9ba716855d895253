package controller

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/tlog"
	"github.com/implantfhe/implantfhe/wire"
)

const dev = "pump-0001"

// fixture: a clinician, an implant key that signs acknowledgements as the
// firmware does, and a fake relay whose answers each test scripts.
type fixture struct {
	t       *testing.T
	ctl     *Controller
	cl      *Client
	implant *wire.SigningKey
	seal    *ecdh.PrivateKey
	ackCtr  uint64
}

func newFixture(t *testing.T, h http.Handler) *fixture {
	clin, err := wire.GenerateSigningKey(guard.RoleClinician, rand.Reader)
	require.NoError(t, err)
	imp, err := wire.GenerateSigningKey(guard.RoleImplant, rand.Reader)
	require.NoError(t, err)
	seal, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	trust, err := wire.NewTrustList(imp.Public())
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, implant: imp, seal: seal,
		ctl: &Controller{DeviceID: dev, Kind: protocol.KindPump, Signer: clin, BindKey: make([]byte, wire.BindKeySize), ValidityMs: DefaultValidityMs},
		cl: &Client{Relay: srv.URL, Device: dev, AckSeal: seal,
			Implant: wire.Verifier{DeviceID: dev, Trust: trust, MaxFrame: wire.MaxFrame}}}
	return f
}

// ack signs an acknowledgement the way the implant does.
func (f *fixture) ack(a *protocol.Ack, p *protocol.Private, signer *wire.SigningKey) []byte {
	if p != nil {
		require.NoError(f.t, protocol.SealPrivate(f.seal.PublicKey(), dev, a, p))
	}
	body, err := protocol.EncodeAck(a)
	require.NoError(f.t, err)
	f.ackCtr++
	env, err := wire.Seal(wire.Header{Kind: wire.KindAck, DeviceID: dev, Counter: f.ackCtr, IssuedAtMs: 1, ExpiresAtMs: 2,
		Subkind: uint8(a.Kind)}, body, signer)
	require.NoError(f.t, err)
	b, err := env.Marshal()
	require.NoError(f.t, err)
	return b
}

func (f *fixture) command(ctr uint64) (*wire.Envelope, protocol.CommandRef) {
	env, err := f.ctl.Command(protocol.PumpSuspend, ctr, 1000)
	require.NoError(f.t, err)
	ref, err := protocol.RefOf(&env.Header)
	require.NoError(f.t, err)
	return env, ref
}

func commandResponse(w http.ResponseWriter, ack []byte) {
	_ = json.NewEncoder(w).Encode(relay.CommandResponse{Ack: base64.StdEncoding.EncodeToString(ack)})
}

// script is a fake relay: /v1/command and /v1/answer answer with whatever
// the test set.
type script struct {
	command func(w http.ResponseWriter, body []byte)
	answer  func(w http.ResponseWriter, body []byte)
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/v1/command":
		s.command(w, b)
	case "/v1/answer":
		if s.answer == nil {
			http.Error(w, "no answer", http.StatusBadGateway)
			return
		}
		s.answer(w, b)
	default:
		http.NotFound(w, r)
	}
}

// TestSendRefusesAnAnswerToAnotherCommand: a relay that answers a new
// command with an old genuine acknowledgement is caught (regression: ifhe
// printed "executed (counter 11)" for a new bolus).
func TestSendRefusesAnAnswerToAnotherCommand(t *testing.T) {
	s := &script{}
	f := newFixture(t, s)
	_, oldRef := f.command(11)
	old := f.ack(&protocol.Ack{Kind: protocol.AckDecision, Answers: &oldRef}, &protocol.Private{Accepted: true}, f.implant)
	s.command = func(w http.ResponseWriter, _ []byte) { commandResponse(w, old) }
	env, _ := f.command(987654)
	_, err := f.cl.Send(env)
	require.ErrorIs(t, err, ErrWrongAnswer)
	assert.Contains(t, err.Error(), "987654")
}

func TestSendAcceptsItsOwnAnswerAndOpensIt(t *testing.T) {
	s := &script{}
	f := newFixture(t, s)
	env, ref := f.command(12)
	s.command = func(w http.ResponseWriter, _ []byte) {
		commandResponse(w, f.ack(&protocol.Ack{Kind: protocol.AckDecision, Answers: &ref}, &protocol.Private{Accepted: true, Reason: reason.OK}, f.implant))
	}
	sent, err := f.cl.Send(env)
	require.NoError(t, err)
	assert.False(t, sent.Recovered)
	assert.True(t, sent.Ack.Private.Accepted)
}

// TestSendAsksTheImplantWhenTheRelayFails: after a 502 the controller asks
// the implant about this very command before it reports anything.
func TestSendAsksTheImplantWhenTheRelayFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(f *fixture, ref protocol.CommandRef) func(http.ResponseWriter, []byte)
		check  func(t *testing.T, s *Sent, err error)
	}{
		{"the implant executed it", func(f *fixture, ref protocol.CommandRef) func(http.ResponseWriter, []byte) {
			return func(w http.ResponseWriter, q []byte) {
				got, err := protocol.DecodeQuery(q)
				require.NoError(f.t, err)
				require.True(f.t, got.Equal(&ref), "the query names the command sent")
				_, _ = w.Write(f.ack(&protocol.Ack{Kind: protocol.AckAnswer, Answers: &ref}, &protocol.Private{Known: true, Accepted: true}, f.implant))
			}
		}, func(t *testing.T, s *Sent, err error) {
			require.NoError(t, err)
			assert.True(t, s.Recovered)
			assert.True(t, s.Ack.Private.Accepted)
			var re *RelayError
			assert.True(t, errors.As(s.RelayErr, &re) && re.Status == http.StatusBadGateway)
		}},
		{"the implant never saw it", func(f *fixture, ref protocol.CommandRef) func(http.ResponseWriter, []byte) {
			return func(w http.ResponseWriter, _ []byte) {
				_, _ = w.Write(f.ack(&protocol.Ack{Kind: protocol.AckAnswer, Answers: &ref}, &protocol.Private{LastCounter: 12}, f.implant))
			}
		}, func(t *testing.T, _ *Sent, err error) {
			var nr *NotReceivedError
			require.ErrorAs(t, err, &nr)
			assert.Equal(t, uint64(12), nr.LastCounter)
		}},
		{"the answer is about another command", func(f *fixture, ref protocol.CommandRef) func(http.ResponseWriter, []byte) {
			other := ref
			other.Counter++
			return func(w http.ResponseWriter, _ []byte) {
				_, _ = w.Write(f.ack(&protocol.Ack{Kind: protocol.AckAnswer, Answers: &other}, &protocol.Private{Known: true, Accepted: true}, f.implant))
			}
		}, func(t *testing.T, _ *Sent, err error) {
			var uo *UnknownOutcomeError
			require.ErrorAs(t, err, &uo)
			assert.ErrorIs(t, uo.QueryErr, ErrWrongAnswer)
		}},
		{"the answer is not the implant's", func(f *fixture, ref protocol.CommandRef) func(http.ResponseWriter, []byte) {
			forger, err := wire.GenerateSigningKey(guard.RoleImplant, rand.Reader)
			require.NoError(f.t, err)
			return func(w http.ResponseWriter, _ []byte) {
				_, _ = w.Write(f.ack(&protocol.Ack{Kind: protocol.AckAnswer, Answers: &ref}, &protocol.Private{Known: true, Accepted: true}, forger))
			}
		}, func(t *testing.T, _ *Sent, err error) {
			var uo *UnknownOutcomeError
			require.ErrorAs(t, err, &uo)
			assert.ErrorIs(t, uo.QueryErr, wire.ErrUnknownKey)
		}},
		{"no answer at all", nil, func(t *testing.T, _ *Sent, err error) {
			var uo *UnknownOutcomeError
			require.ErrorAs(t, err, &uo)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{command: func(w http.ResponseWriter, _ []byte) { http.Error(w, "implant link lost", http.StatusBadGateway) }}
			f := newFixture(t, s)
			env, ref := f.command(13)
			if tc.answer != nil {
				s.answer = tc.answer(f, ref)
			}
			sent, err := f.cl.Send(env)
			tc.check(t, sent, err)
		})
	}
}

// TestOpenAckRefusesASealMovedToAnotherAck: the relay cannot graft the
// sealed part of one acknowledgement onto another.
func TestOpenAckRefusesASealMovedToAnotherAck(t *testing.T) {
	f := newFixture(t, &script{})
	_, r1 := f.command(20)
	_, r2 := f.command(21)
	a1 := &protocol.Ack{Kind: protocol.AckDecision, Answers: &r1}
	require.NoError(t, protocol.SealPrivate(f.seal.PublicKey(), dev, a1, &protocol.Private{Accepted: true}))
	moved := f.ack(&protocol.Ack{Kind: protocol.AckDecision, Answers: &r2, Sealed: a1.Sealed}, nil, f.implant)
	_, err := f.cl.OpenAck(moved)
	assert.ErrorIs(t, err, protocol.ErrSeal)
}

// TestAuditLogOfAHugeClaimedSize: a relay-signed checkpoint claiming 2^62
// (or 2^33) entries with only two behind it fails where the entries end,
// without allocating from the claim (regression: makeslice panic at 2^62,
// out of memory at 2^33).
func TestAuditLogOfAHugeClaimedSize(t *testing.T) {
	skey, vkey, err := tlog.GenerateKey("test/audit")
	require.NoError(t, err)
	signer, err := note.NewSigner(skey)
	require.NoError(t, err)
	verifier, err := note.NewVerifier(vkey)
	require.NoError(t, err)
	for _, size := range []uint64{1 << 62, 1 << 33, 3} {
		cp, err := note.Sign(&note.Note{Text: fmt.Sprintf("test/audit\n%d\n%s\n", size, base64.StdEncoding.EncodeToString(make([]byte, 32)))}, signer)
		require.NoError(t, err)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/v1/checkpoint":
				_, _ = w.Write(cp)
			case "/v1/entries":
				if r.URL.Query().Get("from") >= "2" {
					http.Error(w, "no such entry", http.StatusNotFound)
					return
				}
				_ = json.NewEncoder(w).Encode([]string{base64.StdEncoding.EncodeToString([]byte("entry"))})
			}
		}))
		cl := &Client{Relay: srv.URL}
		_, err = cl.AuditLog(verifier, nil)
		srv.Close()
		require.Error(t, err, "size %d", size)
		assert.Contains(t, err.Error(), fmt.Sprintf("of the %d the checkpoint claims", size))
	}
}
