package update_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"

	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/kernel/guard"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

// Example shows an update end to end: the manufacturer packages and signs
// an image (two of three keys), the implant stages, test-boots and confirms
// it.
func Example() {
	// Manufacturer keys and the implant's key, made at provisioning.
	var keys []*wire.SigningKey
	var pubs []wire.TrustedKey
	for range 3 {
		k, _ := wire.GenerateSigningKey(guard.RoleManufacturer, rand.Reader)
		keys, pubs = append(keys, k), append(pubs, k.Public())
	}
	root, _ := update.NewTrustRoot(1, 2, pubs...)
	device, _ := ecdh.X25519().GenerateKey(rand.Reader)
	board := mock.New(mock.Config{Seed: 1})
	cfg := update.Config{Storage: board.Storage, VendorID: 1, ClassID: 7, DeviceKey: device}
	_ = update.Provision(cfg, root, []byte("factory firmware v1"), 1, 1, 0)

	// Manufacturer: encrypt for this device, sign with two keys.
	image := make([]byte, 10_000)
	body, chunks, _ := update.Package(image, update.Params{
		VendorID: 1, ClassID: 7, Version: 2, SecurityCounter: 2,
		Recipients: []*ecdh.PublicKey{device.PublicKey()},
	}, rand.Reader)
	m, _ := update.Sign(*body, keys[0], keys[2])
	frame, _ := m.Marshal()

	// Implant.
	slots, _ := update.Open(cfg)
	if err := slots.Begin(frame); err != nil {
		fmt.Println(err)
		return
	}
	for i, c := range chunks {
		_ = slots.WriteChunk(i, c)
	}
	fmt.Println("finish:", slots.Finish())
	info, _ := slots.Boot(true)
	fmt.Println("boot slot", info.Slot, "version", info.Version, "trial", info.Trial)
	// ... the new image's self-test passes ...
	fmt.Println("confirm:", slots.Confirm())
	fmt.Println("security counter:", slots.State().ConfirmedCounter)
	// Output:
	// finish: <nil>
	// boot slot B version 2 trial true
	// confirm: <nil>
	// security counter: 2
}
