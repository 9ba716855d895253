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
	"github.com/implantfhe/implantfhe/wire"
)

// Device describes the provisioned implant.
type Device struct {
	ID string `json:"id"`
	// Kind is "pump" or "pacer".
	Kind     string `json:"kind"`
	ParamSet string `json:"param_set"`
	Origin   string `json:"log_origin"`
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
	for _, r := range []guard.Role{guard.RoleClinician, guard.RoleRelay, guard.RoleImplant, guard.RoleManufacturer} {
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
	dev, err := json.MarshalIndent(Device{ID: deviceID, Kind: kind, ParamSet: set.Name, Origin: origin}, "", "  ")
	if err != nil {
		return err
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

		func() error { return writeKey(manu, "manufacturer.key", sign[guard.RoleManufacturer]) },

		func() error {
			var pubs []wire.TrustedKey
			for _, r := range []guard.Role{guard.RoleClinician, guard.RoleRelay, guard.RoleImplant, guard.RoleManufacturer} {
				pubs = append(pubs, sign[r].Public())
			}
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

// ReadFile reads one file of a party's directory.
func ReadFile(dir, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	return b, nil
}
