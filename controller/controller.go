// Package controller is the clinician side of the command path: it turns a
// therapy command into a signed command envelope whose numeric parameters
// are encrypted under the implant's CKKS key and committed to with the
// clinician–implant binding key, and it encrypts the patient's limits for
// the relay. It never sees the implant's secret key.
package controller

import (
	"fmt"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/wire"
)

// Controller holds the clinician's keys for one implant.
type Controller struct {
	DeviceID string
	Signer   *wire.SigningKey // clinician key
	Implant  *fhe.PublicKey   // pk_I
	BindKey  []byte
	// ValidityMs is how long a command stays valid (≤ the implant's maximum).
	ValidityMs int64
	// SchemaFor gives the compared parameters of a subkind (nil: the pump's).
	SchemaFor firmware.SchemaFunc
}

func (c *Controller) schema(sub uint8) (fhe.Schema, bool) {
	if c.SchemaFor != nil {
		return c.SchemaFor(sub)
	}
	return firmware.PumpSchema(sub)
}

// Command builds a signed command envelope. now is the implant's time as
// the controller knows it (from its last acknowledgement).
func (c *Controller) Command(kind pump.CommandKind, counter uint64, now units.Millis, values ...int64) (*wire.Envelope, error) {
	return c.CommandSub(uint8(kind), kind.String(), counter, now, values...)
}

// CommandSub builds a signed command envelope for any device's command
// subkind (name is for messages).
func (c *Controller) CommandSub(sub uint8, name string, counter uint64, now units.Millis, values ...int64) (*wire.Envelope, error) {
	h := wire.Header{Kind: wire.KindCommand, DeviceID: c.DeviceID, Counter: counter, IssuedAtMs: int64(now),
		ExpiresAtMs: int64(now) + c.ValidityMs, Subkind: sub}
	var body []byte
	if schema, ok := c.schema(sub); ok {
		if len(values) != len(schema) {
			return nil, fmt.Errorf("controller: %s takes %d values, got %d", name, len(schema), len(values))
		}
		ct, err := c.Implant.EncryptCommand(schema, values)
		if err != nil {
			return nil, fmt.Errorf("controller: encrypt %s: %w", name, err)
		}
		if body, err = ct.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("controller: %w", err)
		}
	} else if len(values) != 0 {
		return nil, fmt.Errorf("controller: %s takes no values", name)
	}
	h.Bind = wire.CommitValues(c.BindKey, c.DeviceID, counter, sub, values)
	return wire.Seal(h, body, c.Signer)
}

// EncryptLimits encrypts the limits a command kind is compared against.
func (c *Controller) EncryptLimits(kind pump.CommandKind, limits ...int64) ([]byte, error) {
	return c.EncryptLimitsSub(uint8(kind), limits...)
}

// EncryptLimitsSub encrypts the limits of any device's command subkind.
func (c *Controller) EncryptLimitsSub(sub uint8, limits ...int64) ([]byte, error) {
	schema, ok := c.schema(sub)
	if !ok {
		return nil, fmt.Errorf("controller: subkind %d has no compared limits", sub)
	}
	ct, err := c.Implant.EncryptLimits(schema, limits)
	if err != nil {
		return nil, fmt.Errorf("controller: encrypt limits: %w", err)
	}
	return ct.MarshalBinary()
}
