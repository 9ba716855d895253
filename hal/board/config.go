package board

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// ErrConfig: the board description is unreadable or inconsistent.
var ErrConfig = errors.New("board: invalid board description")

// Config is a board description. Line offsets are offsets on GPIO.Chip.
type Config struct {
	// Name identifies the board and its revision (printed at boot).
	Name     string         `json:"name"`
	GPIO     GPIOConfig     `json:"gpio"`
	Pump     PumpConfig     `json:"pump"`
	Serial   SerialConfig   `json:"serial"`
	Watchdog WatchdogConfig `json:"watchdog"`
	// StorageDir is the flash directory of the implant's log and journal.
	StorageDir string `json:"storage_dir"`
}

// GPIOConfig assigns GPIO lines.
type GPIOConfig struct {
	// Chip is the GPIO chip, by name ("gpiochip0") or path.
	Chip string `json:"chip"`
	// PumpStep: one rising edge moves the pump's stepper one step.
	PumpStep int `json:"pump_step"`
	// PumpEnable powers the motor driver while high.
	PumpEnable int `json:"pump_enable"`
	// OcclusionSense reads the line-pressure switch; OcclusionActiveLow says
	// which level means "occluded".
	OcclusionSense     int  `json:"occlusion_sense"`
	OcclusionActiveLow bool `json:"occlusion_active_low"`
	// PacerAtrium, PacerVentricle trigger the pacing output stage for one
	// pulse while high; -1 when the board has no such output.
	PacerAtrium    int `json:"pacer_atrium"`
	PacerVentricle int `json:"pacer_ventricle"`
	// SenseAtrium, SenseVentricle are the sensing amplifiers' comparator
	// outputs: a rising edge is a sensed intrinsic beat. -1 (the default
	// when absent) when the board has no such input.
	SenseAtrium    int `json:"sense_atrium"`
	SenseVentricle int `json:"sense_ventricle"`
}

// PumpConfig describes the pump's mechanics.
type PumpConfig struct {
	// StepsPerCentiUnit: motor steps that move 0.01 U of insulin.
	StepsPerCentiUnit int `json:"steps_per_centiunit"`
	// StepPeriodUs: the step signal's period (high half, low half).
	StepPeriodUs int `json:"step_period_us"`
	// ReservoirCentiUnits: a full reservoir, in 0.01 U.
	ReservoirCentiUnits int64 `json:"reservoir_centiunits"`
}

// SerialConfig is the radio module's serial port.
type SerialConfig struct {
	Device string `json:"device"`
	Baud   int    `json:"baud"`
}

// WatchdogConfig is the hardware watchdog.
type WatchdogConfig struct {
	// Device is the watchdog device (/dev/watchdog).
	Device string `json:"device"`
	// BootStatus is the sysfs file whose WDIOF_CARDRESET bit says the last
	// reset was the watchdog's (/sys/class/watchdog/watchdog0/bootstatus);
	// empty if the driver does not report it.
	BootStatus string `json:"bootstatus"`
}

// LoadConfig reads and validates a board description. Unknown fields are
// refused: a misspelt key must not silently leave a pin at offset 0.
func LoadConfig(path string) (Config, error) {
	var c Config
	c.GPIO.SenseAtrium, c.GPIO.SenseVentricle = -1, -1 // optional lines
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Validate checks that the description is complete and that no line serves
// two purposes.
func (c *Config) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(f, a...)) }
	switch {
	case c.Name == "":
		return bad("name is empty")
	case c.GPIO.Chip == "":
		return bad("gpio.chip is empty")
	case c.Pump.StepsPerCentiUnit <= 0:
		return bad("pump.steps_per_centiunit must be positive")
	case c.Pump.StepPeriodUs <= 0:
		return bad("pump.step_period_us must be positive")
	case c.Pump.ReservoirCentiUnits <= 0:
		return bad("pump.reservoir_centiunits must be positive")
	case c.Serial.Device == "":
		return bad("serial.device is empty")
	case c.Serial.Baud <= 0:
		return bad("serial.baud must be positive")
	case c.Watchdog.Device == "":
		return bad("watchdog.device is empty")
	case c.StorageDir == "":
		return bad("storage_dir is empty")
	}
	used := map[int]string{}
	for _, l := range []struct {
		name     string
		offset   int
		optional bool
	}{
		{"pump_step", c.GPIO.PumpStep, false},
		{"pump_enable", c.GPIO.PumpEnable, false},
		{"occlusion_sense", c.GPIO.OcclusionSense, false},
		{"pacer_atrium", c.GPIO.PacerAtrium, true},
		{"pacer_ventricle", c.GPIO.PacerVentricle, true},
		{"sense_atrium", c.GPIO.SenseAtrium, true},
		{"sense_ventricle", c.GPIO.SenseVentricle, true},
	} {
		if l.optional && l.offset == -1 {
			continue
		}
		if l.offset < 0 {
			return bad("gpio.%s: offset %d is negative", l.name, l.offset)
		}
		if other, dup := used[l.offset]; dup {
			return bad("gpio.%s and gpio.%s share line %d", l.name, other, l.offset)
		}
		used[l.offset] = l.name
	}
	return nil
}
