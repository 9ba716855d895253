package controller

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/relay"
)

// UpdateResult is a published update as the controller verified it: the
// relay's response and, for each event the implant acknowledged, its
// signed acknowledgement (the relay's JSON is not trusted for any of it).
type UpdateResult struct {
	Response relay.UpdateResponse
	Acks     []*Verified
}

// Last is the last event the implant signed, or nil.
func (u *UpdateResult) Last() *protocol.UpdateInfo {
	if len(u.Acks) == 0 {
		return nil
	}
	return u.Acks[len(u.Acks)-1].Ack.Update
}

// verifyUpdateAck checks an implant update acknowledgement (base64).
func (c *Client) verifyUpdateAck(b64 string) (*Verified, error) {
	ack, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	v, err := c.OpenAck(ack)
	if err != nil {
		return nil, err
	}
	if v.Ack.Kind != protocol.AckUpdate {
		return nil, fmt.Errorf("update: %w: %s", ErrAckKind, v.Ack.Kind)
	}
	return v, nil
}

// updateCall does one update request through the relay and verifies the
// implant's acknowledgement it returns.
func (c *Client) updateCall(method, path string, body []byte) (*Verified, error) {
	b, err := c.do(method, path, body)
	if err != nil {
		return nil, err
	}
	var ev relay.UpdateEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("relay %s: %w", path, err)
	}
	return c.verifyUpdateAck(ev.Ack)
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
		v, err := c.verifyUpdateAck(ev.Ack)
		if err != nil {
			return nil, err
		}
		u.Acks = append(u.Acks, v)
	}
	return &u, nil
}

// RotateRoot sends a signed new manufacturer trust root (update.SignedRoot)
// to the implant through the relay and returns the implant's verified answer.
func (c *Client) RotateRoot(root []byte) (*Verified, error) {
	return c.updateCall("POST", "/v1/update/root", root)
}

// UpdateStatus asks the implant (through the relay) for its update state.
func (c *Client) UpdateStatus() (*Verified, error) {
	return c.updateCall("GET", "/v1/update/status", nil)
}
