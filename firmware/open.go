package firmware

import (
	"fmt"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/wire"
)

// opened is a bundle that passed every check and was decrypted.
type opened struct {
	header  wire.Header
	role    guard.Role
	values  []int64
	verdict guard.Verdict
}

func (o *opened) guardHeader() guard.Header {
	return guard.Header{Counter: o.header.Counter, IssuedAtMs: units.Millis(o.header.IssuedAtMs),
		ExpiresAtMs: units.Millis(o.header.ExpiresAtMs), Signer: o.role}
}

// openBundle is the implant's receive path, shared by every device: decode
// the bundle; verify the command envelope (detached) and, for commands with
// compared values, the relay's verdict envelope and its binding to the
// command — all on the ciphertext bytes — and only then decrypt the radio
// packet, round its values, and check the clinician's value commitment. The
// verdict counter is consumed only when everything passed.
func openBundle(v *wire.Verifier, keys Keys, device string, frame []byte, now units.Millis, lastCmd uint64,
	verdictCtr *uint64, maxValidityMs int64, kind protocol.DeviceKind) (opened, error) {
	var o opened
	b, err := wire.DecodeBundle(frame, wire.MaxRadioFrame)
	if err != nil {
		return o, err
	}
	fresh := wire.Freshness{LastCounter: lastCmd, NowMs: int64(now), MaxValidityMs: maxValidityMs, MaxCounterStep: guard.MaxCounterStep}
	env, role, err := v.Verify(b.Command, wire.KindCommand, fresh, true)
	if err != nil {
		return o, err
	}
	o.header, o.role = env.Header, role
	h := env.Header
	spec, known := kind.Command(h.Subkind)
	if !known || !spec.Radio {
		return o, fmt.Errorf("%w: %s %s", protocol.ErrUnsupported, kind, kind.SubkindName(h.Subkind))
	}
	schema := spec.Schema
	if schema == nil {
		if !wire.CheckValues(keys.BindKey, device, h.Counter, h.Subkind, nil, h.Bind) {
			return o, protocol.ErrCommitment
		}
		o.verdict = guard.VerdictAbsent
		return o, nil
	}
	if len(b.Verdict) == 0 {
		return o, protocol.ErrNoVerdict
	}
	vfresh := wire.Freshness{LastCounter: *verdictCtr, NowMs: int64(now), MaxValidityMs: maxValidityMs, MaxCounterStep: guard.MaxCounterStep}
	venv, _, err := v.Verify(b.Verdict, wire.KindVerdict, vfresh, false)
	if err != nil {
		return o, err
	}
	digest, err := h.HeaderDigest()
	if err != nil {
		return o, err
	}
	if string(venv.Header.Bind) != string(digest[:]) || venv.Header.Subkind != h.Subkind {
		return o, protocol.ErrBinding
	}
	// Only now is anything decrypted.
	pkt, err := fhe.UnmarshalRadioCiphertext(venv.Body)
	if err != nil {
		return o, fmt.Errorf("%w: %w", protocol.ErrDecrypt, err)
	}
	d, err := keys.FHE.OpenCommand(schema, pkt)
	if err != nil {
		return o, fmt.Errorf("%w: %w", protocol.ErrDecrypt, err)
	}
	if !wire.CheckValues(keys.BindKey, device, h.Counter, h.Subkind, d.Values, h.Bind) {
		return o, protocol.ErrCommitment
	}
	*verdictCtr = venv.Header.Counter
	o.values, o.verdict = d.Values, guard.VerdictWithin
	for _, ok := range d.WithinLimits {
		if !ok {
			o.verdict = guard.VerdictOutside
		}
	}
	return o, nil
}
