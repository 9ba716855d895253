package protocol

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

// Key files: the one place their names live. Provisioning writes each
// party's directory with mode 0600 files (0700 directories):
//
//	implant/      FileImplantFHE, FileImplantKey, FileTrust, FileBind, FileClinicFHEPub, FileAckSealPub, FileDevice, FileLimits, FileUpdateRoot, FileUpdateDeviceKey
//	clinic/       FileClinicFHE, FileClinicianKey, FileImplantFHEPub, FileBind, FileTrust, FileAckSealKey, FileDevice, FileLimits, FileCounter
//	relay/        FileImplantRelay, FileClinicRelay, FileRelayKey, FileTrust, FileCheckpointSKey, FileDevice
//	manufacturer/ UpdateKeyFile(1..n)
//	public/       FilePublicKeys, FileCheckpointVKey, FileDevice, FileUpdateRoot, FileUpdateDevicePub
//
// The relay directory never holds a CKKS secret key or the seal key.
const (
	FileDevice          = "device.json"
	FileLimits          = "limits.json"
	FileTrust           = "trust.json"
	FileBind            = "bind.key"
	FileImplantFHE      = "fhe-implant.sk"
	FileImplantFHEPub   = "fhe-implant.pk"
	FileImplantRelay    = "fhe-implant.relay"
	FileClinicFHE       = "fhe-clinic.sk"
	FileClinicFHEPub    = "fhe-clinic.pk"
	FileClinicRelay     = "fhe-clinic.relay"
	FileImplantKey      = "implant.key"
	FileClinicianKey    = "clinician.key"
	FileRelayKey        = "relay.key"
	FileAckSealKey      = "ack-seal.key" // clinic: X25519 private key acknowledgements are sealed to
	FileAckSealPub      = "ack-seal.pub" // implant: its public half
	FileCheckpointSKey  = "checkpoint.skey"
	FileCheckpointVKey  = "checkpoint.vkey"
	FilePublicKeys      = "keys.json"
	FileUpdateRoot      = "update-root.cbor"
	FileUpdateDeviceKey = "update-device.key"
	FileUpdateDevicePub = "update-device.pub"
	// FileCounter is the clinic's persistent command counter for the device.
	FileCounter = "counter"
)

// UpdateKeyFile is the file of manufacturer update key i (1-based).
func UpdateKeyFile(i int) string { return fmt.Sprintf("update-%d.key", i) }

// ErrKeyFile: a key file that is missing, empty, truncated or not of its
// form. The error names the file.
var ErrKeyFile = errors.New("protocol: bad key file")

// Device describes the provisioned implant (device.json).
type Device struct {
	ID       string     `json:"id"`
	Kind     DeviceKind `json:"kind"`
	ParamSet string     `json:"param_set"`
	Origin   string     `json:"log_origin"`
	// VendorID and ClassID name the firmware images this device takes.
	VendorID uint32 `json:"vendor_id"`
	ClassID  uint32 `json:"class_id"`
}

type reader struct {
	dir string
	err error
}

func (r *reader) fail(name string, format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", ErrKeyFile, filepath.Join(r.dir, name), fmt.Sprintf(format, a...))
	}
}

// file reads one file; a missing or empty file is an error naming it.
func (r *reader) file(name string) []byte {
	if r.err != nil {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		r.fail(name, "%v", err)
		return nil
	}
	if len(b) == 0 {
		r.fail(name, "empty")
		return nil
	}
	return b
}

func (r *reader) device() Device {
	var d Device
	b := r.file(FileDevice)
	if r.err != nil {
		return d
	}
	if err := json.Unmarshal(b, &d); err != nil {
		r.fail(FileDevice, "%v", err)
		return d
	}
	switch {
	case d.ID == "" || len(d.ID) > wire.MaxDeviceID:
		r.fail(FileDevice, "device ID of %d bytes", len(d.ID))
	case d.Kind != KindPump && d.Kind != KindPacer:
		r.fail(FileDevice, "device kind %s", d.Kind)
	case d.ParamSet == "":
		r.fail(FileDevice, "no FHE parameter set")
	}
	return d
}

func (r *reader) limits(kind DeviceKind) Limits {
	var l Limits
	b := r.file(FileLimits)
	if r.err != nil {
		return l
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		r.fail(FileLimits, "%v", err)
		return l
	}
	if err := l.Check(kind); err != nil {
		r.fail(FileLimits, "%v", err)
	}
	return l
}

func (r *reader) signingKey(name string, role guard.Role) *wire.SigningKey {
	b := r.file(name)
	if r.err != nil {
		return nil
	}
	k, err := wire.UnmarshalSigningKey(b)
	if err != nil {
		r.fail(name, "%v", err)
		return nil
	}
	if k.Role != role {
		r.fail(name, "a %s key, want %s", wire.RoleName(k.Role), wire.RoleName(role))
		return nil
	}
	return k
}

func (r *reader) trust() (*wire.TrustList, []wire.TrustedKey) {
	b := r.file(FileTrust)
	if r.err != nil {
		return nil, nil
	}
	return r.trustedKeys(FileTrust, b)
}

func (r *reader) trustedKeys(name string, b []byte) (*wire.TrustList, []wire.TrustedKey) {
	t, keys, err := wire.UnmarshalTrustList(b)
	if err != nil {
		r.fail(name, "%v", err)
		return nil, nil
	}
	for _, k := range keys {
		if len(k.Public) != ed25519.PublicKeySize || wire.IDOf(k.Public) != k.ID {
			r.fail(name, "key %x: public key of %d bytes or ID not its digest", k.ID, len(k.Public))
			return nil, nil
		}
	}
	return t, keys
}

func (r *reader) bindKey() []byte {
	b := r.file(FileBind)
	if r.err == nil && len(b) != wire.BindKeySize {
		r.fail(FileBind, "%d bytes, want %d", len(b), wire.BindKeySize)
		return nil
	}
	return b
}

func (r *reader) x25519Private(name string) *ecdh.PrivateKey {
	b := r.file(name)
	if r.err != nil {
		return nil
	}
	k, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		r.fail(name, "%d bytes: %v", len(b), err)
		return nil
	}
	return k
}

func (r *reader) x25519Public(name string) *ecdh.PublicKey {
	b := r.file(name)
	if r.err != nil {
		return nil
	}
	k, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		r.fail(name, "%d bytes: %v", len(b), err)
		return nil
	}
	return k
}

func fheFile[T any](r *reader, name string, dec func([]byte) (T, error)) T {
	var zero T
	b := r.file(name)
	if r.err != nil {
		return zero
	}
	v, err := dec(b)
	if err != nil {
		r.fail(name, "%v", err)
		return zero
	}
	return v
}

func (r *reader) updateRoot() *update.TrustRoot {
	b := r.file(FileUpdateRoot)
	if r.err != nil {
		return nil
	}
	sr, err := update.DecodeSignedRoot(b)
	if err != nil {
		r.fail(FileUpdateRoot, "%v", err)
		return nil
	}
	root, err := sr.Verify()
	if err != nil {
		r.fail(FileUpdateRoot, "%v", err)
		return nil
	}
	return root
}

// ImplantKeys are the implant's secrets and trust anchors.
type ImplantKeys struct {
	Device  Device
	Limits  Limits
	FHE     *fhe.SecretKeys  // sk_I: opens radio packets
	Clinic  *fhe.PublicKey   // pk_C: telemetry is encrypted to the clinic
	Signer  *wire.SigningKey // signs acknowledgements and telemetry
	Trust   *wire.TrustList  // clinician and relay keys
	BindKey []byte           // shared with the clinician: value commitments
	AckSeal *ecdh.PublicKey  // acknowledgements' private parts are sealed to it
	// UpdateRoot and UpdateDeviceKey: the update path.
	UpdateRoot      *update.TrustRoot
	UpdateDeviceKey *ecdh.PrivateKey
}

// LoadImplant loads and checks every file of the implant's directory.
func LoadImplant(dir string) (*ImplantKeys, error) {
	r := &reader{dir: dir}
	k := &ImplantKeys{Device: r.device()}
	k.Limits = r.limits(k.Device.Kind)
	k.FHE = fheFile(r, FileImplantFHE, fhe.UnmarshalSecretKeys)
	k.Clinic = fheFile(r, FileClinicFHEPub, fhe.UnmarshalPublicKey)
	k.Signer = r.signingKey(FileImplantKey, guard.RoleImplant)
	k.Trust, _ = r.trust()
	k.BindKey = r.bindKey()
	k.AckSeal = r.x25519Public(FileAckSealPub)
	k.UpdateRoot = r.updateRoot()
	k.UpdateDeviceKey = r.x25519Private(FileUpdateDeviceKey)
	if r.err != nil {
		return nil, r.err
	}
	return k, nil
}

// RelayKeys are what the relay holds for one device: public and evaluation
// keys, its own signing key, and the checkpoint key of its log.
type RelayKeys struct {
	Device  Device
	Implant *fhe.RelayKeys // evaluation keys under pk_I (commands)
	Clinic  *fhe.RelayKeys // evaluation keys under pk_C (telemetry)
	Signer  *wire.SigningKey
	Trust   *wire.TrustList // clinician and implant keys
	// Checkpoint signs the log's checkpoints.
	Checkpoint note.Signer
}

// LoadRelay loads and checks the relay's directory.
func LoadRelay(dir string) (*RelayKeys, error) {
	r := &reader{dir: dir}
	k := &RelayKeys{Device: r.device()}
	k.Implant = fheFile(r, FileImplantRelay, fhe.UnmarshalRelayKeys)
	k.Clinic = fheFile(r, FileClinicRelay, fhe.UnmarshalRelayKeys)
	k.Signer = r.signingKey(FileRelayKey, guard.RoleRelay)
	k.Trust, _ = r.trust()
	if b := r.file(FileCheckpointSKey); r.err == nil {
		s, err := note.NewSigner(strings.TrimSpace(string(b)))
		if err != nil {
			r.fail(FileCheckpointSKey, "%v", err)
		}
		k.Checkpoint = s
	}
	if r.err != nil {
		return nil, r.err
	}
	return k, nil
}

// ClinicKeys are the clinic side's keys for one device.
type ClinicKeys struct {
	Dir     string
	Device  Device
	Limits  Limits
	FHE     *fhe.SecretKeys // sk_C: decrypts telemetry results
	Implant *fhe.PublicKey  // pk_I: commands and limits are encrypted to it
	Signer  *wire.SigningKey
	Trust   *wire.TrustList // implant and relay keys
	BindKey []byte
	AckSeal *ecdh.PrivateKey // opens acknowledgements' private parts
}

// LoadClinic loads and checks the clinic's directory.
func LoadClinic(dir string) (*ClinicKeys, error) {
	r := &reader{dir: dir}
	k := &ClinicKeys{Dir: dir, Device: r.device()}
	k.Limits = r.limits(k.Device.Kind)
	k.FHE = fheFile(r, FileClinicFHE, fhe.UnmarshalSecretKeys)
	k.Implant = fheFile(r, FileImplantFHEPub, fhe.UnmarshalPublicKey)
	k.Signer = r.signingKey(FileClinicianKey, guard.RoleClinician)
	k.Trust, _ = r.trust()
	k.BindKey = r.bindKey()
	k.AckSeal = r.x25519Private(FileAckSealKey)
	if r.err != nil {
		return nil, r.err
	}
	return k, nil
}

// PublicKeys are the public directory: what an auditor or the manufacturer
// needs.
type PublicKeys struct {
	Device     Device
	Keys       []wire.TrustedKey
	Checkpoint note.Verifier
	UpdateRoot *update.TrustRoot
	UpdatePub  *ecdh.PublicKey
}

// LoadPublic loads and checks the public directory.
func LoadPublic(dir string) (*PublicKeys, error) {
	r := &reader{dir: dir}
	k := &PublicKeys{Device: r.device()}
	if b := r.file(FilePublicKeys); r.err == nil {
		_, k.Keys = r.trustedKeys(FilePublicKeys, b)
	}
	if b := r.file(FileCheckpointVKey); r.err == nil {
		v, err := note.NewVerifier(strings.TrimSpace(string(b)))
		if err != nil {
			r.fail(FileCheckpointVKey, "%v", err)
		}
		k.Checkpoint = v
	}
	k.UpdateRoot = r.updateRoot()
	k.UpdatePub = r.x25519Public(FileUpdateDevicePub)
	if r.err != nil {
		return nil, r.err
	}
	return k, nil
}

// LoadUpdateKeys reads manufacturer update keys by number (UpdateKeyFile).
func LoadUpdateKeys(dir string, nums ...int) ([]*wire.SigningKey, error) {
	r := &reader{dir: dir}
	keys := make([]*wire.SigningKey, 0, len(nums))
	for _, n := range nums {
		keys = append(keys, r.signingKey(UpdateKeyFile(n), guard.RoleManufacturer))
	}
	if r.err != nil {
		return nil, r.err
	}
	return keys, nil
}
