//go:build plantswitch

package pacer

import "github.com/implantfhe/implantfhe/kernel/units"

// plantedSwitchSlackMs: built only with -tags plantswitch, by model/pacer's
// planted-bug tests. A slot switch is granted when its blackout ends one ms
// after the lower-rate deadline: a PACE-UPDATE-SWITCH violation the model
// check must find, and, once the blackout is simulated, a PACE-LRL one.
// Never in firmware.
const plantedSwitchSlackMs units.Millis = -1
