//go:build !plantstalebatch

package firmware

// plantedStaleBatch is false in every real build (see plant_stale_on.go).
const plantedStaleBatch = false
