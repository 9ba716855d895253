package provision

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/kernel/guard"
)

func TestGenerateWritesPrivateFilesAndNoSecretToTheRelay(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, Generate(root, "pump-0001", fhe.TestOnlyN11, nil))
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		st, err := os.Stat(p)
		require.NoError(t, err)
		if d.IsDir() {
			if p != root {
				assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), p)
			}
			return nil
		}
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), p)
		if strings.Contains(p, string(filepath.Separator)+"relay"+string(filepath.Separator)) {
			assert.False(t, strings.HasSuffix(p, ".sk"), "relay holds no CKKS secret key: %s", p)
		}
		return nil
	})
	require.NoError(t, err)

	k, err := ReadSigningKey(filepath.Join(root, "clinic"), "clinician.key")
	require.NoError(t, err)
	assert.Equal(t, guard.RoleClinician, k.Role)
	trust, keys, err := ReadTrust(filepath.Join(root, "implant"))
	require.NoError(t, err)
	assert.Len(t, keys, 2)
	_, ok := trust.Lookup(k.ID)
	assert.True(t, ok, "the implant trusts the clinician")
	d, err := ReadDevice(filepath.Join(root, "relay"))
	require.NoError(t, err)
	assert.Equal(t, "pump-0001", d.ID)

	// Update path: a 2-of-3 root signed by itself, the device's X25519 key
	// on the implant and its public half in public/.
	ur, err := ReadUpdateRoot(filepath.Join(root, "implant"))
	require.NoError(t, err)
	assert.Equal(t, UpdateThreshold, ur.Threshold)
	assert.Len(t, ur.Keys, UpdateKeys)
	dk, err := ReadUpdateDeviceKey(filepath.Join(root, "implant"))
	require.NoError(t, err)
	dp, err := ReadUpdateDevicePub(filepath.Join(root, "public"))
	require.NoError(t, err)
	assert.True(t, dk.PublicKey().Equal(dp))
	for i := 1; i <= UpdateKeys; i++ {
		mk, err := ReadSigningKey(filepath.Join(root, "manufacturer"), UpdateKeyFile(i))
		require.NoError(t, err)
		assert.Equal(t, guard.RoleManufacturer, mk.Role)
	}
	assert.Equal(t, uint32(ClassPump), d.ClassID)

	assert.ErrorIs(t, Generate(root, "pump-0001", fhe.TestOnlyN11, nil), ErrExists)
	rk, err := ReadFile(filepath.Join(root, "relay"), "fhe-implant.relay")
	require.NoError(t, err)
	_, err = fhe.UnmarshalRelayKeys(rk)
	require.NoError(t, err)
}
