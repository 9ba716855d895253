package board

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/sim"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// occlusionCheckSteps: how often, in motor steps, Deliver samples the
// occlusion switch while the motor runs.
const occlusionCheckSteps = 16

// Pump drives a stepper-motor syringe pump: an enable line for the motor
// driver, a step line (one rising edge per step) and an occlusion switch.
//
// Every delivery is journalled to storage (the same "deliver N" journal as
// hal/sim) before the motor moves, so the reservoir level survives a reboot
// and errs on the empty side: an interrupted delivery is counted in full.
type Pump struct {
	mu        sync.Mutex
	enable    Line
	step      Line
	occlusion Line
	activeLow bool
	steps     int // per 0.01 U
	half      time.Duration
	sleep     func(time.Duration)
	st        hal.Storage
	reservoir units.CentiUnits
}

var _ hal.Pump = (*Pump)(nil)

// PumpLines are the lines a Pump drives.
type PumpLines struct {
	Enable, Step, Occlusion Line
}

// NewPump builds a pump on its lines. sleep paces the step signal
// (time.Sleep on the board, a recorder in tests).
func NewPump(cfg Config, lines PumpLines, st hal.Storage, sleep func(time.Duration)) (*Pump, error) {
	b, err := st.ReadAll(sim.JournalName)
	if err != nil && !errors.Is(err, hal.ErrNotFound) {
		return nil, fmt.Errorf("board pump: %w", err)
	}
	amounts, err := sim.ParseJournal(b)
	if err != nil {
		return nil, fmt.Errorf("board pump: %w", err)
	}
	reservoir := units.CentiUnits(cfg.Pump.ReservoirCentiUnits)
	for _, a := range amounts {
		reservoir -= a
	}
	half := time.Duration(cfg.Pump.StepPeriodUs) * time.Microsecond / 2
	return &Pump{enable: lines.Enable, step: lines.Step, occlusion: lines.Occlusion,
		activeLow: cfg.GPIO.OcclusionActiveLow, steps: cfg.Pump.StepsPerCentiUnit, half: half,
		sleep: sleep, st: st, reservoir: max(reservoir, 0)}, nil
}

func (p *Pump) occluded() (bool, error) {
	v, err := p.occlusion.Value()
	if err != nil {
		return false, err
	}
	return (v == 0) == p.activeLow, nil
}

// Deliver implements hal.Pump: journal, enable the driver, step amount ×
// StepsPerCentiUnit times while watching the occlusion switch, disable.
func (p *Pump) Deliver(amount units.CentiUnits) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if amount <= 0 {
		return fmt.Errorf("board pump: deliver %d: %w", amount, hal.ErrInvalidArgument)
	}
	if amount > p.reservoir {
		return fmt.Errorf("board pump: %d left, %d asked: %w", p.reservoir, amount, hal.ErrReservoirEmpty)
	}
	if occ, err := p.occluded(); err != nil {
		return fmt.Errorf("board pump: occlusion sense: %w: %v", hal.ErrMotorStuck, err)
	} else if occ {
		return fmt.Errorf("board pump: before delivery: %w", hal.ErrOcclusion)
	}
	if err := p.st.Append(sim.JournalName, fmt.Appendf(nil, "deliver %d\n", amount)); err != nil {
		return fmt.Errorf("board pump: journal: %w", err)
	}
	p.reservoir -= amount
	err := p.run(int(amount) * p.steps)
	if derr := p.enable.SetValue(0); derr != nil && err == nil {
		err = fmt.Errorf("board pump: disable: %w: %v", hal.ErrMotorStuck, derr)
	}
	return err
}

func (p *Pump) run(steps int) error {
	if err := p.enable.SetValue(1); err != nil {
		return fmt.Errorf("board pump: enable: %w: %v", hal.ErrMotorStuck, err)
	}
	for i := 0; i < steps; i++ {
		if i%occlusionCheckSteps == 0 && i > 0 {
			if occ, err := p.occluded(); err != nil {
				return fmt.Errorf("board pump: occlusion sense: %w: %v", hal.ErrMotorStuck, err)
			} else if occ {
				return fmt.Errorf("board pump: after %d of %d steps: %w", i, steps, hal.ErrOcclusion)
			}
		}
		if err := p.step.SetValue(1); err != nil {
			return fmt.Errorf("board pump: step %d: %w: %v", i, hal.ErrMotorStuck, err)
		}
		p.sleep(p.half)
		if err := p.step.SetValue(0); err != nil {
			return fmt.Errorf("board pump: step %d: %w: %v", i, hal.ErrMotorStuck, err)
		}
		p.sleep(p.half)
	}
	return nil
}

// Stop implements hal.Pump: the motor driver is disabled.
func (p *Pump) Stop() error {
	if err := p.enable.SetValue(0); err != nil {
		return fmt.Errorf("board pump: stop: %w: %v", hal.ErrMotorStuck, err)
	}
	return nil
}

// Reservoir implements hal.Pump: a full reservoir less every journalled
// delivery (the board has no plunger position sensor).
func (p *Pump) Reservoir() (units.CentiUnits, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reservoir, nil
}
