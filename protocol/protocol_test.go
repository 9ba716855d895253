package protocol

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/implantfhe/implantfhe/kernel/reason"
)

func TestRecordRoundTrip(t *testing.T) {
	r := &LogRecord{Type: RecStep, NowMs: 42, Cmd: PumpBolus, Ctr: 7, CmdDigest: make([]byte, 32), Values: []int64{300},
		Accepted: true, Deliver: []int64{300}, Alerts: []reason.Code{reason.VerdictMismatch}, State: []byte{1, 2, 3},
		VerdictCtr: 3, AckCtr: 9, Update: &UpdateInfo{Event: EvStaged, Version: 2}}
	b, err := EncodeRecord(r)
	require.NoError(t, err)
	got, err := DecodeRecord(b)
	require.NoError(t, err)
	assert.Equal(t, r, got)
	_, err = DecodeRecord([]byte{0xff})
	assert.Error(t, err)
}

// FuzzDecodeRecord: log records never panic the decoder.
func FuzzDecodeRecord(f *testing.F) {
	b, _ := EncodeRecord(&LogRecord{Type: RecStep, NowMs: 1, Deliver: []int64{5}})
	f.Add(b)
	f.Add([]byte{0xa1, 0x01, 0x64, 's', 't', 'e', 'p'})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeRecord(in)
		if err != nil {
			return
		}
		if _, err := EncodeRecord(r); err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
	})
}

func sealKey(t testing.TB) *ecdh.PrivateKey {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

// TestAckSealRoundTripAndBinding: the private part opens with the clinic's
// key only, only for the acknowledgement it was sealed into, and its size
// does not depend on how many values it holds.
func TestAckSealRoundTripAndBinding(t *testing.T) {
	k := sealKey(t)
	d := sha256.Sum256([]byte("cmd"))
	ref := &CommandRef{Counter: 11, Digest: d[:]}
	mk := func(p *Private) *Ack {
		a := &Ack{Kind: AckDecision, Answers: ref}
		require.NoError(t, SealPrivate(k.PublicKey(), "pump-0001", a, p))
		return a
	}
	p := &Private{Accepted: true, Values: []int64{287}, Delivered: []int64{287}}
	a := mk(p)
	got, err := OpenPrivate(k, "pump-0001", a)
	require.NoError(t, err)
	assert.Equal(t, p, got)
	// Another clinic's key, another device, another command: refused.
	_, err = OpenPrivate(sealKey(t), "pump-0001", a)
	assert.ErrorIs(t, err, ErrSeal)
	_, err = OpenPrivate(k, "pump-0002", a)
	assert.ErrorIs(t, err, ErrSeal)
	moved := *a
	moved.Answers = &CommandRef{Counter: 12, Digest: d[:]}
	_, err = OpenPrivate(k, "pump-0001", &moved)
	assert.ErrorIs(t, err, ErrSeal)
	// Padding: one value or three, the same sealed length.
	b := mk(&Private{Accepted: true, Values: []int64{1, 2, 3}, Delivered: []int64{1, 2, 3}})
	assert.Equal(t, len(a.Sealed), len(b.Sealed))
	// The dose is nowhere in the encoded acknowledgement in clear.
	enc, err := EncodeAck(a)
	require.NoError(t, err)
	assert.False(t, bytes.Contains(enc, []byte{0x19, 0x01, 0x1f}), "287 (CBOR 19 01 1f) in clear")
}

func TestDecodeAckRefusesWrongShapes(t *testing.T) {
	d := make([]byte, 32)
	for _, a := range []*Ack{
		{Kind: AckDecision}, // no reference, nothing sealed
		{Kind: AckDecision, Answers: &CommandRef{Digest: d}}, // nothing sealed
		{Kind: AckRefused, Sealed: []byte{1}},                // no refusal code
		{Kind: AckUpdate},                                    // no update info
		{Kind: AckStatus, Answers: &CommandRef{Digest: d}, Sealed: []byte{1}},
		{Kind: AckAnswer, Answers: &CommandRef{Digest: d[:5]}, Sealed: []byte{1}}, // short digest
		{Kind: 99, Sealed: []byte{1}},
	} {
		b, err := EncodeAck(a)
		require.NoError(t, err)
		_, err = DecodeAck(b)
		assert.ErrorIs(t, err, ErrAck, "%+v", a)
	}
}

// FuzzDecodeAck: acknowledgement bodies never panic the decoder, and what it
// accepts re-encodes to its input.
func FuzzDecodeAck(f *testing.F) {
	d := make([]byte, 32)
	for _, a := range []*Ack{
		{Kind: AckDecision, Answers: &CommandRef{Counter: 3, Digest: d}, Sealed: []byte{1, 2}},
		{Kind: AckRefused, Refusal: RefusedReplay, Sealed: []byte{1}},
		{Kind: AckUpdate, Update: &UpdateInfo{Event: EvDownloading, MissingMap: []byte{0xff}}},
	} {
		b, err := EncodeAck(a)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAck(b)
		if err != nil {
			return
		}
		again, err := EncodeAck(a)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted an ack that does not re-encode to itself: %v", err)
		}
	})
}

// FuzzDecodeUpdateRequest: the decoder never panics and what it accepts
// re-encodes to its input.
func FuzzDecodeUpdateRequest(f *testing.F) {
	for _, r := range []*UpdateRequest{
		{Op: UpdOffer, Manifest: []byte{0xa2, 1, 2}},
		{Op: UpdChunk, Index: 7, Chunk: make([]byte, 40)},
		{Op: UpdFinish}, {Op: UpdStatus}, {Op: UpdRoot, Root: []byte{0xa2, 1, 2}},
	} {
		b, err := EncodeUpdateRequest(r)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeUpdateRequest(b)
		if err != nil {
			return
		}
		again, err := EncodeUpdateRequest(r)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted a request that does not re-encode to itself: %v", err)
		}
	})
}
