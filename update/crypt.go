package update

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// Domain-separation strings for the image encryption.
const (
	chunkContext = "implantfhe/update/chunk/v1\x00"
	wrapContext  = "implantfhe/update/wrap/v1\x00"
	wrapInfo     = "implantfhe/update/wrap/v1 kek"
)

// RecipientID names a device's X25519 public key: the first RecipientIDSize
// bytes of its SHA-256.
func RecipientID(pub *ecdh.PublicKey) [RecipientIDSize]byte {
	var id [RecipientIDSize]byte
	d := sha256.Sum256(pub.Bytes())
	copy(id[:], d[:])
	return id
}

// Params describe an image to package.
type Params struct {
	VendorID        uint32
	ClassID         uint32
	Version         uint64
	SecurityCounter uint64
	// ChunkSize is the plaintext chunk size; 0 means DefaultChunkSize.
	ChunkSize int
	// Recipients are the X25519 public keys of the target devices.
	Recipients []*ecdh.PublicKey
}

// Package encrypts image for p.Recipients under a fresh content key (the
// manufacturer's side). It returns the unsigned manifest body (sign it with
// Sign) and the ciphertext chunks, each TagSize bytes longer than its
// plaintext.
func Package(image []byte, p Params, rand io.Reader) (*ManifestBody, [][]byte, error) {
	body, key, err := packageBody(image, p, rand)
	if err != nil {
		return nil, nil, err
	}
	chunks, err := sealChunks(body, key, image)
	if err != nil {
		return nil, nil, err
	}
	return body, chunks, nil
}

// packageBody makes the manifest body for image: its digest, a fresh content
// key and base nonce, the key wrapped for each recipient.
func packageBody(image []byte, p Params, rand io.Reader) (*ManifestBody, []byte, error) {
	if p.ChunkSize == 0 {
		p.ChunkSize = DefaultChunkSize
	}
	if len(p.Recipients) == 0 || len(p.Recipients) > MaxRecipients {
		return nil, nil, fmt.Errorf("package: %w: %d recipients", ErrMalformed, len(p.Recipients))
	}
	digest := sha256.Sum256(image)
	body := &ManifestBody{
		Format: FormatVersion, VendorID: p.VendorID, ClassID: p.ClassID,
		Version: p.Version, SecurityCounter: p.SecurityCounter,
		ImageSize: uint64(len(image)), ImageDigest: digest[:],
		Encryption: Encryption{Alg: AlgAES256GCMChunked, ChunkSize: uint32(p.ChunkSize), BaseNonce: make([]byte, NonceSize)},
	}
	if p.ChunkSize < MinChunkSize || p.ChunkSize > MaxChunkSize {
		return nil, nil, fmt.Errorf("package: %w: chunk size %d", ErrMalformed, p.ChunkSize)
	}
	key := make([]byte, ContentKeySize)
	if _, err := io.ReadFull(rand, key); err != nil {
		return nil, nil, fmt.Errorf("package: content key: %w", err)
	}
	if _, err := io.ReadFull(rand, body.Encryption.BaseNonce); err != nil {
		return nil, nil, fmt.Errorf("package: base nonce: %w", err)
	}
	for _, pub := range p.Recipients {
		r, err := wrapKey(key, pub, body.ImageDigest, rand)
		if err != nil {
			return nil, nil, fmt.Errorf("package: %w", err)
		}
		body.Encryption.Recipients = append(body.Encryption.Recipients, r)
	}
	if err := body.check(); err != nil {
		return nil, nil, fmt.Errorf("package: %w", err)
	}
	return body, key, nil
}

// sealChunks encrypts image chunk by chunk as body describes.
func sealChunks(body *ManifestBody, key, image []byte) ([][]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	cs := int(body.Encryption.ChunkSize)
	n := body.Chunks()
	chunks := make([][]byte, n)
	for i := range n {
		lo := i * cs
		hi := min(lo+cs, len(image))
		chunks[i] = aead.Seal(nil, chunkNonce(body, i), image[lo:hi], chunkAAD(body, i))
	}
	return chunks, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("update: aes: %w", err)
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, fmt.Errorf("update: gcm: %w", err)
	}
	return aead, nil
}

// chunkNonce is the base nonce with its last 8 bytes XORed with the chunk
// index: distinct per chunk, and the key is fresh per image.
func chunkNonce(b *ManifestBody, i int) []byte {
	n := append([]byte(nil), b.Encryption.BaseNonce...)
	x := binary.BigEndian.Uint64(n[4:]) ^ uint64(i)
	binary.BigEndian.PutUint64(n[4:], x)
	return n
}

// chunkAAD binds a chunk to its image, its position and whether it is the
// last one, so chunks cannot be reordered, moved to another image, or the
// image cut short after a full chunk.
func chunkAAD(b *ManifestBody, i int) []byte {
	aad := make([]byte, 0, len(chunkContext)+sha256.Size+8+8+1)
	aad = append(aad, chunkContext...)
	aad = append(aad, b.ImageDigest...)
	aad = binary.BigEndian.AppendUint64(aad, b.ImageSize)
	aad = binary.BigEndian.AppendUint64(aad, uint64(i))
	final := byte(0)
	if i == b.Chunks()-1 {
		final = 1
	}
	return append(aad, final)
}

// openChunk authenticates and decrypts chunk i.
func openChunk(aead cipher.AEAD, b *ManifestBody, i int, ct []byte) ([]byte, error) {
	if i < 0 || i >= b.Chunks() {
		return nil, fmt.Errorf("%w: chunk %d of %d", ErrMalformed, i, b.Chunks())
	}
	if want := b.chunkPlainLen(i) + TagSize; len(ct) != want {
		return nil, fmt.Errorf("%w: chunk %d is %d bytes, want %d", ErrSize, i, len(ct), want)
	}
	pt, err := aead.Open(nil, chunkNonce(b, i), ct, chunkAAD(b, i))
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %d", ErrDecrypt, i)
	}
	return pt, nil
}

// kek derives the key-encryption key from an X25519 shared secret, salted
// with both public keys so the KEK is bound to this exchange.
func kek(shared, ephPub, recipPub []byte) ([]byte, error) {
	salt := append(append([]byte(nil), ephPub...), recipPub...)
	k, err := hkdf.Key(sha256.New, shared, salt, wrapInfo, ContentKeySize)
	if err != nil {
		return nil, fmt.Errorf("update: hkdf: %w", err)
	}
	return k, nil
}

func wrapAAD(id, imageDigest []byte) []byte {
	return append(append([]byte(wrapContext), id...), imageDigest...)
}

// wrapKey wraps the content key for one device. Each recipient gets its own
// ephemeral key, so every KEK is used once and a zero nonce is safe.
func wrapKey(key []byte, pub *ecdh.PublicKey, imageDigest []byte, rand io.Reader) (Recipient, error) {
	if pub == nil || pub.Curve() != ecdh.X25519() {
		return Recipient{}, fmt.Errorf("%w: recipient key is not X25519", ErrMalformed)
	}
	eph, err := ecdh.X25519().GenerateKey(rand)
	if err != nil {
		return Recipient{}, fmt.Errorf("wrap: ephemeral key: %w", err)
	}
	shared, err := eph.ECDH(pub)
	if err != nil {
		return Recipient{}, fmt.Errorf("wrap: %w", err)
	}
	k, err := kek(shared, eph.PublicKey().Bytes(), pub.Bytes())
	if err != nil {
		return Recipient{}, err
	}
	aead, err := newGCM(k)
	if err != nil {
		return Recipient{}, err
	}
	id := RecipientID(pub)
	return Recipient{
		KeyID:      id[:],
		Ephemeral:  eph.PublicKey().Bytes(),
		WrappedKey: aead.Seal(nil, make([]byte, NonceSize), key, wrapAAD(id[:], imageDigest)),
	}, nil
}

// OpenContentKey unwraps the content key for device key priv and returns the
// image AEAD.
func (b *ManifestBody) OpenContentKey(priv *ecdh.PrivateKey) (cipher.AEAD, error) {
	if priv == nil || priv.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("%w: device key is not X25519", ErrDecrypt)
	}
	pub := priv.PublicKey()
	id := RecipientID(pub)
	for _, r := range b.Encryption.Recipients {
		if string(r.KeyID) != string(id[:]) {
			continue
		}
		eph, err := ecdh.X25519().NewPublicKey(r.Ephemeral)
		if err != nil {
			return nil, fmt.Errorf("%w: ephemeral key: %v", ErrDecrypt, err)
		}
		shared, err := priv.ECDH(eph)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
		}
		k, err := kek(shared, r.Ephemeral, pub.Bytes())
		if err != nil {
			return nil, err
		}
		wrap, err := newGCM(k)
		if err != nil {
			return nil, err
		}
		key, err := wrap.Open(nil, make([]byte, NonceSize), r.WrappedKey, wrapAAD(id[:], b.ImageDigest))
		if err != nil {
			return nil, fmt.Errorf("%w: wrapped key for %x", ErrDecrypt, id)
		}
		return newGCM(key)
	}
	return nil, fmt.Errorf("%w: no wrapped key for device key %x", ErrDecrypt, id)
}
