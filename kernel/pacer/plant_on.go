//go:build plantbug

package pacer

import "github.com/implantfhe/implantfhe/kernel/units"

// plantedURLSlackMs: built only with -tags plantbug, by model/pacer's
// planted-bug tests. Upper-rate tracking paces 10 ms (one model step) too
// early: a PACE-URL violation the model check must find. Never in firmware.
const plantedURLSlackMs units.Millis = 10
