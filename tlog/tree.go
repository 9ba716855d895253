package tlog

import (
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// HashSize is the size in bytes of leaf, node and root hashes (SHA-256).
const HashSize = 32

var hasher = rfc6962.DefaultHasher

var rangeFactory = compact.RangeFactory{Hash: hasher.HashChildren}

// tree is an in-memory RFC 6962 Merkle tree over leaf hashes. It stores the
// hash of every perfect subtree (levels[l][k] covers leaves [k<<l, (k+1)<<l)),
// about twice the leaf hashes, so roots of any size and proofs cost O(log n).
type tree struct {
	levels [][][HashSize]byte
	rng    *compact.Range
}

func newTree() *tree {
	return &tree{rng: rangeFactory.NewEmptyRange(0)}
}

func (t *tree) size() uint64 { return t.rng.End() }

// append adds a leaf hash. The compact range reports every node it creates,
// leaf first; each is the next node of its level, which the code asserts.
func (t *tree) append(leafHash []byte) error {
	if len(leafHash) != HashSize {
		return fmt.Errorf("tlog: leaf hash is %d bytes, want %d", len(leafHash), HashSize)
	}
	var verr error
	visit := func(id compact.NodeID, h []byte) {
		for uint(len(t.levels)) <= id.Level {
			t.levels = append(t.levels, nil)
		}
		if id.Index != uint64(len(t.levels[id.Level])) {
			verr = fmt.Errorf("tlog: internal: node %d/%d out of order", id.Level, id.Index)
			return
		}
		var a [HashSize]byte
		copy(a[:], h)
		t.levels[id.Level] = append(t.levels[id.Level], a)
	}
	if err := t.rng.Append(append([]byte(nil), leafHash...), visit); err != nil {
		return fmt.Errorf("tlog: append to compact range: %w", err)
	}
	return verr
}

// leaf returns the stored hash of leaf i (i < size).
func (t *tree) leaf(i uint64) []byte {
	return t.levels[0][i][:]
}

// node returns the hash of a perfect subtree, which must already exist.
func (t *tree) node(id compact.NodeID) ([]byte, error) {
	if id.Level >= uint(len(t.levels)) || id.Index >= uint64(len(t.levels[id.Level])) {
		return nil, fmt.Errorf("tlog: internal: node %d/%d not in tree of size %d", id.Level, id.Index, t.size())
	}
	h := t.levels[id.Level][id.Index]
	return h[:], nil
}

// rootAt returns the RFC 6962 Merkle tree hash of the first size leaves.
func (t *tree) rootAt(size uint64) ([]byte, error) {
	if size > t.size() {
		return nil, fmt.Errorf("tlog: size %d beyond log size %d", size, t.size())
	}
	if size == 0 {
		return hasher.EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := t.hashes(ids)
	if err != nil {
		return nil, err
	}
	r, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("tlog: compact range for size %d: %w", size, err)
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return nil, fmt.Errorf("tlog: root for size %d: %w", size, err)
	}
	return root, nil
}

func (t *tree) hashes(ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := t.node(id)
		if err != nil {
			return nil, err
		}
		out[i] = append([]byte(nil), h...)
	}
	return out, nil
}

func (t *tree) build(n proof.Nodes) ([][]byte, error) {
	h, err := t.hashes(n.IDs)
	if err != nil {
		return nil, err
	}
	p, err := n.Rehash(h, hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("tlog: rehash proof: %w", err)
	}
	return p, nil
}

// inclusion returns the RFC 6962 audit path for leaf index in the tree of size.
func (t *tree) inclusion(index, size uint64) ([][]byte, error) {
	if size > t.size() {
		return nil, fmt.Errorf("tlog: inclusion proof: size %d beyond log size %d", size, t.size())
	}
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("tlog: inclusion proof: %w", err)
	}
	return t.build(n)
}

// consistency returns the RFC 6962 consistency proof between two sizes.
func (t *tree) consistency(size1, size2 uint64) ([][]byte, error) {
	if size2 > t.size() {
		return nil, fmt.Errorf("tlog: consistency proof: size %d beyond log size %d", size2, t.size())
	}
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("tlog: consistency proof: %w", err)
	}
	return t.build(n)
}
