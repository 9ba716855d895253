// Package board is the hal backend for the target board: a 64-bit (or
// ARMv7) Linux single-board computer whose pump motor driver, occlusion
// switch and pacing outputs hang on GPIO lines (Linux GPIO character device,
// github.com/warthog618/go-gpiocdev), whose radio module talks over a serial
// port (go.bug.st/serial), whose storage is a directory on flash
// (hal/filestore, fsync'd) and whose hardware watchdog is /dev/watchdog.
//
// Which pin does what comes from a board description file (Config, JSON;
// testdata/board.json is an example), never from code, so one firmware image
// serves every revision of the board.
//
// Like every hal backend, board moves bytes and pulses and reports faithfully
// what the hardware did. It never makes a safety decision: it does not clamp
// a dose, space boluses, refuse a pace it thinks too fast or hide a fault.
// The only requests it refuses are those the hardware cannot express
// (hal.ErrInvalidArgument). Every device is reached through a small
// interface (Line, Port, WatchdogFile) so the code that drives the hardware
// is tested against fakes; Open wires in the real ones.
package board
