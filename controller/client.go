package controller

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/tlog"
	"github.com/implantfhe/implantfhe/wire"
)

// Client talks to the relay's HTTP API on behalf of the clinician.
type Client struct {
	Relay   string // base URL
	HTTP    *http.Client
	Implant wire.Verifier // implant key: acks and status
	RelayV  wire.Verifier // relay key: alert results
	Clinic  *fhe.SecretKeys
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

// ImplantTime asks the implant (through the relay) for its current time.
func (c *Client) ImplantTime() (units.Millis, error) {
	b, err := c.do("GET", "/v1/status", nil)
	if err != nil {
		return 0, err
	}
	e, err := c.verifyAckEnvelope(b)
	if err != nil {
		return 0, fmt.Errorf("status: %w", err)
	}
	return units.Millis(e.Header.IssuedAtMs), nil
}

// UploadLimits sends encrypted limits to the relay in a clinician-signed envelope.
func (c *Client) UploadLimits(ctl *Controller, counter uint64, now units.Millis, kindByte uint8, ct []byte) error {
	env, err := wire.Seal(wire.Header{Kind: wire.KindCommand, DeviceID: ctl.DeviceID, Counter: counter, IssuedAtMs: int64(now),
		ExpiresAtMs: int64(now) + ctl.ValidityMs, Subkind: relay.LimitsSubkind | kindByte}, ct, ctl.Signer)
	if err != nil {
		return err
	}
	f, err := env.Marshal()
	if err != nil {
		return err
	}
	_, err = c.do("POST", "/v1/limits", f)
	return err
}

// Sent is the outcome of a command as the controller sees it.
type Sent struct {
	Response relay.CommandResponse
	Ack      *firmware.Record
	AckBytes int
}

// Send posts a command frame (or, with raw, a radio bundle) and verifies the
// implant's signed acknowledgement.
func (c *Client) Send(frame []byte, raw bool) (*Sent, error) {
	path := "/v1/command"
	if raw {
		path = "/v1/raw"
	}
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
		return nil, err
	}
	s.AckBytes = len(ack)
	if s.Ack, err = c.verifyAckBytes(ack); err != nil {
		return nil, err
	}
	return &s, nil
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
	// One entry per request: entries are envelopes of up to several MB.
	entries := make([][]byte, cp.Size)
	for i := uint64(0); i < cp.Size; i++ {
		b, err := c.do("GET", fmt.Sprintf("/v1/entries?from=%d&to=%d", i, i+1), nil)
		if err != nil {
			return cp, err
		}
		var enc []string
		if err := json.Unmarshal(b, &enc); err != nil || len(enc) != 1 {
			return cp, fmt.Errorf("entry %d: %v", i, err)
		}
		if entries[i], err = base64.StdEncoding.DecodeString(enc[0]); err != nil {
			return cp, err
		}
	}
	if err := tlog.VerifyEntries(entries, cp); err != nil {
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
