package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/provision"
)

func TestSelftestChecks(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, provision.Generate(keys, provision.Options{DeviceID: "pump-selftest", Kind: protocol.KindPump, Set: fhe.TestOnlyN11}))
	badBoard := filepath.Join(t.TempDir(), "board.json")
	require.NoError(t, os.WriteFile(badBoard, []byte(`{"name":"x"}`), 0o600))
	tests := []struct {
		name     string
		keys     string
		board    string
		wantCode int
		failing  string
	}{
		{"provisioned keys on the simulator", filepath.Join(keys, "implant"), "", 0, ""},
		{"no keys", "", "", 1, "keys"},
		{"unreadable keys", t.TempDir(), "", 1, "keys"},
		{"bad board description", filepath.Join(keys, "implant"), badBoard, 1, "hal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			code := runSelftest(&out, tc.keys, tc.board)
			assert.Equal(t, tc.wantCode, code, out.String())
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			require.Len(t, lines, 6, "one line per check and a summary")
			for _, l := range lines[:5] {
				failed := strings.Contains(l, " FAIL ")
				assert.Equal(t, tc.failing != "" && strings.HasPrefix(l, "selftest: "+tc.failing+" "), failed, l)
			}
		})
	}
}

func TestKnownAnswerTestsPass(t *testing.T) {
	for name, kat := range map[string]func() (string, error){"sha256": sha256KAT, "ed25519": ed25519KAT, "kernel": kernelScript} {
		_, err := kat()
		assert.NoError(t, err, name)
	}
}
