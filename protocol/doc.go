// Package protocol is the vocabulary the implant, the relay and the clinic
// share: device kinds and their command schemas, the implant's log record,
// its acknowledgement (a separate type, whose therapy content is sealed to
// the clinic), typed events and refusal codes, the firmware-update requests,
// and the key files of every party with one loader each.
//
// It is a leaf: it links no implant code (firmware, hal, implog, the
// kernels). The command subkinds it names are the kernels' command kinds by
// value; the firmware's tests check that the two agree. What the relay may
// read of an acknowledgement is exactly what this package leaves outside
// Ack.Sealed: see docs/protocol.md for why each clear field is there.
package protocol
