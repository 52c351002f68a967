package testutil

import (
	"encoding/binary"
	"sort"

	"github.com/aigis-dev/aigis/internal/decode/hdf5"
)

// HDF5Dense assembles an HDF5 file (superblock 2, version-2 root object
// header) whose root group keeps these attributes in dense storage, as
// HDF5 does beyond 8 attributes with libver="latest": attribute messages
// (version 3, fixed-length strings) in a fractal heap, found through a
// v2 B-tree name index. Messages over 4 KiB are huge objects, indexed by
// the heap's own v2 B-tree; the rest share one root direct block. Shadow
// attributes are left as messages in the header, where HDF5 ignores them.
// Every checksum is computed as HDF5 does; Corrupt, when set, is applied
// to the finished file.
type HDF5DenseFile struct {
	Attrs, Shadow []HDF5Attr
	Corrupt       func(b []byte, layout HDF5DenseLayout)
}

// HDF5DenseLayout says where the builder put things, for Corrupt.
type HDF5DenseLayout struct {
	Heap, DirectBlock, NameIndex, NameLeaf, HugeIndex int
}

// HDF5Dense builds the file (see HDF5DenseFile).
func HDF5Dense(d HDF5DenseFile) []byte {
	le := binary.LittleEndian
	const (
		maxMan   = 4096
		heapBits = 40
		offBytes = 5
		undef    = ^uint64(0)
	)
	attrMsg := func(a HDF5Attr) []byte {
		m := []byte{3, 0}
		m = le.AppendUint16(m, uint16(len(a.Name)+1))
		m = le.AppendUint16(m, 8)
		m = le.AppendUint16(m, 4)
		m = append(m, 1) // UTF-8 names
		m = append(m, a.Name...)
		m = append(m, 0)
		m = append(m, 0x13, 0, 0, 0)
		m = le.AppendUint32(m, uint32(len(a.Value)))
		m = append(m, 2, 0, 0, 0) // scalar dataspace
		return append(m, a.Value...)
	}
	var b []byte
	put := func(x []byte) int { at := len(b); b = append(b, x...); return at }
	sum := func(at int) { b = le.AppendUint32(b, hdf5.Checksum(b[at:])) }

	// Superblock 2, patched at the end.
	put([]byte("\x89HDF\r\n\x1a\n"))
	put([]byte{2, 8, 8, 0})
	put(make([]byte, 32+4))
	lay := HDF5DenseLayout{}

	// Split the messages into managed (one direct block) and huge.
	type obj struct {
		name string
		msg  []byte
		id   []byte
	}
	objs := make([]*obj, len(d.Attrs))
	blockHdr := 4 + 1 + 8 + offBytes + 4
	used := blockHdr
	for i, a := range d.Attrs {
		objs[i] = &obj{name: a.Name, msg: attrMsg(a)}
		if len(objs[i].msg) <= maxMan {
			used += len(objs[i].msg)
		}
	}
	block := 512
	for block < used {
		block *= 2
	}
	lenBytes := min((bitLen(uint64(block))-1+7)/8, (bitLen(maxMan)-1)/8+1)

	// Huge objects: raw bytes, then their index (record type 1).
	var huge []*obj
	for _, o := range objs {
		if len(o.msg) > maxMan {
			huge = append(huge, o)
		}
	}
	hugeBT := undef
	if len(huge) > 0 {
		type rec struct{ addr, n, id uint64 }
		var recs []rec
		for i, o := range huge {
			at := put(o.msg)
			id := uint64(i + 1)
			recs = append(recs, rec{uint64(at), uint64(len(o.msg)), id})
			o.id = append([]byte{0x10}, le.AppendUint64(nil, id)[:7]...)
		}
		leaf := put([]byte("BTLF\x00\x01"))
		for _, r := range recs {
			b = le.AppendUint64(b, r.addr)
			b = le.AppendUint64(b, r.n)
			b = le.AppendUint64(b, r.id)
		}
		sum(leaf)
		put(make([]byte, 512-(len(b)-leaf))) // nodes take their full size
		hugeBT = uint64(len(b))
		lay.HugeIndex = len(b)
		h := put([]byte("BTHD\x00\x01"))
		b = le.AppendUint32(b, 512)
		b = le.AppendUint16(b, 24)
		b = le.AppendUint16(b, 0)
		b = append(b, 100, 40)
		b = le.AppendUint64(b, uint64(leaf))
		b = le.AppendUint16(b, uint16(len(recs)))
		b = le.AppendUint64(b, uint64(len(recs)))
		sum(h)
	}

	// The fractal heap header, then its one direct block.
	heap := len(b)
	lay.Heap = heap
	dblock := heap + 4 + 1 + 2 + 2 + 1 + 4 + 8 + 8 + 8 + 8 + 8*8 + 2 + 8 + 8 + 2 + 2 + 8 + 2 + 4
	put([]byte("FRHP\x00"))
	b = le.AppendUint16(b, 8)
	b = le.AppendUint16(b, 0)
	b = append(b, 0x02) // direct blocks are checksummed
	b = le.AppendUint32(b, maxMan)
	b = le.AppendUint64(b, uint64(len(huge)+1))
	b = le.AppendUint64(b, hugeBT)
	b = le.AppendUint64(b, uint64(block-used))
	b = le.AppendUint64(b, undef)
	b = le.AppendUint64(b, uint64(block))
	b = le.AppendUint64(b, uint64(block))
	b = le.AppendUint64(b, uint64(block))
	b = le.AppendUint64(b, uint64(len(objs)-len(huge)))
	b = le.AppendUint64(b, 0)
	b = le.AppendUint64(b, uint64(len(huge)))
	b = le.AppendUint64(b, 0)
	b = le.AppendUint64(b, 0)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint64(b, uint64(block))
	b = le.AppendUint64(b, uint64(block))
	b = le.AppendUint16(b, heapBits)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint64(b, uint64(dblock))
	b = le.AppendUint16(b, 0) // the root is a direct block
	sum(heap)
	lay.DirectBlock = put([]byte("FHDB\x00"))
	b = le.AppendUint64(b, uint64(heap))
	b = append(b, 0, 0, 0, 0, 0) // block offset 0
	put([]byte{0, 0, 0, 0})      // checksum, patched
	off := blockHdr
	for _, o := range objs {
		if o.id != nil {
			continue
		}
		put(o.msg)
		id := []byte{0}
		id = append(id, le.AppendUint64(nil, uint64(off))[:offBytes]...)
		id = append(id, le.AppendUint64(nil, uint64(len(o.msg)))[:lenBytes]...)
		o.id = id
		off += len(o.msg)
	}
	put(make([]byte, block-(len(b)-lay.DirectBlock)))
	le.PutUint32(b[lay.DirectBlock+blockHdr-4:], hdf5.Checksum(b[lay.DirectBlock:lay.DirectBlock+block]))

	// The name index: one leaf of (heap ID, flags, creation order, hash),
	// in hash order.
	sort.SliceStable(objs, func(i, j int) bool {
		return hdf5.Checksum([]byte(objs[i].name)) < hdf5.Checksum([]byte(objs[j].name))
	})
	if len(objs) > (512-10)/17 {
		panic("testutil.HDF5Dense: more attributes than one B-tree leaf holds")
	}
	lay.NameLeaf = put([]byte("BTLF\x00\x08"))
	for i, o := range objs {
		b = append(b, o.id...)
		b = append(b, 0)
		b = le.AppendUint32(b, uint32(i))
		b = le.AppendUint32(b, hdf5.Checksum([]byte(o.name)))
	}
	sum(lay.NameLeaf)
	put(make([]byte, 512-(len(b)-lay.NameLeaf)))
	lay.NameIndex = put([]byte("BTHD\x00\x08"))
	b = le.AppendUint32(b, 512)
	b = le.AppendUint16(b, 17)
	b = le.AppendUint16(b, 0)
	b = append(b, 100, 40)
	b = le.AppendUint64(b, uint64(lay.NameLeaf))
	b = le.AppendUint16(b, uint16(len(objs)))
	b = le.AppendUint64(b, uint64(len(objs)))
	sum(lay.NameIndex)

	// The root object header: attribute info, then any shadow messages.
	var msgs []byte
	ainfo := []byte{0, 0}
	ainfo = le.AppendUint64(ainfo, uint64(heap))
	ainfo = le.AppendUint64(ainfo, uint64(lay.NameIndex))
	msg := func(typ byte, body []byte) {
		msgs = append(msgs, typ)
		msgs = le.AppendUint16(msgs, uint16(len(body)))
		msgs = append(msgs, 0)
		msgs = append(msgs, body...)
	}
	// A group: link info (compact, no links) and group info.
	msg(0x02, append(append([]byte{0, 0}, le.AppendUint64(nil, undef)...), le.AppendUint64(nil, undef)...))
	msg(0x0a, []byte{0, 0})
	msg(0x15, ainfo)
	for _, a := range d.Shadow {
		msg(0x0c, attrMsg(a))
	}
	root := put([]byte("OHDR\x02\x02"))
	b = le.AppendUint32(b, uint32(len(msgs)))
	b = append(b, msgs...)
	sum(root)

	// The superblock: base 0, no extension, end of file, root header.
	le.PutUint64(b[12:], 0)
	le.PutUint64(b[20:], undef)
	le.PutUint64(b[28:], uint64(len(b)))
	le.PutUint64(b[36:], uint64(root))
	le.PutUint32(b[44:], hdf5.Checksum(b[:44]))
	if d.Corrupt != nil {
		d.Corrupt(b, lay)
	}
	return b
}

func bitLen(v uint64) int {
	n := 0
	for ; v != 0; v >>= 1 {
		n++
	}
	return n
}
