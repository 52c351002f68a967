// Package hdf5 reads the root group attributes of an HDF5 file: the
// superblock (versions 0 to 3), the root object header (versions 1 and 2,
// with continuation blocks) and its attribute messages, or, when the root
// keeps them in dense storage, the fractal heap and v2 B-tree name index
// they live in (dense.go), with string values read from fixed-length data
// or the global heap.
//
// That subset is all Keras needs (`model_config`, `keras_version` live
// there). Every address, size and count is checked against the file
// before use, and checksums as the HDF5 library checks them; datasets and
// the rest of the group tree are never walked.
package hdf5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Signature starts an HDF5 superblock, at 0 or a power of two from 512.
var Signature = []byte("\x89HDF\r\n\x1a\n")

// Bounds.
const (
	maxMessages     = 1 << 16
	maxContinuation = 1 << 12
	maxAttrData     = 16 << 20
	maxHeaderBlock  = 16 << 20
)

// Attribute is one root attribute. Value is set for string attributes
// (fixed or variable length, scalar or the first element).
type Attribute struct {
	Name     string
	Value    string
	IsString bool
	Off      int64
	// HashMismatch is set for a dense attribute whose name index record
	// holds another name's hash: HDF5 finds it when it lists attributes,
	// not when it opens one by name.
	HashMismatch bool
}

// Root is what Read learns about the root group.
type Root struct {
	// Attributes are those HDF5 reads: from dense storage when the root
	// uses it, otherwise from the object header's messages.
	Attributes []Attribute
	// Dense is set when the root keeps its attributes in dense storage.
	Dense bool
	// Shadowed are attribute messages left in the object header of a root
	// that uses dense storage: HDF5 never reads them.
	Shadowed []Attribute
	// Unread says which attributes this reader could not decode (shared
	// messages, filtered heaps): they exist but were not checked.
	Unread []string
}

// Error is malformed content at Off.
type Error struct {
	Off int64
	Msg string
}

func (e *Error) Error() string { return e.Msg }

type file struct {
	ra    io.ReaderAt
	size  int64
	base  int64
	so    int // size of offsets
	sl    int // size of lengths
	root  Root
	nmsg  int
	ncont int
	// ohdrFlags are the version-2 object header's flags; its continuation
	// blocks (OCHK) share the message layout they imply.
	ohdrFlags byte
	hdrV2     bool
	// ainfo is the attribute info message's dense storage, when defined.
	ainfo *ainfo
}

type ainfo struct {
	heap, name uint64
	at         int64
}

func (f *file) fail(off int64, format string, a ...any) error {
	return &Error{Off: off, Msg: fmt.Sprintf(format, a...)}
}

func (f *file) read(off int64, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > f.size || n > f.size-off {
		return nil, f.fail(off, "reading %d bytes at %d runs past the end of the %d-byte file", n, off, f.size)
	}
	b := make([]byte, n)
	if n == 0 {
		return b, nil
	}
	if k, err := f.ra.ReadAt(b, off); k < len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

func uintN(b []byte, n int) uint64 {
	switch n {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// undefined is the "no address" value.
func undefined(v uint64, n int) bool { return n == 8 && v == ^uint64(0) || n == 4 && v == 0xffffffff }

// FindSignature returns the superblock offset (0, 512, 1024, ...) within
// head, or -1.
func FindSignature(head []byte) int64 {
	for off := 0; off+len(Signature) <= len(head); off = max(512, off*2) {
		if bytes.Equal(head[off:off+len(Signature)], Signature) {
			return int64(off)
		}
	}
	return -1
}

// ReadRoot reads the root group's attributes.
func ReadRoot(ra io.ReaderAt, size int64) (*Root, error) {
	f := &file{ra: ra, size: size}
	var sb int64 = -1
	for off := int64(0); off+8 <= size && off <= 1<<20; off = max(512, off*2) {
		b, err := f.read(off, 8)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(b, Signature) {
			sb = off
			break
		}
	}
	if sb < 0 {
		return nil, f.fail(0, "no HDF5 superblock signature")
	}
	hdr, err := f.read(sb, min(96, size-sb))
	if err != nil {
		return nil, err
	}
	if len(hdr) < 12 {
		return nil, io.ErrUnexpectedEOF
	}
	var rootAddr uint64
	switch v := hdr[8]; v {
	case 0, 1:
		if len(hdr) < 24 {
			return nil, io.ErrUnexpectedEOF
		}
		f.so, f.sl = int(hdr[13]), int(hdr[14])
		p := 24
		if v == 1 {
			p += 4
		}
		if err := f.sizesOK(sb); err != nil {
			return nil, err
		}
		need := p + 4*f.so + 2*f.so
		if len(hdr) < need {
			return nil, io.ErrUnexpectedEOF
		}
		f.base = int64(uintN(hdr[p:], f.so))
		p += 4 * f.so // base, free space, EOF, driver
		rootAddr = uintN(hdr[p+f.so:], f.so)
	case 2, 3:
		f.so, f.sl = int(hdr[9]), int(hdr[10])
		if err := f.sizesOK(sb); err != nil {
			return nil, err
		}
		p := 12
		if len(hdr) < p+4*f.so {
			return nil, io.ErrUnexpectedEOF
		}
		f.base = int64(uintN(hdr[p:], f.so))
		rootAddr = uintN(hdr[p+3*f.so:], f.so)
	default:
		return nil, f.fail(sb+8, "unknown superblock version %d", v)
	}
	if f.base < 0 || f.base > size {
		return nil, f.fail(sb, "base address %d is outside the file", f.base)
	}
	if err := f.objectHeader(f.addr(rootAddr)); err != nil {
		return nil, err
	}
	// With dense storage (version-2 headers only) HDF5 reads attributes
	// from the heap and ignores attribute messages in the header.
	if f.ainfo != nil && f.hdrV2 {
		f.root.Shadowed, f.root.Attributes = f.root.Attributes, nil
		f.root.Dense = true
		if err := f.dense(f.ainfo.heap, f.ainfo.name, f.ainfo.at); err != nil {
			return nil, err
		}
	}
	return &f.root, nil
}

func (f *file) sizesOK(sb int64) error {
	if (f.so != 4 && f.so != 8) || (f.sl != 4 && f.sl != 8) {
		return f.fail(sb+13, "unsupported offset/length sizes %d/%d", f.so, f.sl)
	}
	return nil
}

func (f *file) addr(a uint64) int64 {
	if a > uint64(f.size) {
		return -1
	}
	return f.base + int64(a)
}

func (f *file) objectHeader(at int64) error {
	if at < 0 || at+16 > f.size {
		return f.fail(at, "root object header address is outside the file")
	}
	b, err := f.read(at, 16)
	if err != nil {
		return err
	}
	if bytes.Equal(b[:4], []byte("OHDR")) {
		f.hdrV2 = true
		return f.headerV2(at)
	}
	if b[0] != 1 {
		return f.fail(at, "unknown object header version %d", b[0])
	}
	n := int(binary.LittleEndian.Uint16(b[2:]))
	size := int64(binary.LittleEndian.Uint32(b[8:]))
	if n > maxMessages {
		return f.fail(at, "object header declares %d messages", n)
	}
	return f.messagesV1(at+16, size)
}

// messagesV1 walks a block of version-1 messages (8-byte aligned).
func (f *file) messagesV1(at, size int64) error {
	if size > maxHeaderBlock {
		return f.fail(at, "object header block of %d bytes", size)
	}
	blk, err := f.read(at, size)
	if err != nil {
		return err
	}
	for p := 0; p+8 <= len(blk); {
		typ := binary.LittleEndian.Uint16(blk[p:])
		n := int(binary.LittleEndian.Uint16(blk[p+2:]))
		p += 8
		if p+n > len(blk) {
			return f.fail(at+int64(p), "header message of %d bytes runs past its block", n)
		}
		if err := f.message(typ, blk[p:p+n], at+int64(p)); err != nil {
			return err
		}
		p += n
	}
	return nil
}

// headerV2 walks a version-2 object header and its OCHK continuations.
func (f *file) headerV2(at int64) error {
	b, err := f.read(at, min(64, f.size-at))
	if err != nil {
		return err
	}
	if len(b) < 7 || b[4] != 2 {
		return f.fail(at, "unknown OHDR version")
	}
	flags := b[5]
	p := 6
	if flags&0x20 != 0 {
		p += 16
	}
	if flags&0x10 != 0 {
		p += 4
	}
	w := 1 << (flags & 3)
	if p+w > len(b) {
		return io.ErrUnexpectedEOF
	}
	size := int64(uintN(b[p:], w))
	p += w
	f.ohdrFlags = flags
	return f.messagesV2(at+int64(p), size, flags)
}

func (f *file) messagesV2(at, size int64, flags byte) error {
	if size > maxHeaderBlock {
		return f.fail(at, "object header chunk of %d bytes", size)
	}
	blk, err := f.read(at, size)
	if err != nil {
		return err
	}
	hl := 4
	if flags&0x04 != 0 {
		hl = 6
	}
	for p := 0; p+hl <= len(blk); {
		typ := uint16(blk[p])
		n := int(binary.LittleEndian.Uint16(blk[p+1:]))
		p += hl
		if p+n > len(blk) {
			return f.fail(at+int64(p), "header message of %d bytes runs past its chunk", n)
		}
		if err := f.message(typ, blk[p:p+n], at+int64(p)); err != nil {
			return err
		}
		p += n
	}
	return nil
}

// Message types.
const (
	msgAttribute    = 0x0c
	msgContinuation = 0x10
	msgAttrInfo     = 0x15
)

func (f *file) message(typ uint16, b []byte, at int64) error {
	f.nmsg++
	if f.nmsg > maxMessages {
		return f.fail(at, "more than %d header messages", maxMessages)
	}
	switch typ {
	case msgAttribute:
		a, err := f.attribute(b, at)
		if u, ok := err.(unsupportedError); ok {
			f.root.Unread = append(f.root.Unread, u.Error())
			return nil
		}
		if err != nil {
			return err
		}
		f.root.Attributes = append(f.root.Attributes, a)
	case msgContinuation:
		if len(b) < f.so+f.sl {
			return f.fail(at, "short continuation message")
		}
		f.ncont++
		if f.ncont > maxContinuation {
			return f.fail(at, "more than %d continuation blocks", maxContinuation)
		}
		addr := f.addr(uintN(b, f.so))
		n := int64(uintN(b[f.so:], f.sl))
		if addr < 0 || n < 0 || n > f.size {
			return f.fail(at, "continuation block outside the file")
		}
		head, err := f.read(addr, min(4, n))
		if err != nil {
			return err
		}
		if bytes.Equal(head, []byte("OCHK")) {
			return f.messagesV2(addr+4, n-8, f.ohdrFlags)
		}
		return f.messagesV1(addr, n)
	case msgAttrInfo:
		// version, flags, [max creation index], fractal heap address,
		// name index address, [creation order index address]
		p := 2
		if len(b) >= 2 && b[1]&1 != 0 {
			p += 2
		}
		if len(b) < p+2*f.so || b[0] != 0 {
			return f.fail(at, "attribute info message of %d bytes", len(b))
		}
		heap, name := uintN(b[p:], f.so), uintN(b[p+f.so:], f.so)
		if !undefined(heap, f.so) {
			if f.ainfo != nil {
				return f.fail(at, "a second attribute info message")
			}
			f.ainfo = &ainfo{heap: heap, name: name, at: at}
		}
	}
	return nil
}

func pad8(n int) int { return (n + 7) &^ 7 }

// attribute decodes an attribute message (versions 1 to 3).
func (f *file) attribute(b []byte, at int64) (Attribute, error) {
	a := Attribute{Off: at}
	if len(b) < 8 {
		return a, f.fail(at, "short attribute message")
	}
	ver := b[0]
	nameLen := int(binary.LittleEndian.Uint16(b[2:]))
	dtLen := int(binary.LittleEndian.Uint16(b[4:]))
	dsLen := int(binary.LittleEndian.Uint16(b[6:]))
	p := 8
	if ver == 3 {
		p = 9
	}
	align := func(n int) int { return n }
	if ver == 1 {
		align = pad8
	} else if ver != 2 && ver != 3 {
		return a, f.fail(at, "unknown attribute message version %d", ver)
	}
	if ver >= 2 && b[1]&3 != 0 {
		return a, errUnsupported("an attribute with a shared datatype or dataspace")
	}
	if p+align(nameLen) > len(b) || nameLen == 0 {
		return a, f.fail(at, "attribute name runs past its message")
	}
	a.Name = string(bytes.TrimRight(b[p:p+nameLen], "\x00"))
	p += align(nameLen)
	if p+align(dtLen)+align(dsLen) > len(b) {
		return a, f.fail(at, "attribute %q: datatype runs past its message", a.Name)
	}
	dt := b[p : p+dtLen]
	p += align(dtLen)
	ds := b[p : p+dsLen]
	p += align(dsLen)
	data := b[p:]
	if len(dt) < 8 {
		return a, f.fail(at, "attribute %q: short datatype", a.Name)
	}
	class := dt[0] & 0x0f
	elemSize := int(binary.LittleEndian.Uint32(dt[4:]))
	n, err := f.elements(ds, at)
	if err != nil || n == 0 {
		return a, err
	}
	switch {
	case class == 3: // fixed-length string
		if elemSize > len(data) {
			return a, f.fail(at, "attribute %q: string data runs past its message", a.Name)
		}
		a.IsString = true
		a.Value = string(bytes.TrimRight(data[:elemSize], "\x00 "))
	case class == 9 && dt[1]&0x0f == 1: // variable-length string
		if len(data) < 4+f.so+4 {
			return a, f.fail(at, "attribute %q: short variable-length reference", a.Name)
		}
		l := int64(binary.LittleEndian.Uint32(data))
		coll := f.addr(uintN(data[4:], f.so))
		idx := binary.LittleEndian.Uint32(data[4+f.so:])
		v, err := f.globalHeap(coll, idx, l)
		if err != nil {
			return a, err
		}
		a.IsString, a.Value = true, v
	}
	return a, nil
}

// elements is the number of elements a dataspace message describes.
func (f *file) elements(ds []byte, at int64) (uint64, error) {
	if len(ds) < 4 {
		return 0, f.fail(at, "short dataspace")
	}
	rank := int(ds[1])
	p := 8
	switch ds[0] {
	case 1:
	case 2:
		p = 4
		if ds[3] == 2 { // null dataspace
			return 0, nil
		}
	default:
		return 0, f.fail(at, "unknown dataspace version %d", ds[0])
	}
	n := uint64(1)
	for i := 0; i < rank; i++ {
		if p+f.sl > len(ds) {
			return 0, f.fail(at, "dataspace runs past its message")
		}
		d := uintN(ds[p:], f.sl)
		if d != 0 && n > (1<<40)/d {
			return 0, f.fail(at, "dataspace too large")
		}
		n *= d
		p += f.sl
	}
	return n, nil
}

// globalHeap returns object idx of the collection at addr.
func (f *file) globalHeap(addr int64, idx uint32, want int64) (string, error) {
	if addr < 0 {
		return "", f.fail(addr, "global heap address outside the file")
	}
	h, err := f.read(addr, 8+int64(f.sl))
	if err != nil {
		return "", err
	}
	if !bytes.Equal(h[:4], []byte("GCOL")) {
		return "", f.fail(addr, "no global heap collection at %d", addr)
	}
	size := int64(uintN(h[8:], f.sl))
	if size > maxAttrData+4096 || size < 16 {
		return "", f.fail(addr, "global heap collection of %d bytes", size)
	}
	coll, err := f.read(addr, min(size, f.size-addr))
	if err != nil {
		return "", err
	}
	p := 8 + f.sl
	for p+8+f.sl <= len(coll) {
		oi := binary.LittleEndian.Uint16(coll[p:])
		osz := int64(uintN(coll[p+8:], f.sl))
		p += 8 + f.sl
		if oi == 0 {
			break
		}
		if osz < 0 || osz > int64(len(coll)-p) {
			return "", f.fail(addr+int64(p), "global heap object of %d bytes runs past its collection", osz)
		}
		if uint32(oi) == idx {
			if want > osz {
				want = osz
			}
			return string(coll[p : p+int(want)]), nil
		}
		p += pad8(int(osz))
	}
	return "", f.fail(addr, "global heap object %d not found", idx)
}

// ErrNotHDF5 is returned for content without a superblock.
var ErrNotHDF5 = errors.New("not an HDF5 file")
