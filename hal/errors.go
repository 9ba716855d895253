package hal

import (
	"errors"

	"github.com/implantfhe/implantfhe/objstore"
)

// Device faults. Each is a sentinel; backends wrap it with context
// (fmt.Errorf("...: %w", hal.ErrOcclusion)) and callers test with errors.Is.
var (
	// ErrOcclusion: the infusion line is blocked; insulin may not have reached
	// the patient. Sticky until the infusion set is replaced.
	ErrOcclusion = errors.New("hal: occlusion")
	// ErrMotorStuck: the pump motor did not move as commanded (encoder
	// disagrees with the drive).
	ErrMotorStuck = errors.New("hal: motor stuck")
	// ErrReservoirEmpty: the reservoir held less than the requested amount.
	ErrReservoirEmpty = errors.New("hal: reservoir empty")
	// ErrLeadFault: the pacing lead impedance is out of range; the pulse may
	// not have captured.
	ErrLeadFault = errors.New("hal: pacing lead fault")
	// ErrSensorDropout: the sensor produced no valid data.
	ErrSensorDropout = errors.New("hal: sensor dropout")
	// ErrStorageWrite: a storage write failed; a prefix of the bytes may have
	// been written (see Storage).
	ErrStorageWrite = errors.New("hal: storage write failed")
	// ErrNotFound: the named storage object does not exist (defined in
	// objstore, with the Storage interface).
	ErrNotFound = objstore.ErrNotFound
	// ErrPowerLoss: power failed during or before the operation. Nothing after
	// the cut happened; the device must restart.
	ErrPowerLoss = errors.New("hal: power loss")
	// ErrRadioLoss: the radio link is down; the frame was not sent or received.
	ErrRadioLoss = errors.New("hal: radio link lost")
	// ErrFrameSize: a radio frame is empty or longer than Radio.MaxFrame.
	ErrFrameSize = errors.New("hal: bad frame size")
	// ErrWatchdog: the watchdog could not be kicked.
	ErrWatchdog = errors.New("hal: watchdog failure")
	// ErrInvalidArgument: the request cannot be expressed by the hardware
	// (negative amount, unknown chamber). Not a safety judgement.
	ErrInvalidArgument = errors.New("hal: invalid argument")
)
