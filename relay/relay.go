// Package relay is the untrusted relay's logic: it verifies a clinician's
// command envelope, compares its encrypted parameters homomorphically with
// the patient's encrypted limits, and produces the radio bundle for the
// implant: the command in detached form and a signed verdict envelope
// carrying the packed values and verdict. It holds public and evaluation
// keys only; it never holds, and cannot be given, a CKKS secret key.
package relay

import (
	"errors"
	"fmt"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/wire"
)

// ErrNoLimits: the relay has no encrypted limits for this command kind.
var ErrNoLimits = errors.New("relay: no encrypted limits for this command kind")

// ErrConflict: another relay process changed the device's state since it
// was loaded (compare-and-set failed); reload and try again.
var ErrConflict = errors.New("relay: device state changed by another relay process")

// State is what the relay must not lose for a device across restarts and
// failover: its own verdict counter (never signed twice), the last
// clinician counter it accepted (commands and limits share the stream, so
// a superseded limits envelope is refused), and the counter of the limits
// in force per subkind.
type State struct {
	VerdictCtr uint64           `cbor:"1,keyasint"`
	LastCmd    uint64           `cbor:"2,keyasint"`
	LimitsCtr  map[uint8]uint64 `cbor:"3,keyasint,omitempty"`
}

// Store keeps device state and encrypted limits (relay/jsstore: NATS
// JetStream). A state is saved before anything that depends on it leaves
// the relay.
type Store interface {
	Load(device string) (State, error)
	Save(device string, st State) error
	SaveLimits(device string, sub uint8, ct []byte) error
	LoadLimits(device string, sub uint8) ([]byte, error)
}

// Device is what the relay holds for one implant.
type Device struct {
	ID       string
	Eval     *fhe.Relay
	Verifier wire.Verifier    // clinician keys for this device
	Signer   *wire.SigningKey // the relay's own key
	// Limits are encrypted limit ciphertexts per command subkind.
	Limits map[uint8]*fhe.Ciphertext
	// Kind is the device's kind: its command schemas.
	Kind protocol.DeviceKind
	// Store persists the state (nil: memory only, for tests and tools
	// that run the relay's logic in process).
	Store Store
	// counter is the relay's verdict counter for this device.
	counter   uint64
	lastCmd   uint64
	limitsCtr map[uint8]uint64
	ValidMs   int64
	MaxCmdAge int64
}

// Restore loads the device's persisted state and limits (at start-up).
func (d *Device) Restore() error {
	if d.Store == nil {
		return nil
	}
	st, err := d.Store.Load(d.ID)
	if err != nil {
		return err
	}
	d.counter, d.lastCmd, d.limitsCtr = st.VerdictCtr, st.LastCmd, st.LimitsCtr
	for sub := range st.LimitsCtr {
		ct, err := d.Store.LoadLimits(d.ID, sub)
		if err != nil {
			return err
		}
		if ct == nil {
			return fmt.Errorf("relay: %s: limits of subkind %d recorded but missing from the store", d.ID, sub)
		}
		if err := d.SetLimits(sub, ct); err != nil {
			return err
		}
	}
	return nil
}

func (d *Device) state() State {
	return State{VerdictCtr: d.counter, LastCmd: d.lastCmd, LimitsCtr: d.limitsCtr}
}

// save persists the state; on failure the in-memory state goes back to
// prev, so nothing depends on a state the store does not hold.
func (d *Device) save(prev State) error {
	if d.Store == nil {
		return nil
	}
	if err := d.Store.Save(d.ID, d.state()); err != nil {
		d.counter, d.lastCmd, d.limitsCtr = prev.VerdictCtr, prev.LastCmd, prev.LimitsCtr
		return fmt.Errorf("relay: persist state: %w", err)
	}
	return nil
}

// AcceptLimits takes a verified limits envelope's ciphertext for sub at
// counter ctr (the clinician stream's counter): stored, then in force.
func (d *Device) AcceptLimits(sub protocol.Subkind, ctr uint64, ct []byte) error {
	if d.Store != nil {
		if err := d.Store.SaveLimits(d.ID, sub, ct); err != nil {
			return err
		}
	}
	if err := d.SetLimits(sub, ct); err != nil {
		return err
	}
	prev := d.state()
	lc := map[uint8]uint64{}
	for k, v := range d.limitsCtr {
		lc[k] = v
	}
	lc[sub] = ctr
	d.lastCmd, d.limitsCtr = ctr, lc
	return d.save(prev)
}

// SetLimits stores encrypted limits for a command subkind of the device.
func (d *Device) SetLimits(sub protocol.Subkind, ct []byte) error {
	if _, ok := d.Kind.Schema(sub); !ok {
		return fmt.Errorf("%w: %s %s compares nothing", ErrNoLimits, d.Kind, d.Kind.SubkindName(sub))
	}
	c, err := fhe.UnmarshalCiphertext(ct)
	if err != nil {
		return fmt.Errorf("relay: limits: %w", err)
	}
	if d.Limits == nil {
		d.Limits = map[uint8]*fhe.Ciphertext{}
	}
	d.Limits[sub] = c
	return nil
}

// Result is the relay's processing of one command.
type Result struct {
	Command *wire.Envelope
	Verdict *wire.Envelope // nil for commands without compared values
	Bundle  []byte         // the radio frame for the implant
}

// Process verifies a command frame and builds the implant's bundle. nowMs is
// the relay's estimate of the implant's time (freshness is checked again,
// authoritatively, on the implant).
func (d *Device) Process(frame []byte, nowMs int64) (*Result, error) {
	env, err := wire.Decode(frame, d.Verifier.MaxFrame)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	// The relay only estimates the implant's time; the implant's own check
	// of the validity window is the authoritative one.
	fresh := wire.Freshness{LastCounter: d.lastCmd, NowMs: max(nowMs, env.Header.IssuedAtMs), MaxValidityMs: d.MaxCmdAge,
		MaxCounterStep: guard.MaxCounterStep}
	if _, err := d.Verifier.VerifyEnvelope(env, wire.KindCommand, fresh, false); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	prev := d.state()
	d.lastCmd = env.Header.Counter
	cmdFrame, err := env.Detached().Marshal()
	if err != nil {
		return nil, err
	}
	res := &Result{Command: env}
	bundle := wire.Bundle{Command: cmdFrame}
	sub := env.Header.Subkind
	if schema, ok := d.Kind.Schema(sub); ok {
		lim := d.Limits[sub]
		if lim == nil {
			return nil, fmt.Errorf("%w: subkind %d", ErrNoLimits, sub)
		}
		ct, err := fhe.UnmarshalCiphertext(env.Body)
		if err != nil {
			return nil, fmt.Errorf("relay: command ciphertext: %w", err)
		}
		v, err := d.Eval.Compare(schema, ct, lim)
		if err != nil {
			return nil, fmt.Errorf("relay: compare: %w", err)
		}
		pkt, err := d.Eval.ForImplant(schema, ct, v)
		if err != nil {
			return nil, fmt.Errorf("relay: pack: %w", err)
		}
		body, err := pkt.MarshalBinary()
		if err != nil {
			return nil, err
		}
		digest, err := env.Header.HeaderDigest()
		if err != nil {
			return nil, err
		}
		d.counter++
		if err := d.save(prev); err != nil {
			return nil, err
		}
		venv, err := wire.Seal(wire.Header{Kind: wire.KindVerdict, DeviceID: d.ID, Counter: d.counter,
			IssuedAtMs: env.Header.IssuedAtMs, ExpiresAtMs: env.Header.ExpiresAtMs, Subkind: env.Header.Subkind,
			Bind: digest[:]}, body, d.Signer)
		if err != nil {
			return nil, err
		}
		if bundle.Verdict, err = venv.Marshal(); err != nil {
			return nil, err
		}
		res.Verdict = venv
	}
	if res.Bundle, err = bundle.Marshal(); err != nil {
		return nil, err
	}
	if res.Verdict == nil {
		if err := d.save(prev); err != nil {
			return nil, err
		}
	}
	return res, nil
}
