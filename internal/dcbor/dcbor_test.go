package dcbor

import (
	"errors"
	"testing"
)

type pair struct {
	A uint64 `cbor:"1,keyasint"`
	B []byte `cbor:"2,keyasint,omitempty"`
}

func TestCanonicalRoundTripAndRefusals(t *testing.T) {
	d := NewDecoder(Limits{MaxNested: 4, MaxArray: 16, MaxMap: 4})
	good, err := Marshal(&pair{A: 7, B: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	var p pair
	if err := d.UnmarshalCanonical(good, &p); err != nil || p.A != 7 {
		t.Fatalf("canonical input refused: %v %+v", err, p)
	}
	cases := []struct {
		name string
		in   []byte
		want error // nil: any error
	}{
		// {1: 7} with 7 encoded in two bytes (0x18 0x07): decodes, not canonical.
		{"non-minimal integer", []byte{0xa1, 0x01, 0x18, 0x07}, ErrNotCanonical},
		// keys out of order: {2: h'01', 1: 7}
		{"unsorted keys", []byte{0xa2, 0x02, 0x41, 0x01, 0x01, 0x07}, ErrNotCanonical},
		{"duplicate key", []byte{0xa2, 0x01, 0x07, 0x01, 0x08}, nil},
		{"unknown key", []byte{0xa1, 0x05, 0x07}, nil},
		{"indefinite map", []byte{0xbf, 0x01, 0x07, 0xff}, nil},
		{"tag", []byte{0xc1, 0xa1, 0x01, 0x07}, nil},
		{"truncated", good[:len(good)-1], nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var q pair
			err := d.UnmarshalCanonical(c.in, &q)
			if err == nil {
				t.Fatalf("accepted % x as %+v", c.in, q)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestAllowUnknown(t *testing.T) {
	d := NewDecoder(Limits{MaxNested: 4, MaxArray: 16, MaxMap: 4, AllowUnknown: true})
	var q pair
	if err := d.Unmarshal([]byte{0xa2, 0x01, 0x07, 0x05, 0x07}, &q); err != nil || q.A != 7 {
		t.Fatalf("unknown key with AllowUnknown: %v %+v", err, q)
	}
}

func TestZeroLimitsPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("zero limits accepted")
		}
	}()
	NewDecoder(Limits{})
}
