// Package provision creates every key of one deployment — implant, clinic,
// clinician, relay, manufacturer — and writes each party's files to its own
// directory with mode 0600 (directories 0700), and loads them back.
//
// Layout under the root:
//
//	implant/      fhe-implant.sk, implant.key, trust.json, bind.key, fhe-clinic.pk, device.json
//	clinic/       fhe-clinic.sk, clinician.key, fhe-implant.pk, bind.key, trust.json, device.json
//	relay/        fhe-implant.relay, fhe-clinic.relay, relay.key, trust.json, checkpoint.skey, device.json
//	manufacturer/ manufacturer.key
//	public/       keys.json (every public signing key), checkpoint.vkey, device.json
//
// The relay directory never contains a CKKS secret key.
package provision

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/tlog"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

// Device describes the provisioned implant.
type Device struct {
	ID string `json:"id"`
	// Kind is "pump" or "pacer".
	Kind     string `json:"kind"`
	ParamSet string `json:"param_set"`
	Origin   string `json:"log_origin"`
	// VendorID and ClassID name the firmware images this device takes.
	VendorID uint32 `json:"vendor_id"`
	ClassID  uint32 `json:"class_id"`
}

// Update path: the manufacturer's vendor ID, the device classes, and the
// manufacturer keys (UpdateKeys of them, UpdateThreshold needed).
const (
	VendorID        = 0x1F2E
	ClassPump       = 0x0101
	ClassPacer      = 0x0201
	UpdateKeys      = 3
	UpdateThreshold = 2
	// Files of the update path.
	UpdateRootFile      = "update-root.cbor"  // implant/, public/: the signed trust root
	UpdateDeviceKeyFile = "update-device.key" // implant/: X25519 key content keys are wrapped for
	UpdateDevicePubFile = "update-device.pub" // public/: its public half, for packaging
)

// UpdateKeyFile is the file of manufacturer update key i (1-based).
func UpdateKeyFile(i int) string { return fmt.Sprintf("update-%d.key", i) }

// ClassOf is the device class of a device kind.
func ClassOf(kind string) uint32 {
	if kind == KindPacer {
		return ClassPacer
	}
	return ClassPump
}

// ErrExists: refusing to overwrite an existing deployment.
var ErrExists = errors.New("provision: directory already provisioned")

func write(dir, name string, b []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("provision: write %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("provision: sync %s: %w", p, err)
	}
	return f.Close()
}

type marshaler interface{ MarshalBinary() ([]byte, error) }

func writeBin(dir, name string, m marshaler) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("provision: encode %s: %w", name, err)
	}
	return write(dir, name, b)
}

func writeKey(dir, name string, k *wire.SigningKey) error {
	b, err := wire.MarshalSigningKey(k)
	if err != nil {
		return err
	}
	return write(dir, name, b)
}

func writeTrust(dir string, keys ...wire.TrustedKey) error {
	b, err := wire.MarshalTrustedKeys(keys...)
	if err != nil {
		return err
	}
	return write(dir, "trust.json", b)
}

// Device kinds.
const (
	KindPump  = "pump"
	KindPacer = "pacer"
)

// Generate provisions a new insulin-pump deployment under root.
func Generate(root, deviceID string, set fhe.ParamSet, rnd io.Reader) error {
	return GenerateKind(root, deviceID, KindPump, set, rnd)
}

// GenerateKind provisions a new deployment of a device kind under root.
func GenerateKind(root, deviceID, kind string, set fhe.ParamSet, rnd io.Reader) error {
	if kind != KindPump && kind != KindPacer {
		return fmt.Errorf("provision: unknown device kind %q", kind)
	}
	if _, err := os.Stat(filepath.Join(root, "public", "device.json")); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, root)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	params, err := fhe.NewParams(set)
	if err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	skI, err := fhe.GenerateKeys(params, fhe.DomainImplant)
	if err != nil {
		return fmt.Errorf("provision: implant keys: %w", err)
	}
	skC, err := fhe.GenerateKeys(params, fhe.DomainClinic)
	if err != nil {
		return fmt.Errorf("provision: clinic keys: %w", err)
	}
	rkI, err := skI.RelayKeys()
	if err != nil {
		return err
	}
	rkC, err := skC.RelayKeys()
	if err != nil {
		return err
	}
	sign := map[guard.Role]*wire.SigningKey{}
	for _, r := range []guard.Role{guard.RoleClinician, guard.RoleRelay, guard.RoleImplant} {
		if sign[r], err = wire.GenerateSigningKey(r, rnd); err != nil {
			return err
		}
	}
	bind := make([]byte, wire.BindKeySize)
	if _, err := io.ReadFull(rnd, bind); err != nil {
		return fmt.Errorf("provision: bind key: %w", err)
	}
	origin := "implantfhe.relay/" + deviceID
	skey, vkey, err := tlog.GenerateKey(origin)
	if err != nil {
		return fmt.Errorf("provision: checkpoint key: %w", err)
	}
	dev, err := json.MarshalIndent(Device{ID: deviceID, Kind: kind, ParamSet: set.Name, Origin: origin,
		VendorID: VendorID, ClassID: ClassOf(kind)}, "", "  ")
	if err != nil {
		return err
	}
	var mfr []*wire.SigningKey
	var mfrPubs []wire.TrustedKey
	for range UpdateKeys {
		k, err := wire.GenerateSigningKey(guard.RoleManufacturer, rnd)
		if err != nil {
			return err
		}
		mfr, mfrPubs = append(mfr, k), append(mfrPubs, k.Public())
	}
	troot, err := update.NewTrustRoot(1, UpdateThreshold, mfrPubs...)
	if err != nil {
		return fmt.Errorf("provision: update root: %w", err)
	}
	sroot, err := update.SignRoot(troot, mfr...)
	if err != nil {
		return fmt.Errorf("provision: update root: %w", err)
	}
	rootBytes, err := sroot.Marshal()
	if err != nil {
		return err
	}
	devKey, err := ecdh.X25519().GenerateKey(rnd)
	if err != nil {
		return fmt.Errorf("provision: update device key: %w", err)
	}
	implant, clinic, relay := filepath.Join(root, "implant"), filepath.Join(root, "clinic"), filepath.Join(root, "relay")
	manu, public := filepath.Join(root, "manufacturer"), filepath.Join(root, "public")
	steps := []func() error{
		func() error { return writeBin(implant, "fhe-implant.sk", skI) },
		func() error { return writeKey(implant, "implant.key", sign[guard.RoleImplant]) },
		func() error {
			return writeTrust(implant, sign[guard.RoleClinician].Public(), sign[guard.RoleRelay].Public())
		},
		func() error { return write(implant, "bind.key", bind) },
		func() error { return writeBin(implant, "fhe-clinic.pk", skC.PublicKey()) },
		func() error { return write(implant, "device.json", dev) },

		func() error { return writeBin(clinic, "fhe-clinic.sk", skC) },
		func() error { return writeKey(clinic, "clinician.key", sign[guard.RoleClinician]) },
		func() error { return writeBin(clinic, "fhe-implant.pk", skI.PublicKey()) },
		func() error { return write(clinic, "bind.key", bind) },
		func() error {
			return writeTrust(clinic, sign[guard.RoleImplant].Public(), sign[guard.RoleRelay].Public())
		},
		func() error { return write(clinic, "device.json", dev) },

		func() error { return writeBin(relay, "fhe-implant.relay", rkI) },
		func() error { return writeBin(relay, "fhe-clinic.relay", rkC) },
		func() error { return writeKey(relay, "relay.key", sign[guard.RoleRelay]) },
		func() error {
			return writeTrust(relay, sign[guard.RoleClinician].Public(), sign[guard.RoleImplant].Public())
		},
		func() error { return write(relay, "checkpoint.skey", []byte(skey)) },
		func() error { return write(relay, "device.json", dev) },

		func() error {
			for i, k := range mfr {
				if err := writeKey(manu, UpdateKeyFile(i+1), k); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return write(implant, UpdateRootFile, rootBytes) },
		func() error { return write(implant, UpdateDeviceKeyFile, devKey.Bytes()) },
		func() error { return write(public, UpdateRootFile, rootBytes) },
		func() error { return write(public, UpdateDevicePubFile, devKey.PublicKey().Bytes()) },

		func() error {
			var pubs []wire.TrustedKey
			for _, r := range []guard.Role{guard.RoleClinician, guard.RoleRelay, guard.RoleImplant} {
				pubs = append(pubs, sign[r].Public())
			}
			pubs = append(pubs, mfrPubs...)
			b, err := wire.MarshalTrustedKeys(pubs...)
			if err != nil {
				return err
			}
			return write(public, "keys.json", b)
		},
		func() error { return write(public, "checkpoint.vkey", []byte(vkey)) },
		func() error { return write(public, "device.json", dev) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// ReadDevice reads a party's device.json.
func ReadDevice(dir string) (Device, error) {
	var d Device
	b, err := os.ReadFile(filepath.Join(dir, "device.json"))
	if err != nil {
		return d, fmt.Errorf("provision: %w", err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("provision: device.json: %w", err)
	}
	return d, nil
}

// ReadSigningKey loads a private signing key file.
func ReadSigningKey(dir, name string) (*wire.SigningKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	return wire.UnmarshalSigningKey(b)
}

// ReadTrust loads a party's trust list.
func ReadTrust(dir string) (*wire.TrustList, []wire.TrustedKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, "trust.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("provision: %w", err)
	}
	return wire.UnmarshalTrustList(b)
}

// AddUpdateKeys generates n new manufacturer update keys in dir, numbered
// after the highest existing update-N.key, and returns them.
func AddUpdateKeys(dir string, n int, rnd io.Reader) ([]*wire.SigningKey, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	next := 1
	for {
		if _, err := os.Stat(filepath.Join(dir, UpdateKeyFile(next))); err != nil {
			break
		}
		next++
	}
	var keys []*wire.SigningKey
	for i := range n {
		k, err := wire.GenerateSigningKey(guard.RoleManufacturer, rnd)
		if err != nil {
			return nil, err
		}
		if err := writeKey(dir, UpdateKeyFile(next+i), k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ReadUpdateKeys reads manufacturer update keys by number (update-N.key).
func ReadUpdateKeys(dir string, nums ...int) ([]*wire.SigningKey, error) {
	keys := make([]*wire.SigningKey, 0, len(nums))
	for _, n := range nums {
		k, err := ReadSigningKey(dir, UpdateKeyFile(n))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ReadUpdateRoot reads and checks a signed update trust root: it must be
// signed by a threshold of its own keys.
func ReadUpdateRoot(dir string) (*update.TrustRoot, error) {
	b, err := ReadFile(dir, UpdateRootFile)
	if err != nil {
		return nil, err
	}
	sr, err := update.DecodeSignedRoot(b)
	if err != nil {
		return nil, fmt.Errorf("provision: %s: %w", UpdateRootFile, err)
	}
	r, err := sr.Verify()
	if err != nil {
		return nil, fmt.Errorf("provision: %s: %w", UpdateRootFile, err)
	}
	return r, nil
}

// ReadUpdateDeviceKey reads the implant's X25519 update key.
func ReadUpdateDeviceKey(dir string) (*ecdh.PrivateKey, error) {
	b, err := ReadFile(dir, UpdateDeviceKeyFile)
	if err != nil {
		return nil, err
	}
	k, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("provision: %s: %w", UpdateDeviceKeyFile, err)
	}
	return k, nil
}

// ReadUpdateDevicePub reads a device's X25519 update public key.
func ReadUpdateDevicePub(dir string) (*ecdh.PublicKey, error) {
	b, err := ReadFile(dir, UpdateDevicePubFile)
	if err != nil {
		return nil, err
	}
	k, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("provision: %s: %w", UpdateDevicePubFile, err)
	}
	return k, nil
}

// ReadFile reads one file of a party's directory.
func ReadFile(dir, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	return b, nil
}
