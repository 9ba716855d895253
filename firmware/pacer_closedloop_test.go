package firmware_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/firmware"
	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/kernel/pacer"
	"github.com/implantfhe/implantfhe/kernel/units"
	"github.com/implantfhe/implantfhe/model/heart"
	"github.com/implantfhe/implantfhe/wire"
)

// closedLoop runs a model heart against the pacemaker firmware (runtime,
// kernel, mock HAL: the heart's beats go in through the mock sensing
// channel, the paces come out of the mock pacing output) for duration, and
// measures at the HAL.
type loopResult struct {
	vEvents, vPaces, aPaces int
	maxVV, minPacedVV       units.Millis
	lri, uri                units.Millis
	faulted                 bool // the kernel ended in its safe state
}

func closedLoop(t *testing.T, sc heart.Scenario, duration units.Millis) loopResult {
	return closedLoopFault(t, sc, duration, 0)
}

// closedLoopFault is closedLoop with a lead fault reported at the k-th pace
// after the program is in force (0: none).
func closedLoopFault(t *testing.T, sc heart.Scenario, duration units.Millis, k int) loopResult {
	board := mock.New(mock.Config{Seed: sc.Seed, WatchdogTimeout: units.Hour})
	signer, err := wire.GenerateSigningKey(guard.RoleImplant, rand.Reader)
	require.NoError(t, err)
	trust, err := wire.NewTrustList()
	require.NoError(t, err)
	seal, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	im, err := firmware.BootPacer("pacer-0001", pacer.DefaultConfig(), firmware.Keys{Signer: signer, Trust: trust, AckSeal: seal.PublicKey()}, board.HAL(), nil)
	require.NoError(t, err)
	out, err := im.HandleProgram(pacer.Command{Kind: pacer.CmdProgram, Params: sc.Program, Verdict: guard.VerdictWithin,
		Header: guard.Header{Counter: 1, IssuedAtMs: im.Now(), ExpiresAtMs: im.Now() + units.Minute, Signer: guard.RoleClinician}})
	require.NoError(t, err)
	require.True(t, out.Accepted, "program: %s", out.Reason)
	// Until the program is in force (its first cycle), the pacer runs its
	// power-on program: measure from there.
	for im.State().Active != sc.Program {
		require.NoError(t, tickTo(board, im, im.WakeAt()))
	}
	start := board.Clock.Now()
	board.Pacer.FailPaceAt(k)
	hh := heart.NewHeart(sc)
	res := loopResult{lri: pacer.LowerRateIntervalMs(sc.Program.LRL), uri: pacer.UpperRateIntervalMs(sc.Program.URL)}
	seen := len(board.Pacer.Pulses())
	var lastV units.Millis = -1
	vEvent := func(at units.Millis, paced bool) {
		if lastV >= 0 {
			iv := at - lastV
			res.maxVV = max(res.maxVV, iv)
			if paced && (res.minPacedVV == 0 || iv < res.minPacedVV) {
				res.minPacedVV = iv
			}
		}
		lastV = at
		res.vEvents++
	}
	for {
		next := start + hh.Next()
		if w := im.WakeAt(); w != 0 && w < next {
			next = w
		}
		if next-start > duration {
			break
		}
		if next > board.Clock.Now() {
			board.Clock.Advance(next - board.Clock.Now())
		}
		if start+hh.Next() == next {
			if ch, ok := hh.Fire(next - start); ok {
				hc := hal.ChamberAtrium
				if ch == pacer.ChamberVentricle {
					hc = hal.ChamberVentricle
					vEvent(next, false)
				}
				board.Cardiac.Inject(hc)
			}
		}
		require.NoError(t, im.Tick())
		pulses := board.Pacer.PulsesSince(seen)
		for _, p := range pulses {
			ch := pacer.ChamberAtrium
			if p.Chamber == hal.ChamberVentricle {
				ch = pacer.ChamberVentricle
				res.vPaces++
				vEvent(p.At, true)
			} else {
				res.aPaces++
			}
			hh.Paced(ch, p.At-start)
		}
		seen += len(pulses)
		if k == 0 {
			require.NotEqual(t, pacer.OpFault, im.State().Op, "the pacer faulted at %d ms", next-start)
		}
	}
	res.faulted = im.State().Op == pacer.OpFault
	return res
}

// tickTo advances the board clock to at (if later) and ticks the firmware.
func tickTo(b *mock.Board, im *firmware.PacerImplant, at units.Millis) error {
	if at > b.Clock.Now() {
		b.Clock.Advance(at - b.Clock.Now())
	}
	return im.Tick()
}

// TestClosedLoopThroughTheRuntime: 24 simulated hours per rhythm of the
// model heart against the firmware as built (runtime + kernel + mock HAL),
// measured at the HAL: with the heart beating above the LRL the ventricle
// is never paced (sensing inhibits it; regression: the firmware never read
// hal.CardiacSense and paced asynchronously); no ventricular interval
// longer than the LRI; no paced interval shorter than the URI.
var loopHours units.Millis = 24

func TestClosedLoopThroughTheRuntime(t *testing.T) {
	for _, sc := range heart.Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			r := closedLoop(t, sc, loopHours*units.Hour)
			pct := 100 * float64(r.vPaces) / float64(max(r.vEvents, 1))
			t.Logf("%s: %d V events, %d V paces (%.1f %% paced), %d A paces; longest V-V %d ms (LRI %d), shortest paced V-V %d ms (URI %d)",
				sc.Name, r.vEvents, r.vPaces, pct, r.aPaces, r.maxVV, r.lri, r.minPacedVV, r.uri)
			fmt.Printf("closedloop: rhythm=%s v_events=%d v_paced_pct=%.1f a_paces=%d max_vv_ms=%d lri_ms=%d\n", sc.Name, r.vEvents, pct, r.aPaces, r.maxVV, r.lri)
			assert.LessOrEqual(t, r.maxVV, r.lri, "PACE-LRL at the HAL")
			if r.vPaces > 0 {
				assert.GreaterOrEqual(t, r.minPacedVV, r.uri, "PACE-URL at the HAL")
			}
			if sc.Name == "normal-sinus" {
				assert.Zero(t, r.vPaces, "a heart beating above the LRL inhibits ventricular pacing")
				assert.LessOrEqual(t, r.aPaces, 1, "and atrial pacing (but for the first cycle, before the heart's first beat)")
			}
			assert.Greater(t, r.vEvents, int(loopHours)*3600*30/60, "the loop ran its hours")
		})
	}
}

// TestLeadFaultSweepAtTheHAL: a lead fault reported at each of the first
// paces of a bradycardic heart (every beat paced): the runtime stops that
// batch, the kernel goes to its safe state, and at the HAL the ventricle is
// still paced — no interval longer than the longer of the programmed and
// the safe-mode lower-rate intervals, no paced interval shorter than the
// URI.
func TestLeadFaultSweepAtTheHAL(t *testing.T) {
	sc := heart.Scenarios()[1] // sinus bradycardia: paced throughout
	safeLRI := pacer.LowerRateIntervalMs(pacer.SafePowerOnReset.LRL)
	points, violations := 0, 0
	for k := 1; k <= 24; k++ {
		r := closedLoopFault(t, sc, 10*units.Minute, k)
		points++
		limit := max(r.lri, safeLRI)
		if r.maxVV > limit || (r.vPaces > 0 && r.minPacedVV < pacer.UpperRateIntervalMs(pacer.SafePowerOnReset.URL) && r.minPacedVV < r.uri) {
			violations++
			t.Errorf("lead fault at pace %d: longest V-V %d ms (limit %d), shortest paced %d ms", k, r.maxVV, limit, r.minPacedVV)
		}
		if !r.faulted {
			violations++
			t.Errorf("lead fault at pace %d: the kernel is not in its safe state", k)
		}
		if r.vPaces == 0 {
			violations++
			t.Errorf("lead fault at pace %d: no ventricular pacing after it", k)
		}
	}
	fmt.Printf("actuator: pacer lead-fault points=%d violations=%d\n", points, violations)
}
