//go:build plantbug

package pump

// plantedWindowBug: built only with -tags plantbug, by
// model/pump's TestModelCheckFindsPlantedBug. Never in firmware.
const plantedWindowBug = true
