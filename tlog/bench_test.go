package tlog

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"
)

// BenchmarkAppend measures Append including its fsync, for a verdict-sized
// and an envelope-sized entry (the disk under the test decides most of it).
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{256, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			s, _ := testKeys(b, "relay")
			l := openLog(b, b.TempDir(), s)
			entry := make([]byte, size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				binary.BigEndian.PutUint64(entry, uint64(i))
				if _, err := l.Append(entry); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchTree is an in-memory tree of n leaves, standing in for a log of the
// largest size this package is meant for (1e5 entries).
func benchTree(b *testing.B, n int) *tree {
	b.Helper()
	t := newTree()
	for i := 0; i < n; i++ {
		var e [8]byte
		binary.BigEndian.PutUint64(e[:], uint64(i))
		if err := t.append(LeafHash(e[:])); err != nil {
			b.Fatal(err)
		}
	}
	return t
}

const benchTreeSize = 100_000

func BenchmarkInclusionProof(b *testing.B) {
	t := benchTree(b, benchTreeSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		size := benchTreeSize - uint64(i%3)
		if _, err := t.inclusion(uint64(i*7919)%size, size); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConsistencyProof(b *testing.B) {
	t := benchTree(b, benchTreeSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		size1 := 1 + uint64(i*7919)%(benchTreeSize-1)
		if _, err := t.consistency(size1, benchTreeSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRoot(b *testing.B) {
	t := benchTree(b, benchTreeSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := t.rootAt(benchTreeSize - uint64(i%1000)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyInclusion(b *testing.B) {
	t := benchTree(b, benchTreeSize)
	root, err := t.rootAt(benchTreeSize)
	if err != nil {
		b.Fatal(err)
	}
	cp := Checkpoint{Size: benchTreeSize, Root: root}
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], 12345)
	p, err := t.inclusion(12345, benchTreeSize)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := VerifyInclusion(e[:], 12345, p, cp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen measures Open on a log of 10,000 entries of 256 bytes: it
// re-reads every record and rebuilds the tree (the data file is written
// directly, without 10,000 fsyncs, to keep the setup short).
func BenchmarkOpen(b *testing.B) {
	s, _ := testKeys(b, "relay")
	dir := b.TempDir()
	data := append([]byte(nil), fileMagic[:]...)
	entry := make([]byte, 256)
	for i := 0; i < 10_000; i++ {
		binary.BigEndian.PutUint64(entry, uint64(i))
		data = append(data, encodeRecord(entry)...)
	}
	if err := os.WriteFile(dataPath(dir), data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l, err := Open(dir, s, testOrigin)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
