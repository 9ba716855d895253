package update

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"

	"github.com/implantfhe/implantfhe/internal/dcbor"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/wire"
)

// FormatVersion is the manifest format this package writes and accepts.
const FormatVersion = 1

// Alg names the image encryption scheme.
type Alg uint8

// AlgAES256GCMChunked: AES-256-GCM per chunk, nonce = base nonce XOR chunk
// index, AAD binding the image digest, size, chunk index and final flag.
const AlgAES256GCMChunked Alg = 1

// Sizes and limits. Manifests are untrusted input until their signatures
// verify, so every length is bounded before or while decoding.
const (
	// MaxManifestSize bounds an encoded manifest (it travels over the radio).
	MaxManifestSize = 16 << 10
	// MaxImageSize bounds an image: the size of one slot.
	MaxImageSize = 64 << 20
	// MinChunkSize and MaxChunkSize bound the encryption chunk size.
	MinChunkSize = 256
	MaxChunkSize = 64 << 10
	// DefaultChunkSize is what Package uses when none is given: a flash
	// erase block on the reference boards.
	DefaultChunkSize = 4 << 10
	// MaxRecipients bounds the wrapped keys in one manifest.
	MaxRecipients = 32
	// MaxSignatures bounds the signatures on a manifest or root.
	MaxSignatures = 16
	// ContentKeySize is the AES-256 content key size.
	ContentKeySize = 32
	// NonceSize is the AES-GCM nonce size.
	NonceSize = 12
	// TagSize is the per-chunk ciphertext overhead (the GCM tag).
	TagSize = 16
	// RecipientIDSize is the size of a recipient (device key) ID.
	RecipientIDSize = 8
	// X25519KeySize is the size of an X25519 public key.
	X25519KeySize = 32
	// WrappedKeySize is a wrapped content key: key plus GCM tag.
	WrappedKeySize = ContentKeySize + TagSize
)

// Domain separation: a signature over one kind of object never verifies as
// another, nor as a wire envelope.
const (
	manifestContext = "implantfhe/update/manifest/v1\x00"
	rootContext     = "implantfhe/update/root/v1\x00"
)

// Manifest is a signed description of one firmware image.
type Manifest struct {
	Body ManifestBody `cbor:"1,keyasint"`
	// Sigs are Ed25519 signatures over Body.SignedBytes by manufacturer keys
	// of the trust root; Threshold distinct keys must verify.
	Sigs []Signature `cbor:"2,keyasint"`
}

// ManifestBody is everything a manifest signature covers.
type ManifestBody struct {
	Format   uint8  `cbor:"1,keyasint"`
	VendorID uint32 `cbor:"2,keyasint"`
	// ClassID is the device class (model and hardware revision) the image
	// runs on.
	ClassID uint32 `cbor:"3,keyasint"`
	// Version must be above the running image's version.
	Version uint64 `cbor:"4,keyasint"`
	// SecurityCounter must be at least the implant's confirmed counter; it
	// is raised only when a new image confirms (anti-rollback).
	SecurityCounter uint64 `cbor:"5,keyasint"`
	// ImageSize is the plaintext size in bytes.
	ImageSize uint64 `cbor:"6,keyasint"`
	// ImageDigest is SHA-256 of the plaintext image.
	ImageDigest []byte     `cbor:"7,keyasint"`
	Encryption  Encryption `cbor:"8,keyasint"`
}

// Encryption says how the image ciphertext was made and holds the content key
// wrapped for each target device.
type Encryption struct {
	Alg Alg `cbor:"1,keyasint"`
	// ChunkSize is the plaintext size of every chunk but the last.
	ChunkSize uint32 `cbor:"2,keyasint"`
	// BaseNonce is XORed with the chunk index to make each chunk's nonce.
	BaseNonce  []byte      `cbor:"3,keyasint"`
	Recipients []Recipient `cbor:"4,keyasint"`
}

// Recipient is the content key wrapped for one device key: X25519 between
// a fresh ephemeral key and the device key, HKDF-SHA256, AES-256-GCM.
type Recipient struct {
	// KeyID is RecipientID of the device's X25519 public key.
	KeyID      []byte `cbor:"1,keyasint"`
	Ephemeral  []byte `cbor:"2,keyasint"`
	WrappedKey []byte `cbor:"3,keyasint"`
}

// Signature is one signer's Ed25519 signature; KeyID is wire.IDOf of the key.
type Signature struct {
	KeyID []byte `cbor:"1,keyasint"`
	Sig   []byte `cbor:"2,keyasint"`
}

// dec decodes untrusted manifests, roots and slot state.
var dec = dcbor.NewDecoder(dcbor.Limits{MaxNested: 8, MaxArray: MaxRecipients, MaxMap: 16})

// decodeCanonical decodes b into v and refuses any encoding other than the
// one this package would write, so signed bytes are exactly the bytes read.
func decodeCanonical(b []byte, v any) error {
	if err := dec.UnmarshalCanonical(b, v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// SignedBytes are the bytes a manifest signature covers.
func (b *ManifestBody) SignedBytes() ([]byte, error) {
	enc, err := dcbor.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("update: encode manifest body: %w", err)
	}
	return append([]byte(manifestContext), enc...), nil
}

// Digest is SHA-256 of SignedBytes: the name the implant's state gives a
// manifest.
func (b *ManifestBody) Digest() ([32]byte, error) {
	sb, err := b.SignedBytes()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(sb), nil
}

// Chunks is the number of encryption chunks of the image.
func (b *ManifestBody) Chunks() int {
	cs := uint64(b.Encryption.ChunkSize)
	if cs == 0 {
		return 0
	}
	return int((b.ImageSize + cs - 1) / cs)
}

// chunkPlainLen is the plaintext length of chunk i.
func (b *ManifestBody) chunkPlainLen(i int) int {
	cs := int(b.Encryption.ChunkSize)
	if i == b.Chunks()-1 {
		return int(b.ImageSize) - i*cs
	}
	return cs
}

// check validates the structure of a body (not its authenticity).
func (b *ManifestBody) check() error {
	e := &b.Encryption
	switch {
	case b.Format != FormatVersion:
		return fmt.Errorf("%w: format %d", ErrMalformed, b.Format)
	case b.ImageSize == 0 || b.ImageSize > MaxImageSize:
		return fmt.Errorf("%w: image size %d", ErrSize, b.ImageSize)
	case len(b.ImageDigest) != sha256.Size:
		return fmt.Errorf("%w: image digest length %d", ErrMalformed, len(b.ImageDigest))
	case e.Alg != AlgAES256GCMChunked:
		return fmt.Errorf("%w: encryption algorithm %d", ErrMalformed, e.Alg)
	case e.ChunkSize < MinChunkSize || e.ChunkSize > MaxChunkSize:
		return fmt.Errorf("%w: chunk size %d", ErrMalformed, e.ChunkSize)
	case len(e.BaseNonce) != NonceSize:
		return fmt.Errorf("%w: base nonce length %d", ErrMalformed, len(e.BaseNonce))
	case len(e.Recipients) == 0:
		return fmt.Errorf("%w: no recipients", ErrMalformed)
	}
	seen := make(map[string]bool, len(e.Recipients))
	for i, r := range e.Recipients {
		if len(r.KeyID) != RecipientIDSize || len(r.Ephemeral) != X25519KeySize || len(r.WrappedKey) != WrappedKeySize {
			return fmt.Errorf("%w: recipient %d field lengths", ErrMalformed, i)
		}
		if seen[string(r.KeyID)] {
			return fmt.Errorf("%w: recipient %x listed twice", ErrMalformed, r.KeyID)
		}
		seen[string(r.KeyID)] = true
	}
	return nil
}

func checkSigs(sigs []Signature) error {
	if len(sigs) == 0 || len(sigs) > MaxSignatures {
		return fmt.Errorf("%w: %d signatures", ErrMalformed, len(sigs))
	}
	for i, s := range sigs {
		if len(s.KeyID) != wire.KeyIDSize || len(s.Sig) != ed25519.SignatureSize {
			return fmt.Errorf("%w: signature %d field lengths", ErrMalformed, i)
		}
	}
	return nil
}

// Marshal encodes the manifest as deterministic CBOR.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := dcbor.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("update: encode manifest: %w", err)
	}
	return b, nil
}

// DecodeManifest parses an untrusted manifest: size, CBOR within the decode
// limits, canonical form, field lengths. It checks structure only;
// TrustRoot.VerifyManifest checks authenticity.
func DecodeManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest of %d bytes > %d", ErrSize, len(b), MaxManifestSize)
	}
	var m Manifest
	if err := decodeCanonical(b, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if err := m.Body.check(); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if err := checkSigs(m.Sigs); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	return &m, nil
}

// Sign signs body with each key (each must be a manufacturer key) and
// returns the manifest.
func Sign(body ManifestBody, keys ...*wire.SigningKey) (*Manifest, error) {
	msg, err := body.SignedBytes()
	if err != nil {
		return nil, err
	}
	sigs, err := signAll(msg, keys)
	if err != nil {
		return nil, fmt.Errorf("sign manifest: %w", err)
	}
	return &Manifest{Body: body, Sigs: sigs}, nil
}

func signAll(msg []byte, keys []*wire.SigningKey) ([]Signature, error) {
	sigs := make([]Signature, 0, len(keys))
	for _, k := range keys {
		if k == nil || len(k.Private) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%w: missing private key", ErrSignature)
		}
		if k.Role != guard.RoleManufacturer {
			return nil, fmt.Errorf("%w: key %x has role %d, not manufacturer", ErrSignature, k.ID, k.Role)
		}
		sigs = append(sigs, Signature{KeyID: append([]byte(nil), k.ID[:]...), Sig: ed25519.Sign(k.Private, msg)})
	}
	return sigs, nil
}
