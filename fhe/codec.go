package fhe

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
)

// Encoding: a 16-byte header then a payload.
//
//	0  magic "IFHE"
//	4  version (1)
//	5  kind
//	6  domain
//	7  role (ciphertexts) or 0
//	8  parameter set id, big endian uint16
//	10 reserved, 0
//	12 payload length, big endian uint32
//
// Payloads hold only coefficients (little-endian uint64, or bit-packed for
// radio ciphertexts) and a few fixed fields; every shape comes from the
// parameter set, so a decoder allocates only what the set allows and checks
// the exact length and every coefficient against its modulus.
const (
	encVersion = 1
	headerLen  = 16
)

var magic = [4]byte{'I', 'F', 'H', 'E'}

// Kind is the kind of an encoded object.
type Kind uint8

const (
	KindSecretKeys      Kind = 1
	KindPublicKey       Kind = 2
	KindRelayKeys       Kind = 3
	KindCiphertext      Kind = 4
	KindRadioCiphertext Kind = 5
	maxPayload               = 1 << 30
)

type header struct {
	kind   Kind
	domain Domain
	role   Role
	set    ParamSetID
}

func putHeader(h header, payloadLen int) []byte {
	b := make([]byte, headerLen, headerLen+payloadLen)
	copy(b, magic[:])
	b[4], b[5], b[6], b[7] = encVersion, byte(h.kind), byte(h.domain), byte(h.role)
	binary.BigEndian.PutUint16(b[8:], uint16(h.set))
	binary.BigEndian.PutUint32(b[12:], uint32(payloadLen))
	return b
}

// parseHeader checks the header and returns it with the payload and the
// parameters it names.
func parseHeader(b []byte, want Kind) (header, []byte, *Params, error) {
	var h header
	if len(b) < headerLen {
		return h, nil, nil, fmt.Errorf("decode: %d bytes, header needs %d: %w", len(b), headerLen, ErrTruncated)
	}
	if [4]byte(b[:4]) != magic {
		return h, nil, nil, fmt.Errorf("decode: %w", ErrBadMagic)
	}
	if b[4] != encVersion {
		return h, nil, nil, fmt.Errorf("decode: version %d: %w", b[4], ErrBadVersion)
	}
	h = header{kind: Kind(b[5]), domain: Domain(b[6]), role: Role(b[7]), set: ParamSetID(binary.BigEndian.Uint16(b[8:]))}
	if h.kind != want {
		return h, nil, nil, fmt.Errorf("decode: kind %d, want %d: %w", h.kind, want, ErrBadKind)
	}
	if !h.domain.valid() {
		return h, nil, nil, fmt.Errorf("decode: domain %d: %w", h.domain, ErrMalformed)
	}
	if binary.BigEndian.Uint16(b[10:]) != 0 {
		return h, nil, nil, fmt.Errorf("decode: reserved bytes set: %w", ErrMalformed)
	}
	n := binary.BigEndian.Uint32(b[12:])
	if n > maxPayload || int(n) != len(b)-headerLen {
		return h, nil, nil, fmt.Errorf("decode: payload %d bytes, header says %d: %w", len(b)-headerLen, n, ErrTruncated)
	}
	ps, err := ParamSetByID(h.set)
	if err != nil {
		return h, nil, nil, fmt.Errorf("decode: %w", err)
	}
	p, err := NewParams(ps)
	if err != nil {
		return h, nil, nil, fmt.Errorf("decode: %w", err)
	}
	return h, b[headerLen:], p, nil
}

// polyRows lists the coefficient rows of polynomials with their moduli.
type polyRows struct {
	rows   [][]uint64
	moduli []uint64
}

func (pr *polyRows) add(p ring.Poly, moduli []uint64) {
	for i, r := range p.Coeffs {
		pr.rows = append(pr.rows, r)
		pr.moduli = append(pr.moduli, moduli[i])
	}
}

func (pr *polyRows) addQP(p ringqp.Poly, q, pm []uint64) {
	pr.add(p.Q, q)
	if p.P.Level() >= 0 && len(p.P.Coeffs) > 0 {
		pr.add(p.P, pm)
	}
}

func (pr *polyRows) addVecQP(v rlwe.VectorQP, q, pm []uint64) {
	for _, p := range v {
		pr.addQP(p, q, pm)
	}
}

func (pr *polyRows) addGadget(g *rlwe.GadgetCiphertext, q, pm []uint64) {
	for _, row := range g.Value {
		for _, v := range row {
			pr.addVecQP(v, q, pm)
		}
	}
}

func (pr *polyRows) size() (n int) {
	for _, r := range pr.rows {
		n += 8 * len(r)
	}
	return n
}

func (pr *polyRows) write(b []byte) []byte {
	for _, r := range pr.rows {
		for _, c := range r {
			b = binary.LittleEndian.AppendUint64(b, c)
		}
	}
	return b
}

func (pr *polyRows) read(b []byte) error {
	if len(b) != pr.size() {
		return fmt.Errorf("coefficients: %d bytes, want %d: %w", len(b), pr.size(), ErrTruncated)
	}
	for i, r := range pr.rows {
		for j := range r {
			c := binary.LittleEndian.Uint64(b)
			if c >= pr.moduli[i] {
				return fmt.Errorf("coefficient ≥ modulus: %w", ErrMalformed)
			}
			r[j], b = c, b[8:]
		}
	}
	return nil
}

// ---- secret keys ----

func secretRows(k *SecretKeys) *polyRows {
	pr := &polyRows{}
	pr.addQP(k.sk.Value, k.params.ckks.Q(), k.params.ckks.P())
	if k.radioSK != nil {
		pr.addQP(k.radioSK.Value, k.params.radio.Q(), k.params.radio.P())
	}
	return pr
}

// MarshalBinary encodes the secret keys (for the implant's or clinic's own
// protected storage only).
func (k *SecretKeys) MarshalBinary() ([]byte, error) {
	pr := secretRows(k)
	b := putHeader(header{kind: KindSecretKeys, domain: k.domain, set: k.params.set.ID}, pr.size())
	return pr.write(b), nil
}

// UnmarshalSecretKeys decodes secret keys. The public key is not stored; a
// fresh one is generated from the secret.
func UnmarshalSecretKeys(b []byte) (*SecretKeys, error) {
	h, payload, p, err := parseHeader(b, KindSecretKeys)
	if err != nil {
		return nil, fmt.Errorf("secret keys: %w", err)
	}
	k := &SecretKeys{params: p, domain: h.domain, sk: rlwe.NewSecretKey(p.ckks)}
	if h.domain == DomainImplant {
		k.radioSK = rlwe.NewSecretKey(p.radio)
	}
	if err := secretRows(k).read(payload); err != nil {
		return nil, fmt.Errorf("secret keys: %w", err)
	}
	k.pk = rlwe.NewKeyGenerator(p.ckks).GenPublicKeyNew(k.sk)
	return k, nil
}

// ---- public key ----

// MarshalBinary encodes the public key.
func (pk *PublicKey) MarshalBinary() ([]byte, error) {
	pr := &polyRows{}
	pr.addVecQP(pk.pk.Value, pk.params.ckks.Q(), pk.params.ckks.P())
	return pr.write(putHeader(header{kind: KindPublicKey, domain: pk.domain, set: pk.params.set.ID}, pr.size())), nil
}

// UnmarshalPublicKey decodes a public key.
func UnmarshalPublicKey(b []byte) (*PublicKey, error) {
	h, payload, p, err := parseHeader(b, KindPublicKey)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	pk := &PublicKey{params: p, domain: h.domain, pk: rlwe.NewPublicKey(p.ckks)}
	pr := &polyRows{}
	pr.addVecQP(pk.pk.Value, p.ckks.Q(), p.ckks.P())
	if err := pr.read(payload); err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return pk, nil
}

// ---- relay keys ----

func relayTemplate(p *Params, d Domain) *RelayKeys {
	gkShape, radioShape := p.evkShape(d)
	rk := &RelayKeys{params: p, domain: d, pk: rlwe.NewPublicKey(p.ckks), rlk: rlwe.NewRelinearizationKey(p.ckks)}
	for _, s := range galoisSteps(d) {
		gk := rlwe.NewGaloisKey(p.ckks, gkShape)
		gk.GaloisElement = p.ckks.GaloisElement(s)
		gk.NthRoot = p.ckks.RingQ().NthRoot()
		rk.gks = append(rk.gks, gk)
	}
	if d == DomainImplant {
		rk.radio = rlwe.NewEvaluationKey(p.ckks, radioShape)
	}
	return rk
}

func relayRows(rk *RelayKeys) *polyRows {
	q, pm := rk.params.ckks.Q(), rk.params.ckks.P()
	pr := &polyRows{}
	pr.addVecQP(rk.pk.Value, q, pm)
	pr.addGadget(&rk.rlk.GadgetCiphertext, q, pm)
	for _, gk := range rk.gks {
		pr.addGadget(&gk.GadgetCiphertext, q, pm)
	}
	if rk.radio != nil {
		pr.addGadget(&rk.radio.GadgetCiphertext, q, pm)
	}
	return pr
}

// MarshalBinary encodes the relay keys.
func (rk *RelayKeys) MarshalBinary() ([]byte, error) {
	pr := relayRows(rk)
	return pr.write(putHeader(header{kind: KindRelayKeys, domain: rk.domain, set: rk.params.set.ID}, pr.size())), nil
}

// UnmarshalRelayKeys decodes relay keys.
func UnmarshalRelayKeys(b []byte) (*RelayKeys, error) {
	h, payload, p, err := parseHeader(b, KindRelayKeys)
	if err != nil {
		return nil, fmt.Errorf("relay keys: %w", err)
	}
	rk := relayTemplate(p, h.domain)
	if err := relayRows(rk).read(payload); err != nil {
		return nil, fmt.Errorf("relay keys: %w", err)
	}
	return rk, nil
}

// ---- ciphertexts ----

// MarshalBinary encodes the ciphertext: level, log2 slots, scale, coefficients.
func (c *Ciphertext) MarshalBinary() ([]byte, error) {
	pr := &polyRows{}
	for _, v := range c.ct.Value {
		pr.add(v, c.params.ckks.Q())
	}
	scale, _ := c.ct.Scale.Value.Float64()
	b := putHeader(header{kind: KindCiphertext, domain: c.domain, role: c.role, set: c.params.set.ID}, 10+pr.size())
	b = append(b, byte(c.ct.Level()), byte(c.ct.LogDimensions.Cols))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(scale))
	return pr.write(b), nil
}

// UnmarshalCiphertext decodes a ciphertext.
func UnmarshalCiphertext(b []byte) (*Ciphertext, error) {
	h, payload, p, err := parseHeader(b, KindCiphertext)
	if err != nil {
		return nil, fmt.Errorf("ciphertext: %w", err)
	}
	if h.role < RoleCommand || h.role > maxRole || h.role.domain() != h.domain {
		return nil, fmt.Errorf("ciphertext: role %d in %v domain: %w", h.role, h.domain, ErrMalformed)
	}
	if len(payload) < 10 {
		return nil, fmt.Errorf("ciphertext: %w", ErrTruncated)
	}
	level, logSlots := int(payload[0]), int(payload[1])
	scale := math.Float64frombits(binary.LittleEndian.Uint64(payload[2:]))
	if level > p.ckks.MaxLevel() || logSlots > p.ckks.LogMaxSlots() || !(scale >= 1) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("ciphertext: level %d, log slots %d, scale %g: %w", level, logSlots, scale, ErrMalformed)
	}
	ct := hefloat.NewCiphertext(p.ckks, 1, level)
	ct.LogDimensions = ring.Dimensions{Rows: 0, Cols: logSlots}
	ct.Scale = rlwe.NewScale(scale)
	pr := &polyRows{}
	for _, v := range ct.Value {
		pr.add(v, p.ckks.Q())
	}
	if err := pr.read(payload[10:]); err != nil {
		return nil, fmt.Errorf("ciphertext: %w", err)
	}
	return &Ciphertext{params: p, domain: h.domain, role: h.role, ct: ct}, nil
}

// ---- radio ciphertexts: bit-packed, the implant's radio is the scarce link ----

func radioWidth(p *Params) int { return bits.Len64(p.radio.Q()[0]) }

func radioPayloadLen(p *Params) int {
	return 9 + (2*p.radio.N()*radioWidth(p)+7)/8
}

// MarshalBinary encodes the packet: log2 slots, scale, then 2·N coefficients
// mod q0 packed in ⌈log2 q0⌉ bits each.
func (r *RadioCiphertext) MarshalBinary() ([]byte, error) {
	p := r.params
	w := radioWidth(p)
	b := putHeader(header{kind: KindRadioCiphertext, domain: DomainImplant, set: p.set.ID}, radioPayloadLen(p))
	scale, _ := r.ct.Scale.Value.Float64()
	b = append(b, byte(r.ct.LogDimensions.Cols))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(scale))
	var acc uint64
	var nacc int
	out := make([]byte, 0, radioPayloadLen(p)-9)
	for _, v := range r.ct.Value {
		for _, c := range v.Coeffs[0] {
			// Emit w bits of c, least significant first.
			for i := 0; i < w; i++ {
				acc |= ((c >> i) & 1) << nacc
				nacc++
				if nacc == 8 {
					out = append(out, byte(acc))
					acc, nacc = 0, 0
				}
			}
		}
	}
	if nacc > 0 {
		out = append(out, byte(acc))
	}
	return append(b, out...), nil
}

// UnmarshalRadioCiphertext decodes a radio packet.
func UnmarshalRadioCiphertext(b []byte) (*RadioCiphertext, error) {
	h, payload, p, err := parseHeader(b, KindRadioCiphertext)
	if err != nil {
		return nil, fmt.Errorf("radio ciphertext: %w", err)
	}
	if h.domain != DomainImplant || h.role != 0 {
		return nil, fmt.Errorf("radio ciphertext: domain %v role %d: %w", h.domain, h.role, ErrMalformed)
	}
	if len(payload) != radioPayloadLen(p) {
		return nil, fmt.Errorf("radio ciphertext: %d bytes, want %d: %w", len(payload), radioPayloadLen(p), ErrTruncated)
	}
	logSlots := int(payload[0])
	scale := math.Float64frombits(binary.LittleEndian.Uint64(payload[1:]))
	if logSlots > p.radio.LogMaxSlots() || !(scale >= 1) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("radio ciphertext: log slots %d scale %g: %w", logSlots, scale, ErrMalformed)
	}
	ct := hefloat.NewCiphertext(p.radio, 1, 0)
	ct.LogDimensions = ring.Dimensions{Rows: 0, Cols: logSlots}
	ct.Scale = rlwe.NewScale(scale)
	w, q0 := radioWidth(p), p.radio.Q()[0]
	data := payload[9:]
	bit := 0
	for _, v := range ct.Value {
		for j := range v.Coeffs[0] {
			var c uint64
			for i := 0; i < w; i++ {
				c |= uint64((data[bit>>3]>>(bit&7))&1) << i
				bit++
			}
			if c >= q0 {
				return nil, fmt.Errorf("radio ciphertext: coefficient ≥ q0: %w", ErrMalformed)
			}
			v.Coeffs[0][j] = c
		}
	}
	if pad := bit & 7; pad != 0 && data[len(data)-1]>>pad != 0 {
		return nil, fmt.Errorf("radio ciphertext: padding bits set: %w", ErrMalformed)
	}
	return &RadioCiphertext{params: p, ct: ct}, nil
}

// Size returns the encoded size in bytes.
func (r *RadioCiphertext) Size() int { return headerLen + radioPayloadLen(r.params) }
