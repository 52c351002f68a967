package osvdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"runtime/debug"
)

// ErrCorrupt is wrapped by every error about a database file that is
// truncated, damaged or not laid out as bbolt writes it.
var ErrCorrupt = errors.New("the vulnerability database is corrupt or truncated")

// bbolt reads pages through a memory map and trusts every page id, offset
// and length it finds: a truncated or damaged file makes it fault or panic
// ("Page expected to be ..."). checkFile walks, with bounds-checked reads
// of its own, every page that a read-only transaction can reach and
// rejects the file before bbolt touches anything but the meta pages.
// After it passes, every branch, leaf, key, value and inline bucket that
// Get, Bucket and a cursor dereference lies inside the file.
//
// The layout mirrors go.etcd.io/bbolt/internal/common (format version 2,
// native byte order).
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16 // id u64, flags u16, count u16, overflow u32
	elemSize         = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	metaChecksumAt   = 56 // the checksum covers the meta's first 56 bytes
	metaSize         = 64
	bucketHeaderSize = 16 // root pgid u64, sequence u64
	pageBranch       = 0x01
	pageLeaf         = 0x02
	leafBucket       = 0x01
	noFreelist       = ^uint64(0)
	minPageSize      = 1 << 10
	maxPageSize      = 1 << 24
	maxTreeDepth     = 64 // page levels plus bucket nesting; bbolt trees are a few levels deep
)

var ne = binary.NativeEndian

type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // high water mark: pages [0, pgid) are in use
	txid     uint64
}

// parseMeta decodes the meta at the start of page b and reports whether
// it passes bbolt's own validation (magic, version, checksum).
func parseMeta(b []byte) (boltMeta, bool) {
	if len(b) < pageHeaderSize+metaSize {
		return boltMeta{}, false
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	h := fnv.New64a()
	h.Write(m[:metaChecksumAt])
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion || ne.Uint64(m[metaChecksumAt:]) != h.Sum64() {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}, true
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// checkFile validates the file that bbolt opened with page size ps and
// whose transaction reads meta txid. size is the file's size.
func checkFile(r io.ReaderAt, size int64, ps int, txid uint64) error {
	if ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0 {
		return corrupt("page size %d", ps)
	}
	if size < 2*int64(ps) {
		return corrupt("%d bytes, shorter than the two meta pages", size)
	}
	// The meta bbolt uses: the valid one with the highest txid.
	var meta boltMeta
	found := false
	for i := range 2 {
		b := make([]byte, pageHeaderSize+metaSize)
		if _, err := r.ReadAt(b, int64(i)*int64(ps)); err != nil {
			return corrupt("meta page %d: %v", i, err)
		}
		if m, ok := parseMeta(b); ok && (!found || m.txid > meta.txid) {
			meta, found = m, true
		}
	}
	switch {
	case !found:
		return corrupt("no valid meta page")
	case meta.txid != txid:
		return corrupt("meta pages disagree with the database library (txid %d, want %d)", meta.txid, txid)
	case int(meta.pageSize) != ps:
		return corrupt("meta page size %d, file opened with %d", meta.pageSize, ps)
	case meta.pgid < 3 || meta.pgid > uint64(size)/uint64(ps):
		return corrupt("the file holds %d whole pages of %d bytes but its meta says %d: truncated", uint64(size)/uint64(ps), ps, meta.pgid)
	case meta.root < 2 || meta.root >= meta.pgid:
		return corrupt("root page %d outside [2, %d)", meta.root, meta.pgid)
	case meta.freelist != noFreelist && (meta.freelist < 2 || meta.freelist >= meta.pgid):
		return corrupt("freelist page %d outside [2, %d)", meta.freelist, meta.pgid)
	}
	c := &checker{r: r, ps: uint64(ps), hwm: meta.pgid, seen: make([]uint64, (meta.pgid+63)/64)}
	return c.page(meta.root, nil, nil, 0)
}

type checker struct {
	r    io.ReaderAt
	ps   uint64
	hwm  uint64
	seen []uint64 // bitmap of pages already reached: a page reached twice is a cycle or a shared subtree
}

// page checks the page id and its subtree; every key in it must lie in
// [lo, hi) (nil: unbounded).
func (c *checker) page(id uint64, lo, hi []byte, depth int) error {
	if depth > maxTreeDepth {
		return corrupt("tree deeper than %d levels at page %d", maxTreeDepth, id)
	}
	if id < 2 || id >= c.hwm {
		return corrupt("page %d outside [2, %d)", id, c.hwm)
	}
	// The first page holds the header and the element array; keys and
	// values may run on into the overflow pages, which are read only
	// where a key or a bucket header lies (not a large value's bytes).
	buf := make([]byte, c.ps)
	if _, err := c.r.ReadAt(buf, int64(id*c.ps)); err != nil {
		return corrupt("page %d: %v", id, err)
	}
	overflow := uint64(ne.Uint32(buf[12:]))
	switch {
	case ne.Uint64(buf[0:]) != id:
		return corrupt("page %d identifies as %d", id, ne.Uint64(buf[0:]))
	case overflow >= c.hwm-id:
		return corrupt("page %d: %d overflow pages run past page %d", id, overflow, c.hwm)
	}
	for p := id; p <= id+overflow; p++ {
		if c.seen[p/64]&(1<<(p%64)) != 0 {
			return corrupt("page %d reached twice", p)
		}
		c.seen[p/64] |= 1 << (p % 64)
	}
	return c.node(span{b: buf, size: (overflow + 1) * c.ps, r: c.r, at: int64(id * c.ps)}, id, lo, hi, depth)
}

// span is a page with its overflow: b holds its first bytes, the rest is
// read from r at offset at on demand. An inline page has it all in b.
type span struct {
	b    []byte
	size uint64
	r    io.ReaderAt
	at   int64
}

// bytes returns n bytes at off, which the caller has bounded by size.
func (s span) bytes(off, n uint64) ([]byte, error) {
	if off+n <= uint64(len(s.b)) {
		return s.b[off : off+n], nil
	}
	out := make([]byte, n)
	if _, err := s.r.ReadAt(out, s.at+int64(off)); err != nil {
		return nil, err
	}
	return out, nil
}

// node checks one branch or leaf page: a file page with its overflow, or
// an inline bucket's page inside a value.
func (c *checker) node(s span, id uint64, lo, hi []byte, depth int) error {
	flags := ne.Uint16(s.b[8:])
	count := uint64(ne.Uint16(s.b[10:]))
	if end := pageHeaderSize + count*elemSize; end > uint64(len(s.b)) {
		// The element array runs on into the overflow (bbolt keeps it
		// in the first page in practice).
		if end > s.size {
			return corrupt("page %d: %d elements do not fit in %d bytes", id, count, s.size)
		}
		var err error
		if s.b, err = s.bytes(0, end); err != nil {
			return corrupt("page %d: %v", id, err)
		}
	}
	b := s.b
	var prev []byte
	// elem returns element i's key and, for a bucket, its value, checking
	// that they lie in the span and that the key follows the previous one
	// inside [lo, hi).
	elem := func(i, pos, ksize, vsize uint64, bucket bool) ([]byte, []byte, error) {
		start := pageHeaderSize + i*elemSize + pos
		if start+ksize+vsize > s.size {
			return nil, nil, corrupt("page %d: element %d ends at %d, past the page's %d bytes", id, i, start+ksize+vsize, s.size)
		}
		n := ksize
		if bucket {
			n += vsize
		}
		kv, err := s.bytes(start, n)
		if err != nil {
			return nil, nil, corrupt("page %d: %v", id, err)
		}
		k := kv[:ksize]
		switch {
		case prev != nil && bytes.Compare(prev, k) >= 0:
			return nil, nil, corrupt("page %d: keys out of order at element %d", id, i)
		case lo != nil && bytes.Compare(k, lo) < 0, hi != nil && bytes.Compare(k, hi) >= 0:
			return nil, nil, corrupt("page %d: element %d outside its parent's key range", id, i)
		}
		prev = k
		return k, kv[ksize:], nil
	}
	switch flags {
	case pageBranch:
		if count == 0 {
			return corrupt("page %d: empty branch", id)
		}
		keys := make([][]byte, count)
		for i := range count {
			at := pageHeaderSize + i*elemSize
			k, _, err := elem(i, uint64(ne.Uint32(b[at:])), uint64(ne.Uint32(b[at+4:])), 0, false)
			if err != nil {
				return err
			}
			keys[i] = k
		}
		for i := range count {
			next := hi
			if i+1 < count {
				next = keys[i+1]
			}
			child := ne.Uint64(b[pageHeaderSize+i*elemSize+8:])
			if err := c.page(child, keys[i], next, depth+1); err != nil {
				return err
			}
		}
	case pageLeaf:
		for i := range count {
			at := pageHeaderSize + i*elemSize
			bucket := ne.Uint32(b[at:])&leafBucket != 0
			k, v, err := elem(i, uint64(ne.Uint32(b[at+4:])), uint64(ne.Uint32(b[at+8:])), uint64(ne.Uint32(b[at+12:])), bucket)
			if err != nil {
				return err
			}
			if !bucket {
				continue
			}
			if len(v) < bucketHeaderSize {
				return corrupt("page %d: bucket %q has a %d-byte header", id, k, len(v))
			}
			if root := ne.Uint64(v); root != 0 {
				if err := c.page(root, nil, nil, depth+1); err != nil {
					return err
				}
				continue
			}
			// An inline bucket: a leaf page inside the value.
			inline := v[bucketHeaderSize:]
			if len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != pageLeaf {
				return corrupt("page %d: inline bucket %q is not a leaf page", id, k)
			}
			if depth+1 > maxTreeDepth {
				return corrupt("buckets nested deeper than %d at page %d", maxTreeDepth, id)
			}
			if err := c.node(span{b: inline, size: uint64(len(inline))}, id, nil, nil, depth+1); err != nil {
				return err
			}
		}
	default:
		return corrupt("page %d: type %#x is neither branch nor leaf", id, flags)
	}
	return nil
}

// guard runs fn, a call into bbolt, turning a panic or a memory fault
// inside it into an ErrCorrupt error: the last line behind checkFile.
func guard(what string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, what, r)
		}
	}()
	return fn()
}
