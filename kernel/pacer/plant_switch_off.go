//go:build !plantswitch

package pacer

import "github.com/implantfhe/implantfhe/kernel/units"

// plantedSwitchSlackMs is 0 in every real build. The build tag plantswitch
// makes it -1 (see plant_switch_on.go), granting a slot switch one ms too
// late, so that a test can show the model checker catches it.
const plantedSwitchSlackMs units.Millis = 0
