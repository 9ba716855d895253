package protocol

import (
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/implantfhe/implantfhe/internal/dcbor"
)

// Sealing an acknowledgement's private part to the clinic.
//
// Construction: HPKE (RFC 9180, Go's crypto/hpke) in base mode with
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM, to the clinic's
// X25519 key (provisioned: the clinic holds the private half, the implant
// the public half). The info string binds the ciphertext to its context:
// the device, the acknowledgement kind and the command it answers. The
// plaintext is the CBOR of Private, padded to a multiple of SealBucket
// bytes so that its length says nothing about the number of values or
// alerts. Security argument: HPKE base mode is IND-CCA2 for the recipient
// (the relay, without the clinic's key, learns nothing of the plaintext but
// its padded length), each seal uses a fresh ephemeral key (no nonce reuse
// across reboots, which a counter-based nonce on an implant could risk),
// and authenticity comes from the implant's Ed25519 signature over the
// whole acknowledgement body, which contains the sealed bytes.

// SealBucket: the padded plaintext length is a multiple of this.
const SealBucket = 64

// ackSealInfo separates these seals from any other HPKE use.
const ackSealInfo = "implantfhe/ack-seal/v1\x00"

// ErrSeal: a sealed part that does not open (wrong key, altered bytes,
// moved to another acknowledgement) or does not decode.
var ErrSeal = errors.New("protocol: sealed acknowledgement does not open")

var privDec = dcbor.NewDecoder(dcbor.Limits{MaxNested: 4, MaxArray: 64, MaxMap: 16})

func sealInfo(device string, a *Ack) []byte {
	b := []byte(ackSealInfo)
	b = append(b, byte(len(device)))
	b = append(b, device...)
	b = append(b, byte(a.Kind))
	if a.Answers != nil {
		b = binary.BigEndian.AppendUint64(b, a.Answers.Counter)
		b = append(b, a.Answers.Digest...)
	}
	return b
}

func suite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.AES256GCM() }

// SealPrivate encrypts p to the clinic's key and stores it in a.Sealed;
// a's other fields must be final (they are bound into the seal).
func SealPrivate(to *ecdh.PublicKey, device string, a *Ack, p *Private) error {
	if to == nil {
		return fmt.Errorf("protocol: seal: no clinic key")
	}
	body, err := dcbor.Marshal(p)
	if err != nil {
		return fmt.Errorf("protocol: seal: %w", err)
	}
	n := 2 + len(body)
	pt := make([]byte, (n+SealBucket-1)/SealBucket*SealBucket)
	binary.BigEndian.PutUint16(pt, uint16(len(body)))
	copy(pt[2:], body)
	pk, err := hpke.NewDHKEMPublicKey(to)
	if err != nil {
		return fmt.Errorf("protocol: seal: %w", err)
	}
	kdf, aead := suite()
	ct, err := hpke.Seal(pk, kdf, aead, sealInfo(device, a), pt)
	if err != nil {
		return fmt.Errorf("protocol: seal: %w", err)
	}
	a.Sealed = ct
	return nil
}

// OpenPrivate decrypts an acknowledgement's sealed part with the clinic's
// key; device is the device the acknowledgement was verified for.
func OpenPrivate(priv *ecdh.PrivateKey, device string, a *Ack) (*Private, error) {
	if priv == nil {
		return nil, fmt.Errorf("%w: no clinic key", ErrSeal)
	}
	sk, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSeal, err)
	}
	kdf, aead := suite()
	pt, err := hpke.Open(sk, kdf, aead, sealInfo(device, a), a.Sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSeal, err)
	}
	if len(pt) < 2 || len(pt)%SealBucket != 0 || int(binary.BigEndian.Uint16(pt)) > len(pt)-2 {
		return nil, fmt.Errorf("%w: bad padding", ErrSeal)
	}
	var p Private
	if err := privDec.UnmarshalCanonical(pt[2:2+int(binary.BigEndian.Uint16(pt))], &p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSeal, err)
	}
	return &p, nil
}
