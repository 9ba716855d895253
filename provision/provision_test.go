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
	"github.com/implantfhe/implantfhe/protocol"
)

func TestGenerateWritesPrivateFilesAndNoSecretToTheRelay(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, Generate(root, opts()))
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

	ck, err := protocol.LoadClinic(filepath.Join(root, "clinic"))
	require.NoError(t, err)
	k := ck.Signer
	assert.Equal(t, guard.RoleClinician, k.Role)
	ik, err := protocol.LoadImplant(filepath.Join(root, "implant"))
	require.NoError(t, err)
	_, ok := ik.Trust.Lookup(k.ID)
	assert.True(t, ok, "the implant trusts the clinician")
	rk, err := protocol.LoadRelay(filepath.Join(root, "relay"))
	require.NoError(t, err)
	d := rk.Device
	assert.Equal(t, "pump-0001", d.ID)
	assert.True(t, ck.AckSeal.PublicKey().Equal(ik.AckSeal), "acknowledgements are sealed to the clinic's key")
	// One copy of the limits: the implant programs what the clinic encrypts.
	assert.Equal(t, ik.Limits, ck.Limits)
	assert.Equal(t, protocol.DefaultPumpLimits, *ik.Limits.Pump)
	assert.NotZero(t, ik.Limits.Pump.MinBolusIntervalMs, "two boluses a second apart must not both run by default")

	// Update path: a 2-of-3 root signed by itself, the device's X25519 key
	// on the implant and its public half in public/.
	ur := ik.UpdateRoot
	assert.Equal(t, UpdateThreshold, ur.Threshold)
	assert.Len(t, ur.Keys, UpdateKeys)
	pk, err := protocol.LoadPublic(filepath.Join(root, "public"))
	require.NoError(t, err)
	assert.True(t, ik.UpdateDeviceKey.PublicKey().Equal(pk.UpdatePub))
	mks, err := protocol.LoadUpdateKeys(filepath.Join(root, "manufacturer"), 1, 2, 3)
	require.NoError(t, err)
	for _, mk := range mks {
		assert.Equal(t, guard.RoleManufacturer, mk.Role)
	}
	assert.Equal(t, uint32(ClassPump), d.ClassID)
	assert.ErrorIs(t, Generate(root, opts()), ErrExists)
}

func opts() Options {
	return Options{DeviceID: "pump-0001", Kind: protocol.KindPump, Set: fhe.TestOnlyN11}
}

// TestDamagedKeyFilesAreRefusedByName: every loader checks each key file
// for length and form and names the file (regression: an empty or
// truncated bind.key was accepted by the implant and by ifhe).
func TestDamagedKeyFilesAreRefusedByName(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, Generate(root, opts()))
	load := map[string]func(string) error{
		"implant": func(d string) error { _, err := protocol.LoadImplant(d); return err },
		"clinic":  func(d string) error { _, err := protocol.LoadClinic(d); return err },
		"relay":   func(d string) error { _, err := protocol.LoadRelay(d); return err },
		"public":  func(d string) error { _, err := protocol.LoadPublic(d); return err },
	}
	for party, f := range load {
		dir := filepath.Join(root, party)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), protocol.FileCounter) {
				continue // the clinic's counter file has its own checks (controller/clinical)
			}
			p := filepath.Join(dir, e.Name())
			orig, err := os.ReadFile(p)
			require.NoError(t, err)
			for _, damage := range []struct {
				name string
				b    []byte
			}{{"empty", nil}, {"truncated", orig[:len(orig)/2]}, {"one byte more", append(append([]byte(nil), orig...), 0)}} {
				if damage.name == "one byte more" && (strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".skey") || strings.HasSuffix(p, ".vkey")) {
					continue // a trailing NUL after JSON or a note key is a different form, checked by truncation
				}
				require.NoError(t, os.WriteFile(p, damage.b, 0o600))
				err := f(dir)
				assert.ErrorIs(t, err, protocol.ErrKeyFile, "%s %s accepted", damage.name, p)
				if err != nil {
					assert.Contains(t, err.Error(), e.Name(), "the error names the file")
				}
			}
			require.NoError(t, os.WriteFile(p, orig, 0o600))
		}
		require.NoError(t, f(dir), "%s loads again once repaired", party)
	}
}

// TestProvisionRefusesImplausibleLimits: limits no kernel admits are
// refused at provisioning.
func TestProvisionRefusesImplausibleLimits(t *testing.T) {
	for _, mut := range []func(*protocol.PumpLimits){
		func(l *protocol.PumpLimits) { l.MaxBolusCU = 0 },
		func(l *protocol.PumpLimits) { l.SuspendBelowMgDL = 20 },
		func(l *protocol.PumpLimits) { l.MinBolusIntervalMs = -1 },
		func(l *protocol.PumpLimits) { l.ScheduledBasalCUph = l.MaxBasalCUPerHour + 1 },
	} {
		l := protocol.DefaultLimits(protocol.KindPump)
		mut(l.Pump)
		o := opts()
		o.Limits = &l
		assert.ErrorIs(t, Generate(t.TempDir(), o), protocol.ErrLimits)
	}
}
