package firmware

import (
	"crypto/ecdh"
	"errors"
	"fmt"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/implog"
	"github.com/implantfhe/implantfhe/implog/counter"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

// ErrLog: a log append (or a counter write) failed; nothing was actuated.
var ErrLog = errors.New("firmware: log append failed; nothing actuated")

// Keys are the implant's secrets and trust anchors.
type Keys struct {
	FHE     *fhe.SecretKeys  // sk_I: opens radio packets
	Signer  *wire.SigningKey // signs acknowledgements and telemetry
	Trust   *wire.TrustList  // clinician and relay keys
	BindKey []byte           // shared with the clinician: value commitments
	Clinic  *fhe.PublicKey   // pk_C: telemetry is encrypted to the clinic
	// AckSeal is the clinic's key the private part of every
	// acknowledgement is sealed to (protocol.SealPrivate).
	AckSeal *ecdh.PublicKey
}

// KeysOf takes the firmware's keys from the implant's loaded key directory.
func KeysOf(k *protocol.ImplantKeys) Keys {
	return Keys{FHE: k.FHE, Signer: k.Signer, Trust: k.Trust, BindKey: k.BindKey, Clinic: k.Clinic, AckSeal: k.AckSeal}
}

// Monotonic counters kept apart from the log (implog/counter, A/B slots):
// a log cut back to an earlier record boundary cannot take them back, so a
// signed bundle that ran once never runs again, and no acknowledgement
// counter is ever signed twice.
const (
	ctrCommand = iota // the highest command counter the kernel consumed
	ctrVerdict        // the highest relay verdict counter accepted
	ctrAck            // acknowledgement counters reserved up to here
	numCounters
	// CountersName is the counter store's name in storage.
	CountersName = "counters"
	// ackLease is how many acknowledgement counters one durable write
	// reserves: acks of refused frames and status replies are not logged,
	// so their counters are leased ahead; a reboot skips what was unused.
	ackLease = 256
	// recentDecisions bounds the decisions kept for answering queries.
	recentDecisions = 256
)

// decision is a kernel decision the implant can be asked about again.
type decision struct {
	ref  protocol.CommandRef
	priv protocol.Private
}

// core is what the firmware of every device kind shares: identity, keys,
// the log, the counters and the acknowledgements.
type core struct {
	device   string
	keys     Keys
	board    hal.Board
	log      *implog.Log
	ctrs     *counter.Counters
	verifier wire.Verifier
	offset   units.Millis
	validity units.Millis
	// verdictCtr is the last relay verdict counter accepted; ackCtr the last
	// counter the implant signed, ackReserved how far the store holds.
	verdictCtr, ackCtr, ackReserved uint64
	recent                          []decision
	// Image is what the bootloader booted (zero without an update path).
	Image update.BootInfo
}

// Booted describes the running image.
func (c *core) Booted() string {
	return fmt.Sprintf("slot %s image version %d (security counter %d, reverted: %v)", c.Image.Slot, c.Image.Version, c.Image.SecurityCounter, c.Image.Reverted)
}

func newCore(device string, keys Keys, board hal.Board, log *implog.Log, validity units.Millis) (core, error) {
	ctrs, err := counter.Open(board.Storage, CountersName, numCounters)
	if err != nil {
		return core{}, fmt.Errorf("counters: %w", err)
	}
	return core{device: device, keys: keys, board: board, log: log, ctrs: ctrs, validity: validity,
		verifier: wire.Verifier{DeviceID: device, Trust: keys.Trust, MaxFrame: wire.MaxRadioFrame}}, nil
}

func (c *core) now() units.Millis { return c.board.Clock.Now() + c.offset }

// replay takes one log record into the core's memory at boot.
func (c *core) replay(d *protocol.LogRecord) {
	if d.State != nil {
		c.verdictCtr, c.ackCtr = d.VerdictCtr, d.AckCtr
	}
	if d.Type == protocol.RecStep && d.CmdDigest != nil {
		c.remember(protocol.CommandRef{Counter: d.Ctr, Digest: d.CmdDigest}, protocol.Private{Accepted: d.Accepted,
			Reason: d.Reason, Alerts: d.Alerts, Values: d.Values, Delivered: d.Deliver})
	}
}

// resume lifts the counters read from the log to the counter store's and
// returns the command counter the kernel must not go below.
func (c *core) resume() uint64 {
	c.verdictCtr = max(c.verdictCtr, c.ctrs.Get(ctrVerdict))
	c.ackCtr = max(c.ackCtr, c.ctrs.Get(ctrAck))
	c.ackReserved = c.ackCtr
	return c.ctrs.Get(ctrCommand)
}

// consume makes the command and verdict counters durable in the counter
// store, right after the step that consumed them is logged and before
// anything acts.
func (c *core) consume(lastCmd uint64) error {
	if lastCmd > c.ctrs.Get(ctrCommand) {
		if err := c.ctrs.Advance(ctrCommand, lastCmd); err != nil {
			return fmt.Errorf("%w: command counter: %w", ErrLog, err)
		}
	}
	if c.verdictCtr > c.ctrs.Get(ctrVerdict) {
		if err := c.ctrs.Advance(ctrVerdict, c.verdictCtr); err != nil {
			return fmt.Errorf("%w: verdict counter: %w", ErrLog, err)
		}
	}
	return nil
}

func (c *core) remember(ref protocol.CommandRef, p protocol.Private) {
	if len(c.recent) == recentDecisions {
		c.recent = append(c.recent[:0], c.recent[1:]...)
	}
	c.recent = append(c.recent, decision{ref: ref, priv: p})
}

// persistState appends r with the kernel state (state, its consumed command
// counter lastCmd) and the implant's counters, then makes the counters
// durable in the counter store: after the record, so a cut in between
// leaves the record, whose state holds the counters, and a log cut back
// before it leaves the store's.
func (c *core) persistState(r *protocol.LogRecord, state []byte, lastCmd uint64) error {
	r.State, r.VerdictCtr, r.AckCtr = state, c.verdictCtr, c.ackCtr
	if err := c.append(r); err != nil {
		return err
	}
	return c.consume(lastCmd)
}

func (c *core) append(r *protocol.LogRecord) error {
	b, err := protocol.EncodeRecord(r)
	if err != nil {
		return err
	}
	if _, err := c.log.Append(b); err != nil {
		return fmt.Errorf("%w: %w", ErrLog, err)
	}
	return nil
}

// nextCounter is the next outgoing envelope counter, never one signed
// before: the store is raised a lease ahead before it is used.
func (c *core) nextCounter() (uint64, error) {
	n := c.ackCtr + 1
	if n > c.ackReserved {
		if err := c.ctrs.Advance(ctrAck, c.ackCtr+ackLease); err != nil {
			return 0, fmt.Errorf("%w: acknowledgement counter: %w", ErrLog, err)
		}
		c.ackReserved = c.ackCtr + ackLease
	}
	c.ackCtr = n
	return n, nil
}

// seal signs an outgoing envelope with the next counter.
func (c *core) seal(kind wire.Kind, sub uint8, body []byte) ([]byte, error) {
	ctr, err := c.nextCounter()
	if err != nil {
		return nil, err
	}
	now := c.now()
	env, err := wire.Seal(wire.Header{Kind: kind, DeviceID: c.device, Counter: ctr,
		IssuedAtMs: int64(now), ExpiresAtMs: int64(now + c.validity), Subkind: sub}, body, c.keys.Signer)
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}

// ack signs an acknowledgement; p, if any, is sealed to the clinic.
func (c *core) ack(a *protocol.Ack, p *protocol.Private) ([]byte, error) {
	if p != nil {
		if err := protocol.SealPrivate(c.keys.AckSeal, c.device, a, p); err != nil {
			return nil, err
		}
	}
	body, err := protocol.EncodeAck(a)
	if err != nil {
		return nil, err
	}
	return c.seal(wire.KindAck, uint8(a.Kind), body)
}

// decided acknowledges a kernel decision on a command and remembers it.
func (c *core) decided(ref protocol.CommandRef, p protocol.Private) ([]byte, error) {
	c.remember(ref, p)
	return c.ack(&protocol.Ack{Kind: protocol.AckDecision, Answers: &ref}, &p)
}

// claimedRef is the command a refused bundle claims to carry, if its
// envelope decodes at all (unverified: it only says what was refused).
func claimedRef(frame []byte) *protocol.CommandRef {
	b, err := wire.DecodeBundle(frame, wire.MaxRadioFrame)
	if err != nil {
		return nil
	}
	e, err := wire.Decode(b.Command, wire.MaxRadioFrame)
	if err != nil {
		return nil
	}
	ref, err := protocol.RefOf(&e.Header)
	if err != nil {
		return nil
	}
	return &ref
}

// refuse logs a frame refused before the kernel (without state: nothing
// changed) and acknowledges it.
func (c *core) refuse(frame []byte, cause error) ([]byte, error) {
	ref := claimedRef(frame)
	code := protocol.RefusalOf(cause)
	rec := &protocol.LogRecord{Type: protocol.RecRefused, NowMs: int64(c.now()), Refusal: code, Error: cause.Error()}
	if ref != nil {
		rec.Ctr, rec.CmdDigest = ref.Counter, ref.Digest
	}
	if err := c.append(rec); err != nil {
		return nil, err
	}
	return c.ack(&protocol.Ack{Kind: protocol.AckRefused, Answers: ref, Refusal: code}, &protocol.Private{Detail: cause.Error()})
}

// answer tells, signed, what became of one command: the kernel's decision
// if the implant holds it, or that it holds none and its last counter.
func (c *core) answer(payload []byte, lastCmd uint64) ([]byte, error) {
	ref, err := protocol.DecodeQuery(payload)
	if err != nil {
		return nil, err
	}
	p := protocol.Private{LastCounter: lastCmd}
	for i := len(c.recent) - 1; i >= 0; i-- {
		if c.recent[i].ref.Equal(&ref) {
			p = c.recent[i].priv
			p.Known, p.LastCounter = true, lastCmd
			break
		}
	}
	return c.ack(&protocol.Ack{Kind: protocol.AckAnswer, Answers: &ref}, &p)
}

// status is a signed acknowledgement with the implant's time (header), its
// mode, last command counter and log head (sealed).
func (c *core) status(mode string, lastCmd uint64) ([]byte, error) {
	seq, _ := c.log.Head()
	return c.ack(&protocol.Ack{Kind: protocol.AckStatus}, &protocol.Private{Mode: mode, LastCounter: lastCmd, LogSeq: seq})
}

// ackUpdate acknowledges an update event; p (a kernel's switch decision)
// is sealed.
func (c *core) ackUpdate(info *protocol.UpdateInfo, p *protocol.Private) ([]byte, error) {
	return c.ack(&protocol.Ack{Kind: protocol.AckUpdate, Update: info}, p)
}
