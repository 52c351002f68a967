package hdf5

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Dense attribute storage: an object header with more attributes than
// fit (h5py with libver="latest" switches beyond 8) keeps them as
// attribute messages in a fractal heap, indexed by name in a version-2
// B-tree, and names both in its attribute info message. HDF5 then reads
// attributes only from there: it ignores attribute messages left in the
// header. This file reads the name index and the heap objects it points
// to, checks every checksum as the library does, and bounds every count,
// depth and size it is given.

// Bounds of the dense reader.
const (
	maxBTreeDepth    = 16
	maxBTreeNodes    = 1 << 14
	maxHeapDepth     = 16
	maxDirectBlock   = 16 << 20
	maxIndirectEntry = 1 << 16
)

const undefAddr = ^uint64(0)

// checksumOK verifies the lookup3 checksum stored in the last four bytes
// of b over the bytes before it.
func checksumOK(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	return binary.LittleEndian.Uint32(b[len(b)-4:]) == lookup3(b[:len(b)-4], 0)
}

// readAddr reads a file address (size of offsets) and says whether it is
// defined.
func (f *file) addrAt(b []byte) (uint64, bool) {
	v := uintN(b, f.so)
	return v, !undefined(v, f.so)
}

// fractal heap header fields that matter for reading objects.
type fheap struct {
	f         *file
	at        int64
	idLen     int
	filterLen int
	flags     byte
	hugeBT    uint64
	width     uint64
	start     uint64 // starting block size
	maxDirect uint64
	heapBits  int
	root      uint64
	rootRows  int

	offBytes, lenBytes int // fields of a managed heap ID
	maxDirectRows      int
	hugeDirect         bool
	hugeIDSize         int
	nodes              int
}

func (f *file) readHeap(addr int64) (*fheap, error) {
	// Fixed part: signature..max heap size, root address, rows, checksum.
	n := int64(4+1+2+2+1+4) + int64(f.sl) + int64(f.so) + int64(f.sl) + int64(f.so) + 8*int64(f.sl) + 2 + 2*int64(f.sl) + 2 + 2 + int64(f.so) + 2
	b, err := f.read(addr, n)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(b[:4], []byte("FRHP")) || b[4] != 0 {
		return nil, f.fail(addr, "no fractal heap header at %d", addr)
	}
	h := &fheap{f: f, at: addr}
	p := 5
	h.idLen = int(binary.LittleEndian.Uint16(b[p:]))
	h.filterLen = int(binary.LittleEndian.Uint16(b[p+2:]))
	h.flags = b[p+4]
	p += 5 + 4 // max managed object size
	p += f.sl  // next huge object id
	h.hugeBT = uintN(b[p:], f.so)
	p += f.so
	p += f.sl + f.so + 8*f.sl // free space, its manager, managed/allocated space, iterator, object counts and sizes
	h.width = uint64(binary.LittleEndian.Uint16(b[p:]))
	p += 2
	h.start = uintN(b[p:], f.sl)
	h.maxDirect = uintN(b[p+f.sl:], f.sl)
	p += 2 * f.sl
	h.heapBits = int(binary.LittleEndian.Uint16(b[p:]))
	p += 2 + 2 // max heap size, starting rows
	h.root = uintN(b[p:], f.so)
	p += f.so
	h.rootRows = int(binary.LittleEndian.Uint16(b[p:]))
	p += 2
	// Filtered heaps add the root's filtered size, its mask and the
	// filter pipeline before the checksum.
	if h.filterLen > 0 {
		return nil, errUnsupported("a filtered fractal heap")
	}
	full, err := f.read(addr, int64(p)+4)
	if err != nil {
		return nil, err
	}
	if !checksumOK(full) {
		return nil, f.fail(addr, "fractal heap header checksum mismatch")
	}
	pow2 := func(v uint64) bool { return v != 0 && v&(v-1) == 0 }
	switch {
	case h.idLen < 2 || h.idLen > 4096:
		return nil, f.fail(addr, "fractal heap ID length %d", h.idLen)
	case !pow2(h.width) || h.width > 1<<12 || !pow2(h.start) || !pow2(h.maxDirect) || h.maxDirect < h.start || h.maxDirect > maxDirectBlock:
		return nil, f.fail(addr, "fractal heap doubling table (width %d, blocks %d to %d) is not one HDF5 writes", h.width, h.start, h.maxDirect)
	case h.heapBits < 1 || h.heapBits > 64 || h.rootRows > 64:
		return nil, f.fail(addr, "fractal heap of 2^%d bytes with %d root rows", h.heapBits, h.rootRows)
	}
	h.offBytes = (h.heapBits + 7) / 8
	maxDirBits := bits.Len64(h.maxDirect) - 1
	h.lenBytes = min((maxDirBits+7)/8, (bits.Len32(uint32(binary.LittleEndian.Uint32(b[10:])))-1)/8+1)
	h.maxDirectRows = maxDirBits - (bits.Len64(h.start) - 1) + 2
	if f.so+f.sl <= h.idLen-1 {
		h.hugeDirect = true
	} else {
		h.hugeIDSize = min(h.idLen-1, 8)
	}
	return h, nil
}

type unsupportedError string

func (e unsupportedError) Error() string { return string(e) + " is not read" }

func errUnsupported(what string) error { return unsupportedError(what) }

// rowSize is the size of the blocks in row r of the doubling table.
func (h *fheap) rowSize(r int) uint64 {
	if r == 0 {
		return h.start
	}
	return h.start << (r - 1)
}

// object returns the bytes a heap ID designates.
func (h *fheap) object(id []byte, at int64) ([]byte, error) {
	if len(id) != h.idLen {
		return nil, h.f.fail(at, "heap ID of %d bytes, the heap uses %d", len(id), h.idLen)
	}
	if id[0]>>6 != 0 {
		return nil, h.f.fail(at, "heap ID version %d", id[0]>>6)
	}
	switch (id[0] >> 4) & 3 {
	case 0: // managed
		if 1+h.offBytes+h.lenBytes > len(id) {
			return nil, h.f.fail(at, "managed heap ID too short")
		}
		off := uintNAny(id[1:], h.offBytes)
		n := uintNAny(id[1+h.offBytes:], h.lenBytes)
		return h.managed(off, n, at)
	case 1: // huge
		if h.hugeDirect {
			addr := uintN(id[1:], h.f.so)
			n := uintN(id[1+h.f.so:], h.f.sl)
			return h.huge(addr, n, at)
		}
		key := uintNAny(id[1:], h.hugeIDSize)
		return h.hugeByKey(key, at)
	case 2: // tiny
		n := int(id[0]&0x0f) + 1
		if h.idLen > 18 {
			n = int(id[0]&0x0f)<<8 | int(id[1]) + 1
			if 2+n > len(id) {
				return nil, h.f.fail(at, "tiny heap object longer than its ID")
			}
			return id[2 : 2+n], nil
		}
		if 1+n > len(id) {
			return nil, h.f.fail(at, "tiny heap object longer than its ID")
		}
		return id[1 : 1+n], nil
	}
	return nil, h.f.fail(at, "heap ID of unknown type")
}

// uintNAny reads a little-endian unsigned integer of n bytes (n <= 8).
func uintNAny(b []byte, n int) uint64 {
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func (h *fheap) huge(addr, n uint64, at int64) ([]byte, error) {
	if n > maxAttrData {
		return nil, h.f.fail(at, "huge heap object of %d bytes", n)
	}
	a := h.f.addr(addr)
	if a < 0 {
		return nil, h.f.fail(at, "huge heap object outside the file")
	}
	return h.f.read(a, int64(n))
}

// hugeByKey finds a huge object through the heap's v2 B-tree of huge
// objects (record type 1: address, length, ID).
func (h *fheap) hugeByKey(key uint64, at int64) ([]byte, error) {
	if undefined(h.hugeBT, h.f.so) {
		return nil, h.f.fail(at, "huge heap object without a huge object index")
	}
	var found []byte
	var ferr error
	err := h.f.btree2(h.hugeBT, 1, func(rec []byte, recAt int64) error {
		if len(rec) < h.f.so+2*h.f.sl {
			return h.f.fail(recAt, "huge object record too short")
		}
		if uintNAny(rec[h.f.so+h.f.sl:], h.f.sl) == key && found == nil && ferr == nil {
			found, ferr = h.huge(uintN(rec, h.f.so), uintN(rec[h.f.so:], h.f.sl), recAt)
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case ferr != nil:
		return nil, ferr
	case found == nil:
		return nil, h.f.fail(at, "huge heap object %d is not in the index", key)
	}
	return found, nil
}

// managed returns n bytes at heap offset off: the doubling table maps it
// to a direct block, through indirect blocks from the root.
func (h *fheap) managed(off, n uint64, at int64) ([]byte, error) {
	if n > maxAttrData {
		return nil, h.f.fail(at, "heap object of %d bytes", n)
	}
	addr, size, base, err := h.locate(off, at)
	if err != nil {
		return nil, err
	}
	blk, err := h.direct(addr, size, base)
	if err != nil {
		return nil, err
	}
	rel := off - base
	if rel+n > uint64(len(blk)) || rel+n < rel {
		return nil, h.f.fail(at, "heap object of %d bytes at %d runs past its block", n, off)
	}
	return blk[rel : rel+n], nil
}

// locate finds the direct block holding heap offset off: its address,
// size and heap offset. The root indirect block's rows hold blocks of
// the starting size (rows 0 and 1), then doubling sizes; the first rows
// are direct blocks, the rest indirect blocks of the same span.
func (h *fheap) locate(off uint64, at int64) (addr, size, base uint64, err error) {
	if undefined(h.root, h.f.so) {
		return 0, 0, 0, h.f.fail(at, "heap object in an empty heap")
	}
	if h.rootRows == 0 {
		if off >= h.start {
			return 0, 0, 0, h.f.fail(at, "heap offset %d is beyond the heap", off)
		}
		return h.root, h.start, 0, nil
	}
	iblock, rows, base := h.root, h.rootRows, uint64(0)
	for depth := 0; depth < maxHeapDepth; depth++ {
		b, err := h.indirect(iblock, rows)
		if err != nil {
			return 0, 0, 0, err
		}
		direct := min(rows, h.maxDirectRows)
		rowBase, found := base, false
		for r := 0; r < rows && !found; r++ {
			bs := h.rowSize(r)
			span := bs * h.width
			if off >= rowBase+span || bs == 0 || span/h.width != bs {
				rowBase += span
				continue
			}
			col := (off - rowBase) / bs
			slot := r*int(h.width) + int(col)
			child, ok := h.f.addrAt(b[5+h.f.so+h.offBytes+slot*h.f.so:])
			if !ok {
				return 0, 0, 0, h.f.fail(at, "heap offset %d is in a block never allocated", off)
			}
			if r < direct {
				return child, bs, rowBase + col*bs, nil
			}
			iblock, base, found = child, rowBase+col*bs, true
			rows = (bits.Len64(bs) - 1) - (bits.Len64(h.start*h.width) - 1) + 1
		}
		if !found {
			return 0, 0, 0, h.f.fail(at, "heap offset %d is beyond the heap", off)
		}
	}
	return 0, 0, 0, h.f.fail(at, "fractal heap nested deeper than %d", maxHeapDepth)
}

// indirect reads and checks an indirect block of the given rows.
func (h *fheap) indirect(addr uint64, rows int) ([]byte, error) {
	if h.nodes++; h.nodes > maxBTreeNodes {
		return nil, h.f.fail(h.at, "more than %d heap blocks", maxBTreeNodes)
	}
	if rows < 1 || rows > 64 || uint64(rows)*h.width > maxIndirectEntry {
		return nil, h.f.fail(h.at, "indirect heap block of %d rows", rows)
	}
	a := h.f.addr(addr)
	if a < 0 {
		return nil, h.f.fail(h.at, "indirect heap block outside the file")
	}
	n := int64(5+h.f.so+h.offBytes) + int64(rows)*int64(h.width)*int64(h.f.so) + 4
	b, err := h.f.read(a, n)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(b[:4], []byte("FHIB")) || b[4] != 0 {
		return nil, h.f.fail(a, "no indirect heap block at %d", a)
	}
	if !checksumOK(b) {
		return nil, h.f.fail(a, "indirect heap block checksum mismatch")
	}
	return b, nil
}

// direct reads and checks a direct block.
func (h *fheap) direct(addr, size, base uint64) ([]byte, error) {
	if h.nodes++; h.nodes > maxBTreeNodes {
		return nil, h.f.fail(h.at, "more than %d heap blocks", maxBTreeNodes)
	}
	a := h.f.addr(addr)
	if a < 0 || size > maxDirectBlock {
		return nil, h.f.fail(h.at, "direct heap block outside the file")
	}
	b, err := h.f.read(a, int64(size))
	if err != nil {
		return nil, err
	}
	hdr := 5 + h.f.so + h.offBytes
	if len(b) < hdr+4 || !bytes.Equal(b[:4], []byte("FHDB")) || b[4] != 0 {
		return nil, h.f.fail(a, "no direct heap block at %d", a)
	}
	if uintNAny(b[5+h.f.so:], h.offBytes) != base {
		return nil, h.f.fail(a, "direct heap block says it is at heap offset %d, not %d", uintNAny(b[5+h.f.so:], h.offBytes), base)
	}
	if h.flags&2 != 0 {
		// The checksum covers the whole block with its own field zeroed.
		c := bytes.Clone(b)
		stored := binary.LittleEndian.Uint32(c[hdr:])
		binary.LittleEndian.PutUint32(c[hdr:], 0)
		if lookup3(c, 0) != stored {
			return nil, h.f.fail(a, "direct heap block checksum mismatch")
		}
	}
	return b, nil
}

// btree2 walks the v2 B-tree at addr, of record type typ, and calls fn
// for every record in order.
func (f *file) btree2(addr uint64, typ byte, fn func(rec []byte, at int64) error) error {
	a := f.addr(addr)
	if a < 0 {
		return f.fail(0, "B-tree header outside the file")
	}
	n := int64(4+1+1+4+2+2+1+1) + int64(f.so) + 2 + int64(f.sl) + 4
	b, err := f.read(a, n)
	if err != nil {
		return err
	}
	if !bytes.Equal(b[:4], []byte("BTHD")) || b[4] != 0 {
		return f.fail(a, "no v2 B-tree header at %d", a)
	}
	if !checksumOK(b) {
		return f.fail(a, "v2 B-tree header checksum mismatch")
	}
	if b[5] != typ {
		return f.fail(a, "v2 B-tree of record type %d, expected %d", b[5], typ)
	}
	t := &btree{f: f, typ: typ, fn: fn}
	t.nodeSize = int64(binary.LittleEndian.Uint32(b[6:]))
	t.recSize = int(binary.LittleEndian.Uint16(b[10:]))
	depth := int(binary.LittleEndian.Uint16(b[12:]))
	root := uintN(b[16:], f.so)
	rootRecs := int(binary.LittleEndian.Uint16(b[16+f.so:]))
	if t.nodeSize < 16 || t.nodeSize > maxHeaderBlock || t.recSize < 1 || int64(t.recSize) > t.nodeSize || depth > maxBTreeDepth {
		return f.fail(a, "v2 B-tree of %d-byte nodes, %d-byte records and depth %d", t.nodeSize, t.recSize, depth)
	}
	if undefined(root, f.so) {
		return nil // empty
	}
	t.layout(depth)
	return t.node(root, depth, rootRecs)
}

type btree struct {
	f        *file
	typ      byte
	fn       func([]byte, int64) error
	nodeSize int64
	recSize  int
	nodes    int
	// per depth: how many bytes encode a child's record count and, for
	// depth > 1, its total record count (H5B2hdr.c's node_info).
	nrecSize int
	cumSize  []int
	maxRecs  []uint64
}

// encSize is H5VM_limit_enc_size: bytes to encode values up to n.
func encSize(n uint64) int { return (bits.Len64(n)-1)/8 + 1 }

func (t *btree) layout(depth int) {
	const prefix = 10 // signature, version, type, checksum
	t.maxRecs = make([]uint64, depth+1)
	t.cumSize = make([]int, depth+1)
	cum := make([]uint64, depth+1)
	t.maxRecs[0] = uint64((t.nodeSize - prefix) / int64(t.recSize))
	cum[0] = t.maxRecs[0]
	t.nrecSize = encSize(max(t.maxRecs[0], 1))
	t.cumSize[0] = t.nrecSize
	for d := 1; d <= depth; d++ {
		ptr := int64(t.f.so + t.nrecSize)
		if d > 1 {
			ptr += int64(t.cumSize[d-1])
		}
		if t.nodeSize > prefix+ptr {
			t.maxRecs[d] = uint64((t.nodeSize - (prefix + ptr)) / (int64(t.recSize) + ptr))
		}
		cum[d] = (t.maxRecs[d]+1)*cum[d-1] + t.maxRecs[d]
		if cum[d] < cum[d-1] { // overflow: no such tree fits in memory anyway
			cum[d] = ^uint64(0) >> 1
		}
		t.cumSize[d] = encSize(max(cum[d], 1))
	}
}

func (t *btree) node(addr uint64, depth, nrec int) error {
	f := t.f
	if t.nodes++; t.nodes > maxBTreeNodes {
		return f.fail(0, "more than %d v2 B-tree nodes", maxBTreeNodes)
	}
	a := f.addr(addr)
	if a < 0 {
		return f.fail(0, "v2 B-tree node outside the file")
	}
	if nrec < 0 || uint64(nrec) > t.maxRecs[depth] {
		return f.fail(a, "v2 B-tree node of %d records", nrec)
	}
	sig := "BTLF"
	ptr := 0
	if depth > 0 {
		sig = "BTIN"
		ptr = f.so + t.nrecSize
		if depth > 1 {
			ptr += t.cumSize[depth-1]
		}
	}
	n := int64(6) + int64(nrec)*int64(t.recSize) + int64(nrec+1)*int64(ptr)*boolInt(depth > 0) + 4
	b, err := f.read(a, n)
	if err != nil {
		return err
	}
	if string(b[:4]) != sig || b[4] != 0 || b[5] != t.typ {
		return f.fail(a, "no v2 B-tree node (%s) at %d", sig, a)
	}
	if !checksumOK(b) {
		return f.fail(a, "v2 B-tree node checksum mismatch")
	}
	recs := b[6 : 6+nrec*t.recSize]
	ptrs := b[6+nrec*t.recSize:]
	child := func(i int) error {
		p := ptrs[i*ptr:]
		return t.node(uintN(p, f.so), depth-1, int(uintNAny(p[f.so:], t.nrecSize)))
	}
	for i := 0; i < nrec; i++ {
		if depth > 0 {
			if err := child(i); err != nil {
				return err
			}
		}
		if err := t.fn(recs[i*t.recSize:(i+1)*t.recSize], a+6+int64(i*t.recSize)); err != nil {
			return err
		}
	}
	if depth > 0 {
		return child(nrec)
	}
	return nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// dense reads the attributes of the attribute info message's heap and
// name index (record type 8: heap ID, message flags, creation order,
// name hash).
func (f *file) dense(heapAddr, nameAddr uint64, at int64) error {
	ha := f.addr(heapAddr)
	if ha < 0 {
		return f.fail(at, "attribute heap outside the file")
	}
	h, err := f.readHeap(ha)
	if err != nil {
		if u, ok := err.(unsupportedError); ok {
			f.root.Unread = append(f.root.Unread, u.Error())
			return nil
		}
		return err
	}
	const recSize = 8 + 1 + 4 + 4
	return f.btree2(nameAddr, 8, func(rec []byte, recAt int64) error {
		if len(rec) != recSize || h.idLen != 8 {
			return f.fail(recAt, "attribute name record of %d bytes for heap IDs of %d", len(rec), h.idLen)
		}
		if len(f.root.Attributes) >= maxMessages {
			return f.fail(recAt, "more than %d attributes", maxMessages)
		}
		if rec[8]&0x02 != 0 {
			f.root.Unread = append(f.root.Unread, "a shared attribute message")
			return nil
		}
		msg, err := h.object(rec[:8], recAt)
		if err != nil {
			if u, ok := err.(unsupportedError); ok {
				f.root.Unread = append(f.root.Unread, u.Error())
				return nil
			}
			return err
		}
		a, err := f.attribute(msg, recAt)
		if err != nil {
			return err
		}
		a.HashMismatch = lookup3([]byte(a.Name), 0) != binary.LittleEndian.Uint32(rec[13:])
		f.root.Attributes = append(f.root.Attributes, a)
		return nil
	})
}
