package pacerinv

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/reason"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// TestTable7AgreesWithKernel: the observer's value lists and the kernel's
// range arithmetic agree on every value around Table 7's ranges
// (PACE-PARAM-PROGRAMMABLE, PACE-CROSS-PARAM), over each field alone and
// over the rate/refractory combinations.
func TestTable7AgreesWithKernel(t *testing.T) {
	fields := []struct {
		name string
		set  func(*pacer.Params, int)
		lo   int
		hi   int
	}{
		{"LRL", func(p *pacer.Params, v int) { p.LRL = pacer.PPM(v) }, 0, 200},
		{"URL", func(p *pacer.Params, v int) { p.URL = pacer.PPM(v) }, 0, 200},
		{"AV", func(p *pacer.Params, v int) { p.AVDelayMs = msOf(v) }, 0, 400},
		{"VAmp", func(p *pacer.Params, v int) { p.VAmp = pacer.DeciVolts(v) }, -1, 80},
		{"VPulse", func(p *pacer.Params, v int) { p.VPulse = pacer.HundredthMs(v) }, -1, 200},
		{"VSens", func(p *pacer.Params, v int) { p.VSens = pacer.CentiMillivolts(v) }, 0, 1100},
		{"VRP", func(p *pacer.Params, v int) { p.VRPMs = msOf(v) }, 100, 600},
		{"PVARP", func(p *pacer.Params, v int) { p.PVARPMs = msOf(v) }, 100, 600},
	}
	for _, f := range fields {
		for v := f.lo; v <= f.hi; v++ {
			for _, m := range []pacer.PacingMode{pacer.ModeVVI, pacer.ModeDDD, pacer.ModeAAI, pacer.ModeOff} {
				p := pacer.Nominal
				p.Mode = m
				f.set(&p, v)
				kernelOK := pacer.ParamsCheck(p) == reason.OK
				observerOK := Programmable(p) == "" && Cross(p) == ""
				assert.Equal(t, kernelOK, observerOK, "%s=%d mode %s: kernel %s, observer %q %q", f.name, v, m, pacer.ParamsCheck(p), Programmable(p), Cross(p))
			}
		}
	}
}

func msOf(v int) units.Millis { return units.Millis(v) }
