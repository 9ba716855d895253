package update_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

func TestRotateRoot(t *testing.T) {
	f := newFixture(t, 10)
	fresh, err := wire.GenerateSigningKey(guard.RoleManufacturer, f.rng)
	require.NoError(t, err)
	// v2 replaces key 0 by a fresh key; still 2 of 3.
	newKeys := []*wire.SigningKey{fresh, f.mfr[1], f.mfr[2]}
	root := func(version uint64) *update.TrustRoot {
		r, err := update.NewTrustRoot(version, 2, fresh.Public(), f.mfr[1].Public(), f.mfr[2].Public())
		require.NoError(t, err)
		return r
	}
	for _, tc := range []struct {
		name    string
		version uint64
		signers []*wire.SigningKey
		want    error
	}{
		{"threshold of old and new keys", 2, []*wire.SigningKey{f.mfr[0], f.mfr[1], fresh}, nil},
		{"only one current key", 2, []*wire.SigningKey{f.mfr[1], fresh}, update.ErrThreshold},
		{"new keys only", 2, []*wire.SigningKey{fresh, f.mfr[2]}[:1], update.ErrThreshold},
		{"same version", 1, []*wire.SigningKey{f.mfr[0], f.mfr[1], fresh}, update.ErrRollback},
		{"older version", 0, []*wire.SigningKey{f.mfr[0], f.mfr[1], fresh}, update.ErrRollback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sr, err := update.SignRoot(root(tc.version), tc.signers...)
			require.NoError(t, err)
			got, err := f.root.RotateRoot(&sr.Root, sr.Sigs)
			require.ErrorIs(t, err, tc.want)
			if tc.want == nil {
				assert.Equal(t, tc.version, got.Version)
			}
		})
	}

	// Persisted on the implant: afterwards only the new root's keys count.
	s := f.open(t)
	sr, err := update.SignRoot(root(2), f.mfr[0], f.mfr[1], fresh)
	require.NoError(t, err)
	frame, err := sr.Marshal()
	require.NoError(t, err)
	require.NoError(t, s.RotateRoot(frame))
	require.ErrorIs(t, s.RotateRoot(frame), update.ErrRollback, "replaying the rotation")
	s = f.open(t)
	assert.Equal(t, uint64(2), s.State().Root.Version)
	img := f.bytes(600)
	require.ErrorIs(t, s.Begin(f.release(t, img, 2, 2, []*wire.SigningKey{f.mfr[0], f.mfr[1]}).manifest), update.ErrThreshold,
		"the retired key no longer counts")
	install(t, s, f.release(t, img, 2, 2, newKeys[:2]))
}

func TestTrustRootRefusesBadKeySets(t *testing.T) {
	f := newFixture(t, 11)
	clin, err := wire.GenerateSigningKey(guard.RoleClinician, f.rng)
	require.NoError(t, err)
	for _, tc := range []struct {
		name      string
		threshold int
		keys      []wire.TrustedKey
	}{
		{"threshold zero", 0, []wire.TrustedKey{f.mfr[0].Public()}},
		{"threshold above key count", 2, []wire.TrustedKey{f.mfr[0].Public()}},
		{"no keys", 1, nil},
		{"key listed twice", 1, []wire.TrustedKey{f.mfr[0].Public(), f.mfr[0].Public()}},
		{"clinician key", 1, []wire.TrustedKey{clin.Public()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := update.NewTrustRoot(1, tc.threshold, tc.keys...)
			require.ErrorIs(t, err, update.ErrMalformed)
		})
	}
}

// TestSignedRootVerify: a root verifies against itself with a threshold of
// its own keys, and not with fewer.
func TestSignedRootVerify(t *testing.T) {
	f := newFixture(t, 60)
	sr, err := update.SignRoot(f.root, f.mfr[:2]...)
	require.NoError(t, err)
	r, err := sr.Verify()
	require.NoError(t, err)
	require.Equal(t, f.root.Threshold, r.Threshold)
	one, err := update.SignRoot(f.root, f.mfr[0])
	require.NoError(t, err)
	_, err = one.Verify()
	require.ErrorIs(t, err, update.ErrThreshold)
}
