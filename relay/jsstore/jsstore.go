// Package jsstore keeps the relay's per-device state in NATS JetStream:
// an embedded server by default (its store in the relay's data directory,
// nothing to install), or an external cluster. Device state (the relay's
// verdict counter, the last clinician counter it accepted, the counter of
// each limits envelope) is a key-value bucket entry per device, written with
// compare-and-set on its revision; the encrypted limits (ciphertexts of a
// few MB) are objects in an object-store bucket. A relay restart finds its
// counters and limits as they were, so it never signs a verdict counter
// twice and never takes a superseded limits envelope again.
package jsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/implantfhe/implantfhe/internal/dcbor"
	"github.com/implantfhe/implantfhe/relay"
)

// Buckets.
const (
	StateBucket  = "relay-device-state"
	LimitsBucket = "relay-device-limits"
)

// Store is relay.Store on JetStream.
type Store struct {
	nc   *nats.Conn
	ns   *server.Server // the embedded server, nil when external
	kv   jetstream.KeyValue
	obj  jetstream.ObjectStore
	revs map[string]uint64
}

// Embedded starts a JetStream server inside this process with its store in
// dir (it listens on no port: the relay connects in process).
func Embedded(dir string) (*Store, error) {
	ns, err := server.NewServer(&server.Options{JetStream: true, StoreDir: dir, DontListen: true, NoSigs: true,
		JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 8 << 30})
	if err != nil {
		return nil, fmt.Errorf("jsstore: embedded server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("jsstore: embedded server not ready within 10 s")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("jsstore: connect in process: %w", err)
	}
	s, err := open(nc)
	if err != nil {
		nc.Close()
		ns.Shutdown()
		return nil, err
	}
	s.ns = ns
	return s, nil
}

// Connect uses an external NATS (JetStream) deployment at url.
func Connect(url string) (*Store, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, fmt.Errorf("jsstore: connect %s: %w", url, err)
	}
	s, err := open(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

func open(nc *nats.Conn) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jsstore: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: StateBucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("jsstore: state bucket: %w", err)
	}
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: LimitsBucket, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("jsstore: limits bucket: %w", err)
	}
	return &Store{nc: nc, kv: kv, obj: obj, revs: map[string]uint64{}}, nil
}

// Peer opens a second, independent connection to the same JetStream (an
// embedded store's server): what another relay process sharing the store
// sees.
func (s *Store) Peer() (*Store, error) {
	if s.ns == nil {
		return Connect(s.nc.ConnectedUrl())
	}
	nc, err := nats.Connect("", nats.InProcessServer(s.ns))
	if err != nil {
		return nil, fmt.Errorf("jsstore: peer: %w", err)
	}
	return open(nc)
}

// Close drains the connection and stops an embedded server.
func (s *Store) Close() {
	s.nc.Close()
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
}

var stateDec = dcbor.NewDecoder(dcbor.Limits{MaxNested: 4, MaxArray: 64, MaxMap: 64})

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// Load implements relay.Store: the device's state, or the zero state for
// a device the store has never seen.
func (s *Store) Load(device string) (relay.State, error) {
	var st relay.State
	c, cancel := ctx()
	defer cancel()
	e, err := s.kv.Get(c, device)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("jsstore: load %s: %w", device, err)
	}
	if err := stateDec.UnmarshalCanonical(e.Value(), &st); err != nil {
		return st, fmt.Errorf("jsstore: state of %s: %w", device, err)
	}
	s.revs[device] = e.Revision()
	return st, nil
}

// Save implements relay.Store: compare-and-set on the revision last read or
// written, so two relay processes never overwrite each other's counters
// (relay.ErrConflict: reload).
func (s *Store) Save(device string, st relay.State) error {
	b, err := dcbor.Marshal(&st)
	if err != nil {
		return err
	}
	c, cancel := ctx()
	defer cancel()
	var rev uint64
	if r, ok := s.revs[device]; ok {
		rev, err = s.kv.Update(c, device, b, r)
	} else {
		rev, err = s.kv.Create(c, device, b)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("%w: %s", relay.ErrConflict, device)
	}
	if err != nil {
		return fmt.Errorf("jsstore: save %s: %w", device, err)
	}
	s.revs[device] = rev
	return nil
}

func limitsName(device string, sub uint8) string { return fmt.Sprintf("%s/limits/%d", device, sub) }

// SaveLimits implements relay.Store.
func (s *Store) SaveLimits(device string, sub uint8, ct []byte) error {
	c, cancel := ctx()
	defer cancel()
	if _, err := s.obj.PutBytes(c, limitsName(device, sub), ct); err != nil {
		return fmt.Errorf("jsstore: limits of %s: %w", device, err)
	}
	return nil
}

// LoadLimits implements relay.Store (nil, nil when there are none).
func (s *Store) LoadLimits(device string, sub uint8) ([]byte, error) {
	c, cancel := ctx()
	defer cancel()
	b, err := s.obj.GetBytes(c, limitsName(device, sub))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jsstore: limits of %s: %w", device, err)
	}
	return b, nil
}
