package mock

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// PPM is a per-call chance in parts per million.
type PPM uint32

// Always makes a fault fire on every call.
const Always PPM = 1_000_000

// Plan says which faults to inject and how often.
type Plan struct {
	Pump    PumpFaults
	Pacer   PacerFaults
	Glucose GlucoseFaults
	Cardiac CardiacFaults
	Radio   RadioFaults
	Clock   ClockFaults
	Storage StorageFaults
}

// PumpFaults: chances per Deliver. Both faults are sticky until
// Pump.ClearFaults.
type PumpFaults struct {
	Occlusion  PPM
	MotorStuck PPM
}

// PacerFaults: chance per Pace.
type PacerFaults struct {
	LeadFault PPM
}

// GlucoseFaults: chances per Read. Stale repeats the previous reading with its
// old timestamp.
type GlucoseFaults struct {
	Dropout PPM
	Stale   PPM
}

// CardiacFaults: chance per Poll; a dropout loses the pending events.
type CardiacFaults struct {
	Dropout PPM
}

// RadioFaults: LinkDown per Send/Recv call (returns hal.ErrRadioLoss); the
// others per frame entering the air in either direction, silently.
type RadioFaults struct {
	LinkDown  PPM
	Drop      PPM
	Duplicate PPM
	Reorder   PPM // the frame overtakes the one queued before it
	BitFlip   PPM // one random bit of the frame is inverted
}

// ClockFaults: chance per Now of a jump of up to ±MaxJump.
type ClockFaults struct {
	Jump    PPM
	MaxJump units.Millis
}

// StorageFaults configure storage failures.
type StorageFaults struct {
	// WriteFail: chance per Append/Overwrite of hal.ErrStorageWrite after a
	// random prefix of the bytes was written.
	WriteFail PPM
	// DropUnsynced: on power loss, appended bytes not yet covered by a Sync
	// are lost (a write-back cache). Off: every appended byte is durable as
	// written.
	DropUnsynced bool
}

// Config builds a Board.
type Config struct {
	Seed            uint64
	Plan            Plan
	RadioMaxFrame   int              // default 256
	ReservoirCU     units.CentiUnits // default 30000 (300 U)
	WatchdogTimeout units.Millis     // default 1 s
}

// Fault is one injected fault, in the order it happened.
type Fault struct {
	Op     uint64 // board-wide call counter when it fired
	Device string
	Kind   string
}

func (f Fault) String() string { return fmt.Sprintf("#%d %s/%s", f.Op, f.Device, f.Kind) }

// Board is a mock implant. Its devices share one lock and one power state.
type Board struct {
	mu     sync.Mutex
	ops    uint64
	dead   bool
	faults []Fault
	plan   Plan

	Pump     *Pump
	Pacer    *Pacer
	Glucose  *GlucoseSensor
	Cardiac  *CardiacSense
	Radio    *Radio
	Clock    *Clock
	Storage  *Storage
	Watchdog *Watchdog
}

// device is what every mock device embeds.
type device struct {
	b    *Board
	name string
	rng  *rand.Rand
}

func (b *Board) newDevice(name string, stream uint64, seed uint64) device {
	// Distinct PCG streams per device: one device's calls never shift another's faults.
	return device{b: b, name: name, rng: rand.New(rand.NewPCG(seed, stream))}
}

// enter is called under b.mu at the start of every device call.
func (d *device) enter() error {
	d.b.ops++
	if d.b.dead {
		return fmt.Errorf("mock %s: %w", d.name, hal.ErrPowerLoss)
	}
	return nil
}

// roll reports whether a fault with chance c fires, and records it.
func (d *device) roll(c PPM, kind string) bool {
	if c == 0 || d.rng.Uint32N(uint32(Always)) >= uint32(c) {
		return false
	}
	d.fault(kind)
	return true
}

func (d *device) fault(kind string) {
	d.b.faults = append(d.b.faults, Fault{Op: d.b.ops, Device: d.name, Kind: kind})
}

// New builds a board from cfg.
func New(cfg Config) *Board {
	if cfg.RadioMaxFrame <= 0 {
		cfg.RadioMaxFrame = 256
	}
	if cfg.ReservoirCU == 0 {
		cfg.ReservoirCU = 30000
	}
	if cfg.WatchdogTimeout <= 0 {
		cfg.WatchdogTimeout = units.Second
	}
	b := &Board{plan: cfg.Plan}
	s := cfg.Seed
	b.Clock = &Clock{device: b.newDevice("clock", 1, s)}
	b.Pump = &Pump{device: b.newDevice("pump", 2, s), reservoir: cfg.ReservoirCU}
	b.Pacer = &Pacer{device: b.newDevice("pacer", 3, s)}
	b.Glucose = &GlucoseSensor{device: b.newDevice("glucose", 4, s), value: 120}
	b.Cardiac = &CardiacSense{device: b.newDevice("cardiac", 5, s)}
	b.Radio = &Radio{device: b.newDevice("radio", 6, s), max: cfg.RadioMaxFrame}
	b.Storage = &Storage{device: b.newDevice("storage", 7, s), files: map[string]*file{}, cutBytes: -1, cutOps: -1}
	b.Watchdog = &Watchdog{device: b.newDevice("watchdog", 8, s), timeout: cfg.WatchdogTimeout}
	return b
}

// HAL returns the board as hal interfaces.
func (b *Board) HAL() hal.Board {
	return hal.Board{
		Pump: b.Pump, Pacer: b.Pacer, Glucose: b.Glucose, Cardiac: b.Cardiac,
		Radio: b.Radio, Clock: b.Clock, Storage: b.Storage, Watchdog: b.Watchdog,
	}
}

// Faults returns a copy of the faults injected so far.
func (b *Board) Faults() []Fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Fault(nil), b.faults...)
}

// PoweredOff reports whether power has been cut and not restored.
func (b *Board) PoweredOff() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dead
}

// CutPower cuts power now, between calls.
func (b *Board) CutPower() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.die()
}

// die is called under b.mu.
func (b *Board) die() {
	if b.dead {
		return
	}
	b.dead = true
	b.faults = append(b.faults, Fault{Op: b.ops, Device: "board", Kind: "power-loss"})
	if b.plan.Storage.DropUnsynced {
		for _, f := range b.Storage.files {
			f.data = f.data[:f.synced]
		}
	}
}

// Restart restores power. Durable storage survives; volatile device state
// (radio queues, pending sensed events, the watchdog latch) does not.
// The clock keeps running: time is the test's to advance.
func (b *Board) Restart() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dead = false
	b.Storage.cutBytes, b.Storage.cutOps = -1, -1
	b.Radio.in, b.Radio.out = nil, nil
	b.Cardiac.pending = nil
	b.Watchdog.expired = false
	b.Watchdog.lastKick = b.Clock.t
}

var (
	_ hal.Pump          = (*Pump)(nil)
	_ hal.Pacer         = (*Pacer)(nil)
	_ hal.GlucoseSensor = (*GlucoseSensor)(nil)
	_ hal.CardiacSense  = (*CardiacSense)(nil)
	_ hal.Radio         = (*Radio)(nil)
	_ hal.Clock         = (*Clock)(nil)
	_ hal.Storage       = (*Storage)(nil)
	_ hal.Watchdog      = (*Watchdog)(nil)
)
