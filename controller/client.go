package controller

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/tlog"
	"github.com/implantfhe/implantfhe/wire"
)

// Client talks to the relay's HTTP API on behalf of the clinician. Nothing
// the relay says is believed without the implant's signature.
type Client struct {
	Relay   string // base URL
	HTTP    *http.Client
	Device  string
	Implant wire.Verifier // implant key: acknowledgements
	RelayV  wire.Verifier // relay key: alert results
	Clinic  *fhe.SecretKeys
	// AckSeal opens the sealed part of the implant's acknowledgements.
	AckSeal *ecdh.PrivateKey
}

// NewClient is the client of a loaded clinic directory.
func NewClient(relayURL string, k *protocol.ClinicKeys) *Client {
	v := wire.Verifier{DeviceID: k.Device.ID, Trust: k.Trust, MaxFrame: wire.MaxFrame}
	return &Client{Relay: strings.TrimRight(relayURL, "/"), Device: k.Device.ID, Implant: v, RelayV: v, Clinic: k.FHE, AckSeal: k.AckSeal}
}

func (c *Client) do(method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, c.Relay+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 120 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("relay %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 2*wire.MaxFrame+1024))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, &RelayError{Status: resp.StatusCode, Msg: string(bytes.TrimSpace(b))}
	}
	return b, nil
}

// RelayError is a refusal by the relay.
type RelayError struct {
	Status int
	Msg    string
}

func (e *RelayError) Error() string { return fmt.Sprintf("relay refused (%d): %s", e.Status, e.Msg) }

// Typed errors of the acknowledgement checks.
var (
	// ErrWrongAnswer: a signed acknowledgement that answers another command
	// than the one sent (a relay replaying or substituting answers).
	ErrWrongAnswer = errors.New("controller: the relay answered another command")
	// ErrAckKind: a signed acknowledgement of the wrong kind for the request.
	ErrAckKind = errors.New("controller: acknowledgement of the wrong kind")
)

// Verified is an implant acknowledgement the controller checked: signed by
// the implant for this device, well-formed, and its sealed part opened.
type Verified struct {
	Env     *wire.Envelope
	Ack     *protocol.Ack
	Private *protocol.Private // nil when nothing was sealed
	Bytes   int
}

// OpenAck verifies an implant acknowledgement's signature and device (not
// its counter: the implant owns it), decodes it and opens its sealed part.
func (c *Client) OpenAck(b []byte) (*Verified, error) {
	e, err := wire.Decode(b, wire.MaxFrame)
	if err != nil {
		return nil, fmt.Errorf("ack: %w", err)
	}
	if _, err := c.Implant.VerifyEnvelope(e, wire.KindAck, wire.Freshness{NowMs: e.Header.IssuedAtMs, MaxValidityMs: 1 << 40}, false); err != nil {
		return nil, fmt.Errorf("ack: %w", err)
	}
	a, err := protocol.DecodeAck(e.Body)
	if err != nil {
		return nil, fmt.Errorf("ack: %w", err)
	}
	if e.Header.Subkind != uint8(a.Kind) {
		return nil, fmt.Errorf("ack: header says %d, body %s: %w", e.Header.Subkind, a.Kind, protocol.ErrAck)
	}
	v := &Verified{Env: e, Ack: a, Bytes: len(b)}
	if len(a.Sealed) > 0 {
		if v.Private, err = protocol.OpenPrivate(c.AckSeal, c.Implant.DeviceID, a); err != nil {
			return nil, fmt.Errorf("ack: %w", err)
		}
	}
	return v, nil
}

// answering checks that an acknowledgement answers ref.
func answering(v *Verified, ref protocol.CommandRef, kinds ...protocol.AckKind) error {
	ok := false
	for _, k := range kinds {
		ok = ok || v.Ack.Kind == k
	}
	if !ok {
		return fmt.Errorf("%w: %s for command %d", ErrAckKind, v.Ack.Kind, ref.Counter)
	}
	if !ref.Equal(v.Ack.Answers) {
		got := "none"
		if v.Ack.Answers != nil {
			got = fmt.Sprintf("counter %d, digest %x", v.Ack.Answers.Counter, v.Ack.Answers.Digest[:4])
		}
		return fmt.Errorf("%w: sent counter %d (digest %x), the acknowledgement answers %s", ErrWrongAnswer, ref.Counter, ref.Digest[:4], got)
	}
	return nil
}

// Status asks the implant (through the relay) for its signed status: its
// time (the header) and, sealed, its mode and last command counter.
func (c *Client) Status() (units.Millis, *protocol.Private, error) {
	b, err := c.do("GET", "/v1/status", nil)
	if err != nil {
		return 0, nil, err
	}
	v, err := c.OpenAck(b)
	if err != nil {
		return 0, nil, fmt.Errorf("status: %w", err)
	}
	if v.Ack.Kind != protocol.AckStatus || v.Private == nil {
		return 0, nil, fmt.Errorf("status: %w: %s", ErrAckKind, v.Ack.Kind)
	}
	return units.Millis(v.Env.Header.IssuedAtMs), v.Private, nil
}

// ImplantTime asks the implant (through the relay) for its current time.
func (c *Client) ImplantTime() (units.Millis, error) {
	t, _, err := c.Status()
	return t, err
}

// UploadLimits sends a clinician-signed limits envelope to the relay.
func (c *Client) UploadLimits(env *wire.Envelope) error {
	f, err := env.Marshal()
	if err != nil {
		return err
	}
	_, err = c.do("POST", "/v1/limits", f)
	return err
}

// Sent is the outcome of a command as the controller verified it.
type Sent struct {
	Response relay.CommandResponse
	Ack      *Verified
	// Recovered: the relay failed to return the acknowledgement and the
	// controller obtained the implant's signed answer by asking for it.
	Recovered bool
	// RelayErr is the relay's failure when Recovered.
	RelayErr error
}

// UnknownOutcomeError: the relay did not return the implant's answer, and
// asking the implant about the command did not succeed either.
type UnknownOutcomeError struct {
	Counter  uint64
	RelayErr error
	QueryErr error
}

func (e *UnknownOutcomeError) Error() string {
	return fmt.Sprintf("outcome of command %d unknown: relay: %v; asking the implant: %v", e.Counter, e.RelayErr, e.QueryErr)
}

// NotReceivedError: the relay failed, and the implant says, signed, that it
// holds no decision for the command.
type NotReceivedError struct {
	Counter, LastCounter uint64
	RelayErr             error
}

func (e *NotReceivedError) Error() string {
	return fmt.Sprintf("command %d not executed: the implant holds no decision for it (its last counter %d); relay: %v",
		e.Counter, e.LastCounter, e.RelayErr)
}

func (e *NotReceivedError) Unwrap() error { return e.RelayErr }

// Send posts a command envelope and returns the implant's signed
// acknowledgement, checked to answer this very command. When the relay
// fails or refuses, the controller asks the implant (through the relay) what
// became of the command before it reports anything.
func (c *Client) Send(env *wire.Envelope) (*Sent, error) {
	ref, err := protocol.RefOf(&env.Header)
	if err != nil {
		return nil, err
	}
	frame, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	s, err := c.post("/v1/command", frame, ref)
	if err == nil {
		return s, nil
	}
	if errors.Is(err, ErrWrongAnswer) || errors.Is(err, ErrAckKind) {
		return nil, err
	}
	return c.recover(ref, err)
}

// SendRaw posts a radio bundle as an attacker on the radio could inject it
// (POST /v1/raw) and returns the implant's acknowledgement, checked to
// answer ref when ref is given.
func (c *Client) SendRaw(bundle []byte, ref *protocol.CommandRef) (*Sent, error) {
	if ref == nil {
		return c.post("/v1/raw", bundle, protocol.CommandRef{})
	}
	return c.post("/v1/raw", bundle, *ref)
}

func (c *Client) post(path string, frame []byte, ref protocol.CommandRef) (*Sent, error) {
	b, err := c.do("POST", path, frame)
	if err != nil {
		return nil, err
	}
	var s Sent
	if err := json.Unmarshal(b, &s.Response); err != nil {
		return nil, fmt.Errorf("relay response: %w", err)
	}
	ack, err := base64.StdEncoding.DecodeString(s.Response.Ack)
	if err != nil {
		return nil, fmt.Errorf("relay response: %w", err)
	}
	if s.Ack, err = c.OpenAck(ack); err != nil {
		return nil, err
	}
	if ref.Digest != nil {
		if err := answering(s.Ack, ref, protocol.AckDecision, protocol.AckRefused); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

func (c *Client) recover(ref protocol.CommandRef, relayErr error) (*Sent, error) {
	v, err := c.Query(ref)
	if err != nil {
		return nil, &UnknownOutcomeError{Counter: ref.Counter, RelayErr: relayErr, QueryErr: err}
	}
	if v.Private == nil || !v.Private.Known {
		last := uint64(0)
		if v.Private != nil {
			last = v.Private.LastCounter
		}
		return nil, &NotReceivedError{Counter: ref.Counter, LastCounter: last, RelayErr: relayErr}
	}
	return &Sent{Ack: v, Recovered: true, RelayErr: relayErr}, nil
}

// Query asks the implant, through the relay, for its signed answer about
// one command (POST /v1/answer).
func (c *Client) Query(ref protocol.CommandRef) (*Verified, error) {
	q, err := protocol.EncodeQuery(ref)
	if err != nil {
		return nil, err
	}
	b, err := c.do("POST", "/v1/answer", q)
	if err != nil {
		return nil, err
	}
	v, err := c.OpenAck(b)
	if err != nil {
		return nil, err
	}
	if err := answering(v, ref, protocol.AckAnswer); err != nil {
		return nil, err
	}
	return v, nil
}

// LowGlucoseCount has the relay evaluate the low-glucose alert on the
// implant's encrypted batch and decrypts only the count of low readings.
func (c *Client) LowGlucoseCount() (int, int, error) {
	b, err := c.do("POST", "/v1/telemetry", nil)
	if err != nil {
		return 0, 0, err
	}
	e, err := wire.Decode(b, wire.MaxFrame)
	if err != nil {
		return 0, 0, err
	}
	if _, err := c.RelayV.VerifyEnvelope(e, wire.KindVerdict, wire.Freshness{NowMs: e.Header.IssuedAtMs, MaxValidityMs: 1 << 40}, false); err != nil {
		return 0, 0, fmt.Errorf("alert result: %w", err)
	}
	ct, err := fhe.UnmarshalCiphertext(e.Body)
	if err != nil {
		return 0, 0, err
	}
	n, err := c.Clinic.DecryptCount(ct, 0)
	return n, len(b), err
}

// AuditLog fetches the relay's signed checkpoint and all its entries and
// recomputes the Merkle root offline; with a checkpoint kept from earlier it
// also checks that the log only grew (consistency proof).
func (c *Client) AuditLog(verifier note.Verifier, older *tlog.Checkpoint) (tlog.Checkpoint, error) {
	cpb, err := c.do("GET", "/v1/checkpoint", nil)
	if err != nil {
		return tlog.Checkpoint{}, err
	}
	cp, err := tlog.ParseCheckpoint(cpb, verifier)
	if err != nil {
		return cp, err
	}
	// Streamed, one entry per request (entries are envelopes of up to
	// several MB): the audit holds one entry at a time and allocates
	// nothing from the size the checkpoint claims, which a lying relay
	// chooses (regression: size 2^62 panicked in make, 2^33 ran out of
	// memory). The relay must deliver every entry it claims, or the audit
	// fails where the entries end.
	v := tlog.NewEntryVerifier()
	for i := uint64(0); i < cp.Size; i++ {
		b, err := c.do("GET", fmt.Sprintf("/v1/entries?from=%d&to=%d", i, i+1), nil)
		if err != nil {
			return cp, fmt.Errorf("entry %d of the %d the checkpoint claims: %w", i, cp.Size, err)
		}
		var enc []string
		if err := json.Unmarshal(b, &enc); err != nil || len(enc) != 1 {
			return cp, fmt.Errorf("entry %d: %v", i, err)
		}
		e, err := base64.StdEncoding.DecodeString(enc[0])
		if err != nil {
			return cp, err
		}
		if err := v.Add(e); err != nil {
			return cp, err
		}
	}
	if err := v.Check(cp); err != nil {
		return cp, err
	}
	if older != nil {
		b, err := c.do("GET", fmt.Sprintf("/v1/proof/consistency?old=%d&new=%d", older.Size, cp.Size), nil)
		if err != nil {
			return cp, err
		}
		var proof [][]byte
		if err := json.Unmarshal(b, &proof); err != nil {
			return cp, err
		}
		if err := tlog.VerifyConsistency(*older, cp, proof); err != nil {
			return cp, err
		}
	}
	return cp, nil
}

// Checkpoint returns the relay's current signed checkpoint (unverified).
func (c *Client) Checkpoint() ([]byte, error) { return c.do("GET", "/v1/checkpoint", nil) }
