package filestore

import (
	"github.com/implantfhe/implantfhe/hal"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStoreOperations(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s, err := Open(dir)
	require.NoError(t, err)
	b, err := s.ReadAll("log")
	require.ErrorIs(t, err, hal.ErrNotFound, "a missing object is ErrNotFound (the hal.Storage contract), as on the mock")
	assert.Nil(t, b)

	require.NoError(t, s.Append("log", []byte("abc")))
	require.NoError(t, s.Append("log", []byte("def")))
	b, err = s.ReadAll("log")
	require.NoError(t, err)
	assert.Equal(t, "abcdef", string(b))

	require.NoError(t, s.Truncate("log", 4))
	b, _ = s.ReadAll("log")
	assert.Equal(t, "abcd", string(b))

	require.NoError(t, s.Overwrite("ctr", []byte("1")))
	require.NoError(t, s.Overwrite("ctr", []byte("22")))
	b, _ = s.ReadAll("ctr")
	assert.Equal(t, "22", string(b))
	_, err = os.Stat(filepath.Join(dir, "ctr.tmp"))
	assert.True(t, os.IsNotExist(err), "no temporary file left behind")

	st, err := os.Stat(filepath.Join(dir, "log"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	for _, bad := range []string{"", "..", "a/b", `a\b`} {
		assert.Error(t, s.Append(bad, nil), "name %q", bad)
	}
}
