package update_test

import (
	"crypto/ecdh"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

func TestManifestSizeFitsItsLimits(t *testing.T) {
	f := newFixture(t, 50)
	img := f.bytes(1 << 20)
	one := f.release(t, img, 2, 2, f.mfr[:2], func(p *update.Params) { p.ChunkSize = update.DefaultChunkSize })
	t.Logf("manifest, 1 recipient, 2 signatures: %d bytes; 1 MiB image: %d chunks of %d + %d tag bytes",
		len(one.manifest), len(one.chunks), update.DefaultChunkSize, update.TagSize)
	assert.Len(t, one.chunks[0], update.DefaultChunkSize+update.TagSize)

	var keys []*wire.SigningKey
	var pubs []wire.TrustedKey
	for range update.MaxSignatures {
		k, err := wire.GenerateSigningKey(guard.RoleManufacturer, f.rng)
		require.NoError(t, err)
		keys, pubs = append(keys, k), append(pubs, k.Public())
	}
	var recips []*ecdh.PublicKey
	for range update.MaxRecipients {
		k, err := ecdh.X25519().GenerateKey(f.rng)
		require.NoError(t, err)
		recips = append(recips, k.PublicKey())
	}
	full := f.release(t, img, 2, 2, keys, func(p *update.Params) { p.Recipients = recips })
	t.Logf("manifest, %d recipients, %d signatures: %d bytes", update.MaxRecipients, update.MaxSignatures, len(full.manifest))
	assert.LessOrEqual(t, len(full.manifest), update.MaxManifestSize)
	assert.LessOrEqual(t, len(full.manifest), wire.MaxRadioFrame)
	m, err := update.DecodeManifest(full.manifest)
	require.NoError(t, err, "the largest manifest the limits allow still decodes")
	root, err := update.NewTrustRoot(1, update.MaxSignatures, pubs...)
	require.NoError(t, err)
	require.NoError(t, root.VerifyManifest(m))
}

func TestManifestDecoderRefusesNonCanonicalBytes(t *testing.T) {
	f := newFixture(t, 51)
	r := f.release(t, f.bytes(600), 2, 2, f.mfr[:2])
	_, err := update.DecodeManifest(r.manifest)
	require.NoError(t, err)
	// A trailing byte, and a map header widened to a two-byte length.
	widened := append([]byte{0xb8, 0x02}, r.manifest[1:]...)
	for _, b := range [][]byte{append(append([]byte(nil), r.manifest...), 0), widened} {
		_, err := update.DecodeManifest(b)
		require.ErrorIs(t, err, update.ErrMalformed)
	}
}
