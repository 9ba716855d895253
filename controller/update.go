package controller

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/relay"
	"github.com/implantfhe/implantfhe/wire"
)

// UpdateResult is a published update as the controller verified it: the
// relay's response and, for each event the implant acknowledged, its
// signed record (the relay's JSON is not trusted for any of it).
type UpdateResult struct {
	Response relay.UpdateResponse
	Acks     []*firmware.Record
}

// Last is the last record the implant signed, or nil.
func (u *UpdateResult) Last() *firmware.Record {
	if len(u.Acks) == 0 {
		return nil
	}
	return u.Acks[len(u.Acks)-1]
}

// verifyAck checks an implant acknowledgement (base64) and decodes its record.
func (c *Client) verifyAck(b64 string) (*firmware.Record, error) {
	ack, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	return c.verifyAckBytes(ack)
}

// verifyAckBytes checks an implant acknowledgement's signature and device
// (not its counter: the implant owns it) and decodes its record.
func (c *Client) verifyAckBytes(ack []byte) (*firmware.Record, error) {
	e, err := c.verifyAckEnvelope(ack)
	if err != nil {
		return nil, err
	}
	return firmware.DecodeRecord(e.Body)
}

// verifyAckEnvelope decodes an implant acknowledgement and checks its
// signature and device.
func (c *Client) verifyAckEnvelope(ack []byte) (*wire.Envelope, error) {
	e, err := wire.Decode(ack, wire.MaxFrame)
	if err != nil {
		return nil, err
	}
	if _, err := c.Implant.VerifyEnvelope(e, wire.KindAck, wire.Freshness{NowMs: e.Header.IssuedAtMs, MaxValidityMs: 1 << 40}, false); err != nil {
		return nil, fmt.Errorf("ack: %w", err)
	}
	return e, nil
}

// updateCall does one update request through the relay and verifies the
// implant's acknowledgement it returns.
func (c *Client) updateCall(method, path string, body []byte) (*firmware.Record, error) {
	b, err := c.do(method, path, body)
	if err != nil {
		return nil, err
	}
	var ev relay.UpdateEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("relay %s: %w", path, err)
	}
	return c.verifyAck(ev.Ack)
}

// PublishUpdate hands a release (update.Release.Marshal) to the relay, which
// pushes it to the implant, and verifies every acknowledgement.
func (c *Client) PublishUpdate(release []byte) (*UpdateResult, error) {
	b, err := c.do("POST", "/v1/update", release)
	if err != nil {
		return nil, err
	}
	var u UpdateResult
	if err := json.Unmarshal(b, &u.Response); err != nil {
		return nil, fmt.Errorf("relay update response: %w", err)
	}
	for _, ev := range u.Response.Events {
		if ev.Ack == "" {
			continue
		}
		r, err := c.verifyAck(ev.Ack)
		if err != nil {
			return nil, err
		}
		u.Acks = append(u.Acks, r)
	}
	return &u, nil
}

// RotateRoot sends a signed new manufacturer trust root (update.SignedRoot)
// to the implant through the relay and returns the implant's verified answer.
func (c *Client) RotateRoot(root []byte) (*firmware.Record, error) {
	return c.updateCall("POST", "/v1/update/root", root)
}

// UpdateStatus asks the implant (through the relay) for its update state.
func (c *Client) UpdateStatus() (*firmware.Record, error) {
	return c.updateCall("GET", "/v1/update/status", nil)
}
