package board

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExampleBoardDescriptionLoads(t *testing.T) {
	c, err := LoadConfig(filepath.Join("testdata", "board.json"))
	require.NoError(t, err)
	assert.Equal(t, "gpiochip0", c.GPIO.Chip)
	assert.Equal(t, 17, c.GPIO.PumpStep)
	assert.Equal(t, "/dev/ttyAMA0", c.Serial.Device)
	assert.Equal(t, 115200, c.Serial.Baud)
	assert.Equal(t, "/dev/watchdog", c.Watchdog.Device)
}

func TestBadBoardDescriptionsAreRefused(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "board.json"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		from    string
		to      string
		message string
	}{
		{"misspelt key", `"pump_step"`, `"pump_stepp"`, "unknown field"},
		{"shared line", `"pump_enable": 27`, `"pump_enable": 17`, "share line 17"},
		{"negative offset", `"occlusion_sense": 22`, `"occlusion_sense": -1`, "negative"},
		{"no serial device", `"/dev/ttyAMA0"`, `""`, "serial.device"},
		{"zero baud", `"baud": 115200`, `"baud": 0`, "serial.baud"},
		{"no steps", `"steps_per_centiunit": 4`, `"steps_per_centiunit": 0`, "steps_per_centiunit"},
		{"no watchdog", `"/dev/watchdog"`, `""`, "watchdog.device"},
		{"no storage", `"/var/lib/implantfhe"`, `""`, "storage_dir"},
		{"not json", `{`, `[`, "invalid character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(string(good), tc.from, tc.to, 1)
			require.NotEqual(t, string(good), body, "the edit must apply")
			p := filepath.Join(t.TempDir(), "board.json")
			require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
			_, err := LoadConfig(p)
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.message)
		})
	}
}

func TestAbsentPacerLinesAreAllowed(t *testing.T) {
	c := testConfig(t)
	c.GPIO.PacerAtrium, c.GPIO.PacerVentricle = -1, -1
	require.NoError(t, c.Validate())
}

func testConfig(t *testing.T) Config {
	t.Helper()
	c, err := LoadConfig(filepath.Join("testdata", "board.json"))
	require.NoError(t, err)
	c.StorageDir = t.TempDir()
	c.Watchdog.Device = filepath.Join(t.TempDir(), "watchdog")
	require.NoError(t, os.WriteFile(c.Watchdog.Device, nil, 0o600))
	c.Watchdog.BootStatus = ""
	return c
}
