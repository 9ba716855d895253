package update

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/implantfhe/implantfhe/wire"
)

// Release is what the manufacturer publishes and the relay stores and
// forwards: the signed manifest and the image's ciphertext chunks. The relay
// can neither read nor alter it undetected: chunks are AEAD-sealed under a
// key only the target devices can unwrap, and the manifest is signed.
type Release struct {
	Manifest []byte
	Chunks   [][]byte
}

// releaseMagic starts an encoded release.
const releaseMagic = "IFHEREL1"

// Marshal encodes a release: magic, the manifest's length (4 bytes, big
// endian), the manifest, then the ciphertext chunks back to back. Chunk
// boundaries are not stored: they follow from the manifest.
func (r *Release) Marshal() ([]byte, error) {
	if len(r.Manifest) > MaxManifestSize {
		return nil, fmt.Errorf("release: %w: manifest of %d bytes", ErrSize, len(r.Manifest))
	}
	n := len(releaseMagic) + 4 + len(r.Manifest)
	for _, c := range r.Chunks {
		n += len(c)
	}
	out := make([]byte, 0, n)
	out = append(out, releaseMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(r.Manifest)))
	out = append(out, r.Manifest...)
	for _, c := range r.Chunks {
		out = append(out, c...)
	}
	return out, nil
}

// DecodeRelease parses an untrusted release: the manifest's structure (not
// its signatures: the implant checks those) and exactly the ciphertext bytes
// the manifest describes, no more, no fewer.
func DecodeRelease(b []byte) (*Release, *Manifest, error) {
	if len(b) < len(releaseMagic)+4 || string(b[:len(releaseMagic)]) != releaseMagic {
		return nil, nil, fmt.Errorf("release: %w: no release header", ErrMalformed)
	}
	b = b[len(releaseMagic):]
	ml := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(ml) > MaxManifestSize || uint64(ml) > uint64(len(b)) {
		return nil, nil, fmt.Errorf("release: %w: manifest length %d", ErrSize, ml)
	}
	m, err := DecodeManifest(b[:ml])
	if err != nil {
		return nil, nil, fmt.Errorf("release: %w", err)
	}
	r := &Release{Manifest: b[:ml:ml]}
	rest := b[ml:]
	n := m.Body.Chunks()
	if want := m.Body.ImageSize + uint64(n)*TagSize; uint64(len(rest)) != want {
		return nil, nil, fmt.Errorf("release: %w: %d ciphertext bytes, manifest says %d", ErrSize, len(rest), want)
	}
	r.Chunks = make([][]byte, n)
	for i := range n {
		l := m.Body.chunkPlainLen(i) + TagSize
		r.Chunks[i], rest = rest[:l:l], rest[l:]
	}
	return r, m, nil
}

// NewRelease packages image for p.Recipients (Package), signs the manifest
// with keys (Sign) and returns the release.
func NewRelease(image []byte, p Params, rand io.Reader, keys ...*wire.SigningKey) (*Release, error) {
	body, chunks, err := Package(image, p, rand)
	if err != nil {
		return nil, err
	}
	return signRelease(body, chunks, keys)
}

func signRelease(body *ManifestBody, chunks [][]byte, keys []*wire.SigningKey) (*Release, error) {
	m, err := Sign(*body, keys...)
	if err != nil {
		return nil, err
	}
	mb, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	return &Release{Manifest: mb, Chunks: chunks}, nil
}

// NewMismatchedRelease builds the release a faulty build pipeline would
// produce: the manifest declares (and the chunks' AAD binds) the digest of
// declared, but the chunks encrypt actual, an image of the same size that
// differs from it (one flipped byte, say). Every chunk authenticates; only
// the implant's digest check of the staged image can catch it. It exists to
// demonstrate and test that check end to end; it signs like NewRelease.
func NewMismatchedRelease(declared, actual []byte, p Params, rand io.Reader, keys ...*wire.SigningKey) (*Release, error) {
	if len(declared) != len(actual) {
		return nil, fmt.Errorf("release: %w: images of %d and %d bytes", ErrSize, len(declared), len(actual))
	}
	body, key, err := packageBody(declared, p, rand)
	if err != nil {
		return nil, err
	}
	chunks, err := sealChunks(body, key, actual)
	if err != nil {
		return nil, err
	}
	return signRelease(body, chunks, keys)
}

// ImageDigest is SHA-256 of an image, as manifests carry it.
func ImageDigest(image []byte) [32]byte { return sha256.Sum256(image) }
