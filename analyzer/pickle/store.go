package pickle

import "encoding/binary"

// The VM's tables are paged and free of Go pointers: they never copy on
// growth and the garbage collector never scans them, which keeps a
// multi-gigabyte, opcode-heavy pickle at a steady speed and bounded memory.

const pageBits = 16
const pageSize = 1 << pageBits

// arena holds retained strings and bytes as [uvarint length][bytes] in
// fixed chunks; a value never spans two chunks.
type arena struct {
	chunks [][]byte
	used   int // bytes in all chunks
	max    int
}

const chunkSize = 2 << 20

func (a *arena) put(p []byte) (uint32, bool) {
	need := len(p) + binary.MaxVarintLen32
	if need > chunkSize || a.used+need > a.max {
		return 0, false
	}
	n := len(a.chunks)
	if n == 0 || len(a.chunks[n-1])+need > chunkSize {
		// The first chunk starts small and grows: most pickles are tiny.
		c := 256
		if n > 0 {
			c = chunkSize
		}
		a.chunks = append(a.chunks, make([]byte, 0, c))
		n++
	}
	c := a.chunks[n-1]
	off := uint32((n-1)*chunkSize + len(c))
	c = binary.AppendUvarint(c, uint64(len(p)))
	c = append(c, p...)
	a.used += len(c) - len(a.chunks[n-1])
	a.chunks[n-1] = c
	return off, true
}

func (a *arena) get(ref uint32) []byte {
	c := a.chunks[int(ref)/chunkSize]
	off := int(ref) % chunkSize
	n, k := binary.Uvarint(c[off:])
	return c[off+k : off+k+int(n)]
}

// ctr is a retained container: where its first items are in the item
// pool, how many are retained, and its logical length.
type ctr struct {
	start uint32
	n     uint16
	trunc bool // items were dropped
	total int64
}

// itemPool stores container items contiguously per container, in pages.
type itemPool struct {
	pages [][]val
	used  int
	max   int
}

// alloc reserves room for n items in one page and returns the index of
// the first, or false when the pool is full.
func (p *itemPool) alloc(n int) (uint32, bool) {
	if n > pageSize || p.used+n > p.max {
		return 0, false
	}
	last := len(p.pages) - 1
	if last < 0 || len(p.pages[last])+n > pageSize {
		c := 32 // the first page starts small and grows
		if last >= 0 {
			c = pageSize
		}
		p.pages = append(p.pages, make([]val, 0, c))
		last++
	}
	start := uint32(last<<pageBits + len(p.pages[last]))
	pg := p.pages[last]
	if len(pg)+n > cap(pg) {
		grown := make([]val, len(pg), min(pageSize, max(2*cap(pg), len(pg)+n)))
		copy(grown, pg)
		pg = grown
	}
	p.pages[last] = pg[:len(pg)+n]
	p.used += n
	return start, true
}

// canGrow reports whether items [start, start+n) end at the pool's tip,
// so the container can be extended in place by k items.
func (p *itemPool) canGrow(start uint32, n, k int) bool {
	last := len(p.pages) - 1
	if last < 0 {
		return false
	}
	end := int(start) + n
	pg := p.pages[last]
	return end>>pageBits == last && end-last<<pageBits == len(pg) && len(pg)+k <= pageSize && p.used+k <= p.max
}

func (p *itemPool) slice(start uint32, n int) []val {
	if n == 0 {
		return nil
	}
	pg := p.pages[start>>pageBits]
	off := int(start) & (pageSize - 1)
	return pg[off : off+n]
}

// memo maps memo keys to values. Keys below denseLimit keep full values;
// keys above it (only pickles with millions of memo entries reach them)
// keep just the kind, plus imports and calls in a side map, since by then
// every other value is past its retention budget anyway.
type memo struct {
	dense   [][]val
	compact [][]kind
	refs    map[uint32]val
	n       int // entries present
}

const denseLimit = 1 << 21

func (mm *memo) get(i uint32) (val, bool) {
	p := int(i >> pageBits)
	if i < denseLimit {
		if p < len(mm.dense) {
			if off := int(i & (pageSize - 1)); off < len(mm.dense[p]) {
				if v := mm.dense[p][off]; v.k != kAbsent {
					return v, true
				}
			}
		}
		return val{}, false
	}
	p -= denseLimit >> pageBits
	if p < len(mm.compact) && mm.compact[p] != nil {
		k := mm.compact[p][i&(pageSize-1)]
		if k == kAbsent {
			return val{}, false
		}
		if k == kGlobal || k == kCall {
			if v, ok := mm.refs[i]; ok {
				return v, true
			}
			return val{k: kOpaque}, true
		}
		return val{k: k}, true
	}
	return val{}, false
}

func (mm *memo) put(i uint32, v val) {
	p := int(i >> pageBits)
	if i < denseLimit {
		for len(mm.dense) <= p {
			mm.dense = append(mm.dense, nil)
		}
		off := int(i & (pageSize - 1))
		if pg := mm.dense[p]; off >= len(pg) {
			// The first page grows on demand (small pickles memoize a
			// handful); later ones are only reached by large pickles.
			n := pageSize
			if p == 0 {
				n = min(pageSize, max(2*len(pg), off+1, 64))
			}
			grown := make([]val, n)
			copy(grown, pg)
			mm.dense[p] = grown
		}
		slot := &mm.dense[p][off]
		if slot.k == kAbsent {
			mm.n++
		}
		*slot = v
		return
	}
	p -= denseLimit >> pageBits
	for len(mm.compact) <= p {
		mm.compact = append(mm.compact, nil)
	}
	if mm.compact[p] == nil {
		mm.compact[p] = make([]kind, pageSize)
	}
	slot := &mm.compact[p][i&(pageSize-1)]
	if *slot == kAbsent {
		mm.n++
	}
	k := lossy(v.k)
	*slot = k
	if k == kGlobal || k == kCall {
		if mm.refs == nil {
			mm.refs = map[uint32]val{}
		}
		mm.refs[i] = v
	}
}

// lossy is the kind a value keeps when only its kind is stored.
func lossy(k kind) kind {
	switch k {
	case kStr, kStrComputed:
		return kStrLost
	case kBytes, kBytesAt:
		return kBytesLost
	case kTuple, kList, kDict, kSet, kFrozenSet:
		return kLostCtr
	case kInt, kBool:
		return kBigInt
	}
	return k
}
