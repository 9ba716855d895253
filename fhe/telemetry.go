package fhe

import (
	"fmt"
)

// Direction of a telemetry alert.
type Direction uint8

const (
	// Below raises the flag when reading < threshold (e.g. glucose < 70 mg/dL).
	Below Direction = 1
	// Above raises the flag when reading > threshold (e.g. heart rate > 120 bpm).
	Above Direction = 2
)

// Alert is a telemetry threshold held by the relay in the clear.
type Alert struct {
	Quantity  Quantity
	Direction Direction
	Threshold int64 // in quanta
}

// Telemetry readings are compared in one slot each: the implant clamps a
// reading into a window of MaxDigit quanta at the low end (Below) or high
// end (Above) of the quantity's range, so one step at half a quantum is
// exact for every reading in range as long as the threshold lies inside the
// window. Below windows cover thresholds Min+1..Min+MaxDigit (glucose
// 21–146 mg/dL, which contains the 70 mg/dL hypoglycaemia alert and Loop's
// 66–111 mg/dL suspend guardrail); Above windows cover Max-MaxDigit..Max-1
// (heart rate 124–249 bpm).
func (a Alert) window() (lo, hi int64, err error) {
	q := a.Quantity
	switch a.Direction {
	case Below:
		lo, hi = q.Min, min(q.Max, q.Min+MaxDigit)
		if a.Threshold <= lo || a.Threshold > hi {
			err = fmt.Errorf("alert %s < %d: threshold outside (%d,%d]: %w", q.Name, a.Threshold, lo, hi, ErrOutOfRange)
		}
	case Above:
		lo, hi = max(q.Min, q.Max-MaxDigit), q.Max
		if a.Threshold < lo || a.Threshold >= hi {
			err = fmt.Errorf("alert %s > %d: threshold outside [%d,%d): %w", q.Name, a.Threshold, lo, hi, ErrOutOfRange)
		}
	default:
		err = fmt.Errorf("alert direction %d: %w", a.Direction, ErrSchema)
	}
	return lo, hi, err
}

// Validate checks the alert.
func (a Alert) Validate() error {
	_, _, err := a.window()
	return err
}

// rawScale: raw readings are encrypted as (v−Min)/rawScale so that a
// window sum (≤ 64·580 for glucose) stays well inside [-2^10, 2^10].
const rawScale = 1024

func (pk *PublicKey) checkTelemetry(q Quantity, readings []int64, window int) error {
	if pk.domain != DomainClinic {
		return fmt.Errorf("telemetry under %v key: %w", pk.domain, ErrParamMismatch)
	}
	nw := pk.params.MaxTelemetrySlots() / TelemetryWindow
	if window < 0 || window >= nw {
		return fmt.Errorf("telemetry window %d not in [0,%d): %w", window, nw, ErrSchema)
	}
	if len(readings) == 0 || len(readings) > TelemetryWindow {
		return fmt.Errorf("%d readings, want 1..%d: %w", len(readings), TelemetryWindow, ErrSchema)
	}
	for i, v := range readings {
		if v < q.Min || v > q.Max {
			return fmt.Errorf("reading %d: %s=%d not in [%d,%d]: %w", i, q.Name, v, q.Min, q.Max, ErrOutOfRange)
		}
	}
	return nil
}

// EncryptAlertInput encrypts an implant's readings for the alerts of one
// direction, into telemetry window `window` (slots window·64 …). Unused
// slots of the window are padded with a reading that never raises the flag;
// other windows are zero, so the relay packs many implants by adding their
// ciphertexts ([Relay.Pack]).
func (pk *PublicKey) EncryptAlertInput(q Quantity, dir Direction, window int, readings []int64) (*Ciphertext, error) {
	if err := pk.checkTelemetry(q, readings, window); err != nil {
		return nil, fmt.Errorf("encrypt alert input: %w", err)
	}
	probe := Alert{Quantity: q, Direction: dir}
	lo, hi, _ := probe.window()
	if dir != Below && dir != Above {
		return nil, fmt.Errorf("encrypt alert input: direction %d: %w", dir, ErrSchema)
	}
	slots := make([]float64, pk.params.MaxTelemetrySlots())
	base := window * TelemetryWindow
	for i := 0; i < TelemetryWindow; i++ {
		c := hi // padding: never below a threshold ≤ hi
		if dir == Above {
			c = lo // never above a threshold ≥ lo
		}
		if i < len(readings) {
			c = min(max(readings[i], lo), hi)
		}
		slots[base+i] = float64(c-lo) / CompareRadius
	}
	return pk.encrypt(slots, pk.params.ckks.LogMaxSlots(), pk.params.ckks.MaxLevel(), RoleAlertInput)
}

// EncryptReadings encrypts raw readings for window sums, at level 0 (sums
// need no multiplication, so the ciphertext is small).
func (pk *PublicKey) EncryptReadings(q Quantity, window int, readings []int64) (*Ciphertext, error) {
	if err := pk.checkTelemetry(q, readings, window); err != nil {
		return nil, fmt.Errorf("encrypt readings: %w", err)
	}
	slots := make([]float64, pk.params.MaxTelemetrySlots())
	for i, v := range readings {
		slots[window*TelemetryWindow+i] = float64(v-q.Min) / rawScale
	}
	return pk.encrypt(slots, pk.params.ckks.LogMaxSlots(), 0, RoleReadings)
}

// Pack adds ciphertexts of the same role whose readings sit in disjoint windows.
func (r *Relay) Pack(cts ...*Ciphertext) (*Ciphertext, error) {
	if len(cts) == 0 {
		return nil, fmt.Errorf("pack nothing: %w", ErrSchema)
	}
	role := cts[0].role
	if role != RoleAlertInput && role != RoleReadings {
		return nil, fmt.Errorf("pack role %d: %w", role, ErrBadKind)
	}
	acc := cts[0].ct.CopyNew()
	for i, c := range cts[1:] {
		if err := c.check(r.keys.params, DomainClinic, role); err != nil {
			return nil, fmt.Errorf("pack %d: %w", i+1, err)
		}
		if err := r.eval.Add(acc, c.ct, acc); err != nil {
			return nil, fmt.Errorf("pack %d: %w: %w", i+1, ErrEval, err)
		}
	}
	return &Ciphertext{params: r.keys.params, domain: DomainClinic, role: role, ct: acc}, nil
}

// Flags evaluates the alert in every slot: 1 where the reading crosses the
// threshold, else 0.
func (r *Relay) Flags(in *Ciphertext, a Alert) (*Ciphertext, error) {
	p := r.keys.params
	if err := in.check(p, DomainClinic, RoleAlertInput); err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	lo, _, err := a.window()
	if err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	t := float64(a.Threshold - lo)
	ct := in.ct.CopyNew()
	// Below: [c < t] = step((t − 1/2 − c)/R); Above: [c > t] = step((c − t − 1/2)/R).
	if a.Direction == Below {
		if err = r.eval.Mul(ct, -1, ct); err != nil {
			return nil, fmt.Errorf("flags: %w: %w", ErrEval, err)
		}
		err = r.eval.Add(ct, (t-0.5)/CompareRadius, ct)
	} else {
		err = r.eval.Add(ct, (-t-0.5)/CompareRadius, ct)
	}
	if err != nil {
		return nil, fmt.Errorf("flags: %w: %w", ErrEval, err)
	}
	st, err := r.step(ct, TelemetryComposite)
	if err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	return &Ciphertext{params: p, domain: DomainClinic, role: RoleFlags, ct: st}, nil
}

// Or combines flags of two alerts on the same readings (e.g. heart rate
// below the low and above the high threshold of a band; they are exclusive,
// so the sum is their OR).
func (r *Relay) Or(a, b *Ciphertext) (*Ciphertext, error) {
	p := r.keys.params
	if err := a.check(p, DomainClinic, RoleFlags); err != nil {
		return nil, fmt.Errorf("or: %w", err)
	}
	if err := b.check(p, DomainClinic, RoleFlags); err != nil {
		return nil, fmt.Errorf("or: %w", err)
	}
	s, err := r.eval.AddNew(a.ct, b.ct)
	if err != nil {
		return nil, fmt.Errorf("or: %w: %w", ErrEval, err)
	}
	return &Ciphertext{params: p, domain: DomainClinic, role: RoleFlags, ct: s}, nil
}

// WindowCounts sums flags over each telemetry window (result in the
// window's first slot).
func (r *Relay) WindowCounts(flags *Ciphertext) (*Ciphertext, error) {
	return r.windowSum(flags, RoleFlags, RoleWindowCounts)
}

// WindowSums sums raw readings over each telemetry window.
func (r *Relay) WindowSums(readings *Ciphertext) (*Ciphertext, error) {
	return r.windowSum(readings, RoleReadings, RoleWindowSums)
}

func (r *Relay) windowSum(in *Ciphertext, want, out Role) (*Ciphertext, error) {
	p := r.keys.params
	if err := in.check(p, DomainClinic, want); err != nil {
		return nil, fmt.Errorf("window sum: %w", err)
	}
	acc := in.ct.CopyNew()
	for s := 1; s < TelemetryWindow; s <<= 1 {
		rot, err := r.eval.RotateNew(acc, s)
		if err != nil {
			return nil, fmt.Errorf("window sum: %w: %w", ErrEval, err)
		}
		if err = r.eval.Add(acc, rot, acc); err != nil {
			return nil, fmt.Errorf("window sum: %w: %w", ErrEval, err)
		}
	}
	return &Ciphertext{params: p, domain: DomainClinic, role: out, ct: acc}, nil
}

// DecryptFlags returns the flags of window `window`'s first n readings.
func (k *SecretKeys) DecryptFlags(c *Ciphertext, window, n int) ([]bool, error) {
	slots, err := k.openTelemetry(c, RoleFlags, window, n)
	if err != nil {
		return nil, err
	}
	out := make([]bool, n)
	for i := range out {
		if out[i], err = roundBit(slots[window*TelemetryWindow+i]); err != nil {
			return nil, fmt.Errorf("decrypt flag %d: %w", i, err)
		}
	}
	return out, nil
}

// DecryptCount returns the number of flags raised in a window.
func (k *SecretKeys) DecryptCount(c *Ciphertext, window int) (int, error) {
	slots, err := k.openTelemetry(c, RoleWindowCounts, window, 1)
	if err != nil {
		return 0, err
	}
	v, ok := roundTo(slots[window*TelemetryWindow], 0.45)
	if !ok || v < 0 || v > TelemetryWindow {
		return 0, fmt.Errorf("decrypt count: %w", ErrDecryptRange)
	}
	return int(v), nil
}

// DecryptSum returns the sum of a window's n readings, in quanta; the mean
// is Sum/n.
func (k *SecretKeys) DecryptSum(c *Ciphertext, q Quantity, window, n int) (int64, error) {
	slots, err := k.openTelemetry(c, RoleWindowSums, window, n)
	if err != nil {
		return 0, err
	}
	v, ok := roundTo(slots[window*TelemetryWindow]*rawScale, 0.45)
	if !ok || v < 0 || v > int64(n)*q.Span() {
		return 0, fmt.Errorf("decrypt sum: %w", ErrDecryptRange)
	}
	return v + int64(n)*q.Min, nil
}

func (k *SecretKeys) openTelemetry(c *Ciphertext, role Role, window, n int) ([]float64, error) {
	if err := c.check(k.params, DomainClinic, role); err != nil {
		return nil, fmt.Errorf("decrypt telemetry: %w", err)
	}
	if window < 0 || window >= k.params.MaxTelemetrySlots()/TelemetryWindow || n < 1 || n > TelemetryWindow {
		return nil, fmt.Errorf("decrypt telemetry window %d n %d: %w", window, n, ErrSchema)
	}
	return k.decryptSlots(c)
}
