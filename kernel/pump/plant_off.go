//go:build !plantbug

package pump

// plantedWindowBug is false in every real build. The build tag plantbug turns
// on an off-by-one in the rolling window (see plant_on.go) so that a test can
// show the model checker catches it.
const plantedWindowBug = false
