//go:build !plantbug

package pacer

import "github.com/implantfhe/implantfhe/kernel/units"

// plantedURLSlackMs is 0 in every real build. The build tag plantbug makes
// it one model step (see plant_on.go) so that a test can show the model
// checker catches an upper-rate timing bug.
const plantedURLSlackMs units.Millis = 0
