//go:build plantstalebatch

package firmware

// plantedStaleBatch re-introduces the stale-batch bug (actions after a HAL
// error still carried out), built only with -tags plantstalebatch so that
// the actuator-level check can show it catches it. Never in firmware.
const plantedStaleBatch = true
