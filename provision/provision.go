// Package provision creates every key of one deployment — implant, clinic,
// clinician, relay, manufacturer — and writes each party's files to its own
// directory with mode 0600 (directories 0700). The file names and the
// loaders are package protocol's (protocol.LoadImplant and the others);
// provisioning is the only writer.
//
// The relay directory never contains a CKKS secret key or the clinic's
// acknowledgement seal key.
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

	"github.com/implantfhe/implantfhe/controller/clinical"
	"github.com/implantfhe/implantfhe/fhe"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/tlog"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

// Update path: the manufacturer's vendor ID, the device classes, and the
// manufacturer keys (UpdateKeys of them, UpdateThreshold needed).
const (
	VendorID        = 0x1F2E
	ClassPump       = 0x0101
	ClassPacer      = 0x0201
	UpdateKeys      = 3
	UpdateThreshold = 2
)

// ClassOf is the device class of a device kind.
func ClassOf(kind protocol.DeviceKind) uint32 {
	if kind == protocol.KindPacer {
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
	return write(dir, protocol.FileTrust, b)
}

// Options are what a deployment is provisioned with.
type Options struct {
	DeviceID string
	Kind     protocol.DeviceKind
	Set      fhe.ParamSet
	// Limits are the patient's limits (nil: protocol.DefaultLimits of the
	// kind); the implant and the clinic get the same file.
	Limits *protocol.Limits
	// FirstCounter is where the clinic's command counter starts: the
	// implant consumes counter 1 when it programs the limits at first boot.
	// Zero means 1.
	FirstCounter uint64
	// Rand is the randomness for every key (nil: crypto/rand).
	Rand io.Reader
}

// Generate provisions a new deployment under root.
func Generate(root string, o Options) error {
	kind, rnd := o.Kind, o.Rand
	if kind != protocol.KindPump && kind != protocol.KindPacer {
		return fmt.Errorf("provision: %w: %s", protocol.ErrDeviceKind, kind)
	}
	if o.DeviceID == "" || len(o.DeviceID) > wire.MaxDeviceID {
		return fmt.Errorf("provision: device ID of %d bytes (1..%d)", len(o.DeviceID), wire.MaxDeviceID)
	}
	lim := protocol.DefaultLimits(kind)
	if o.Limits != nil {
		lim = *o.Limits
	}
	if err := lim.Check(kind); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	limBytes, err := json.MarshalIndent(lim, "", "  ")
	if err != nil {
		return err
	}
	first := max(o.FirstCounter, 1)
	deviceID, set := o.DeviceID, o.Set
	if _, err := os.Stat(filepath.Join(root, "public", protocol.FileDevice)); err == nil {
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
	dev, err := json.MarshalIndent(protocol.Device{ID: deviceID, Kind: kind, ParamSet: set.Name, Origin: origin,
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
	sealKey, err := ecdh.X25519().GenerateKey(rnd)
	if err != nil {
		return fmt.Errorf("provision: acknowledgement seal key: %w", err)
	}
	implant, clinic, relay := filepath.Join(root, "implant"), filepath.Join(root, "clinic"), filepath.Join(root, "relay")
	manu, public := filepath.Join(root, "manufacturer"), filepath.Join(root, "public")
	steps := []func() error{
		func() error { return writeBin(implant, protocol.FileImplantFHE, skI) },
		func() error { return writeKey(implant, protocol.FileImplantKey, sign[guard.RoleImplant]) },
		func() error {
			return writeTrust(implant, sign[guard.RoleClinician].Public(), sign[guard.RoleRelay].Public())
		},
		func() error { return write(implant, protocol.FileBind, bind) },
		func() error { return writeBin(implant, protocol.FileClinicFHEPub, skC.PublicKey()) },
		func() error { return write(implant, protocol.FileDevice, dev) },
		func() error { return write(implant, protocol.FileLimits, limBytes) },
		func() error { return write(implant, protocol.FileAckSealPub, sealKey.PublicKey().Bytes()) },

		func() error { return writeBin(clinic, protocol.FileClinicFHE, skC) },
		func() error { return writeKey(clinic, protocol.FileClinicianKey, sign[guard.RoleClinician]) },
		func() error { return writeBin(clinic, protocol.FileImplantFHEPub, skI.PublicKey()) },
		func() error { return write(clinic, protocol.FileBind, bind) },
		func() error {
			return writeTrust(clinic, sign[guard.RoleImplant].Public(), sign[guard.RoleRelay].Public())
		},
		func() error { return write(clinic, protocol.FileDevice, dev) },
		func() error { return write(clinic, protocol.FileLimits, limBytes) },
		func() error { return write(clinic, protocol.FileAckSealKey, sealKey.Bytes()) },
		func() error { return clinical.CreateCounter(filepath.Join(clinic, protocol.FileCounter), first) },

		func() error { return writeBin(relay, protocol.FileImplantRelay, rkI) },
		func() error { return writeBin(relay, protocol.FileClinicRelay, rkC) },
		func() error { return writeKey(relay, protocol.FileRelayKey, sign[guard.RoleRelay]) },
		func() error {
			return writeTrust(relay, sign[guard.RoleClinician].Public(), sign[guard.RoleImplant].Public())
		},
		func() error { return write(relay, protocol.FileCheckpointSKey, []byte(skey)) },
		func() error { return write(relay, protocol.FileDevice, dev) },

		func() error {
			for i, k := range mfr {
				if err := writeKey(manu, protocol.UpdateKeyFile(i+1), k); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return write(implant, protocol.FileUpdateRoot, rootBytes) },
		func() error { return write(implant, protocol.FileUpdateDeviceKey, devKey.Bytes()) },
		func() error { return write(public, protocol.FileUpdateRoot, rootBytes) },
		func() error { return write(public, protocol.FileUpdateDevicePub, devKey.PublicKey().Bytes()) },

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
			return write(public, protocol.FilePublicKeys, b)
		},
		func() error { return write(public, protocol.FileCheckpointVKey, []byte(vkey)) },
		func() error { return write(public, protocol.FileDevice, dev) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// AddUpdateKeys generates n new manufacturer update keys in dir, numbered
// after the highest existing update-N.key, and returns them.
func AddUpdateKeys(dir string, n int, rnd io.Reader) ([]*wire.SigningKey, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	next := 1
	for {
		if _, err := os.Stat(filepath.Join(dir, protocol.UpdateKeyFile(next))); err != nil {
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
		if err := writeKey(dir, protocol.UpdateKeyFile(next+i), k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}
