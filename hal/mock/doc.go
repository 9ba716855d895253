// Package mock is a deterministic in-memory backend for hal, for tests,
// simulation and the conformance runner.
//
// Everything random comes from math/rand/v2 PCG sources derived from one seed
// (one stream per device, so faults on one device do not shift another's
// sequence): the same seed and the same sequence of calls give the same
// faults, in the same places. Board.Faults records every injected fault, so a
// failing seed can be replayed and compared.
//
// Faults are configured by a Plan of per-call chances (parts per million) and
// by explicit controls: Clock.Jump, Storage.CutPowerAfterBytes,
// Storage.CutPowerAtOp, Board.CutPower. Power loss is board-wide: after the
// cut every device call returns hal.ErrPowerLoss until Board.Restart. Storage
// keeps exactly what the hal.Storage crash contract promises and nothing more.
//
// The mock makes no safety decisions either; it only records what it was told
// to do (Pump.Delivered, Pacer.Pulses) so tests can check the caller.
package mock
