package weights

import (
	"encoding/binary"
	"fmt"
)

// Byte-granular payloads (EvilModel and its variants).
//
// EvilModel writes a file into the low 3 bytes of each float32 (keeping
// the byte with the sign and most of the exponent), its "half
// substitution" into the low 2, other tools into the low byte, and the
// fp16/bf16 variants into the low byte of each 16-bit element. The file
// is then contiguous once the k low bytes of consecutive elements are
// put back together, in the element's little-endian byte order (numpy
// byte views) or big-endian (struct.pack('!f'), EvilModel's own code).
//
// Those streams are never materialised. While a window's elements are
// measured, a few 16-bit keys per element are looked up in one 64 KiB
// table of the first two bytes of every signature (in both orders):
//
//	A = bytes 0,1: the start of a 2- or 3-byte little-endian stream and
//	    (reversed) of a 2-byte big-endian one;
//	B = bytes 1,2: the start of a 3-byte big-endian stream (reversed) and
//	    of a little-endian one that begins at the element's second byte;
//	C = byte 0 of this element and of the next: the low-byte stream;
//
// and, for 16-bit tensors, the raw bytes at even and odd offsets. About
// one group of 8 elements in 50 has a key in the table by chance; only
// those are looked at again (probe), a few bytes of each candidate stream
// assembled and compared with the signatures that start with those two
// bytes, and the structural check run on the rare full match.

// layout is how a payload's bytes sit in consecutive elements: the k low
// bytes of each, least significant first (little-endian) or, when be is
// set, most significant of the k first; skip bytes of the first element
// are left out. k = 0 is the raw tensor bytes.
type layout struct {
	k, skip uint8
	be      bool
}

func (l layout) describe() string {
	what := fmt.Sprintf("the low %d bytes", l.k)
	if l.k == 1 {
		return "the low byte"
	}
	if l.be {
		what += " (most significant first)"
	}
	if l.skip > 0 {
		what += fmt.Sprintf(" (from the element's byte %d)", l.skip)
	}
	return what
}

// pairTab has bit 0 set at the first two bytes of every signature and
// bit 1 at the same two bytes reversed (a byte table: one load per key in
// the hot loop). Keys of streams read in file order (the low-byte stream,
// raw bytes) need bit 0 only.
var pairTab [1 << 16]uint8

// pairSigs numbers, for the first two bytes of a stream, the list in
// sigLists of the signatures that start with them (0: none).
var (
	pairSigs [1 << 16]uint8
	sigLists = [][]int{nil}
)

func init() {
	for i, sg := range signatures {
		a, b := uint16(sg.magic[0]), uint16(sg.magic[1])
		fw, rv := a|b<<8, b|a<<8
		pairTab[fw] |= 1
		pairTab[rv] |= 2
		if pairSigs[fw] == 0 {
			pairSigs[fw] = uint8(len(sigLists))
			sigLists = append(sigLists, nil)
		}
		sigLists[pairSigs[fw]] = append(sigLists[pairSigs[fw]], i)
	}
}

// starts is whether some signature starts with bytes a, b.
func starts(a, b byte) bool { return pairSigs[uint16(a)|uint16(b)<<8] != 0 }

// assemble copies the stream of layout l that starts at element e of b
// (elements of es bytes, little-endian) into dst; it returns the bytes
// written.
func assemble(dst, b []byte, es, e int, l layout) int {
	n, k := 0, int(l.k)
	for p, first := e*es, true; p+es <= len(b) && n < len(dst); p, first = p+es, false {
		for j := 0; j < k && n < len(dst); j++ {
			if first && j < int(l.skip) {
				continue
			}
			idx := j
			if l.be {
				idx = k - 1 - j
			}
			dst[n] = b[p+idx]
			n++
		}
	}
	return n
}

// prober checks candidate elements of one chunk.
type prober struct {
	s    *Stats
	full []byte // the chunk and the bytes after it
	es   int    // element size
	base int64  // element index of full[0] in the tensor
	buf  []byte // maxProbe bytes of scratch
	// checks is how many more full magic matches may be checked in this
	// chunk: chance gives a few hundred per 4 MiB; a tensor crafted to
	// match everywhere would otherwise cost a check per element.
	checks int
}

// maxChecks bounds the structural checks per chunk (about 8 ms of work).
const maxChecks = 8192

// spend takes one check from the budget; false (and the tensor marked as
// not fully checked) when it is exhausted.
func (p *prober) spend() bool {
	if p.checks <= 0 {
		if p.s.unchecked < 0 {
			p.s.unchecked = p.base * int64(p.es)
		}
		return false
	}
	p.checks--
	return true
}

// at is byte j of the stream of layout l that starts at element e (ok
// false past the end of b).
func at(b []byte, es, e int, l layout, j int) (byte, bool) {
	k := int(l.k)
	q := j + int(l.skip)
	el := (e + q/k) * es
	if el+es > len(b) {
		return 0, false
	}
	if l.be {
		return b[el+k-1-q%k], true
	}
	return b[el+q%k], true
}

// tryStream records a hit when the stream of layout l that starts at
// element e spells a signature: the magic is compared byte by byte, and
// only a full match assembles the bytes its check reads.
func (p *prober) tryStream(e int, l layout) {
	b0, _ := at(p.full, p.es, e, l, 0)
	b1, ok := at(p.full, p.es, e, l, 1)
	if !ok {
		return
	}
next:
	for _, i := range sigLists[pairSigs[uint16(b0)|uint16(b1)<<8]] {
		sg := &signatures[i]
		for j := 2; j < len(sg.magic); j++ {
			if c, ok := at(p.full, p.es, e, l, j); !ok || c != sg.magic[j] {
				continue next
			}
		}
		if !p.spend() {
			return
		}
		// A few bytes first: most chance matches of a short magic fail
		// on the next fields.
		head := p.buf[:assemble(p.buf[:sg.first()], p.full, p.es, e, l)]
		need := sg.need(head)
		if need == 0 {
			continue
		}
		if need > len(head) {
			head = p.buf[:assemble(p.buf[:min(need, len(p.buf))], p.full, p.es, e, l)]
		}
		if sg.confirm(head) {
			p.s.addHit(hit{kind: sg.kind, off: p.base + int64(e), lay: l})
			return
		}
	}
}

// tryRaw records a hit when the raw bytes b[at:] spell a signature; off
// is their offset in the tensor.
func (p *prober) tryRaw(b []byte, at int, off int64) {
	if at+2 > len(b) {
		return
	}
	b = b[at:min(len(b), at+maxProbe)]
	for _, i := range sigLists[pairSigs[uint16(b[0])|uint16(b[1])<<8]] {
		sg := &signatures[i]
		if len(b) < len(sg.magic) || string(b[:len(sg.magic)]) != sg.magic {
			continue
		}
		if !p.spend() {
			return
		}
		if sg.confirm(b) {
			p.s.addHit(hit{kind: sg.kind, off: off})
			return
		}
	}
}

// scanRaw looks for signatures starting at every byte offset in
// b[from:to] (b may run on, so that a file starting near to is checked in
// full), 8 offsets per table probe round; base is b's offset in the
// tensor. It is the raw search of float32 windows holding implausible
// values and of tensors of other dtypes: one pass, whatever the number of
// signatures.
func (p *prober) scanRaw(b []byte, from, to int, base int64) {
	to = min(to, len(b))
	tab := &pairTab
	i := from
	for ; i+9 <= len(b) && i+8 <= to && len(p.s.hits) < maxHits; i += 8 {
		w, x := binary.LittleEndian.Uint64(b[i:]), uint64(b[i+8])
		if (tab[uint16(w)]|tab[uint16(w>>8)]|tab[uint16(w>>16)]|tab[uint16(w>>24)]|
			tab[uint16(w>>32)]|tab[uint16(w>>40)]|tab[uint16(w>>48)]|tab[uint16(w>>56|x<<8)])&1 == 0 {
			continue
		}
		for j := i; j < i+8; j++ {
			if tab[uint16(b[j])|uint16(b[j+1])<<8]&1 != 0 {
				p.tryRaw(b, j, base+int64(j))
			}
		}
	}
	for ; i < to && i+1 < len(b); i++ {
		if tab[uint16(b[i])|uint16(b[i+1])<<8]&1 != 0 {
			p.tryRaw(b, i, base+int64(i))
		}
	}
}

// probeF32 looks again at the float32 elements e0..e1-1 of the chunk,
// one of whose keys hit: for each layout, the first two bytes of the
// stream that would start there are compared with the signatures' before
// anything is assembled.
func (p *prober) probeF32(e0, e1 int) {
	nw := len(p.full) / 4
	for e := e0; e < e1 && len(p.s.hits) < maxHits; e++ {
		b := p.full[4*e : 4*e+4]
		if u := binary.LittleEndian.Uint32(b); u&0x7fffffff >= 0x7f800000 || u&0x7fffffff == 0 {
			continue
		}
		if starts(b[0], b[1]) {
			p.tryStream(e, layout{k: 3})
			p.tryStream(e, layout{k: 2})
		}
		if starts(b[1], b[0]) {
			p.tryStream(e, layout{k: 2, be: true})
		}
		if starts(b[2], b[1]) {
			p.tryStream(e, layout{k: 3, be: true})
		}
		if starts(b[1], b[2]) {
			p.tryStream(e, layout{k: 3, skip: 1})
		}
		if e+1 < nw && starts(b[0], p.full[4*e+4]) {
			p.tryStream(e, layout{k: 1})
		}
	}
}

// probe16 looks again at the 16-bit elements e0..e1-1: the low-byte
// stream and the raw bytes.
func (p *prober) probe16(e0, e1 int) {
	nw := len(p.full) / 2
	for e := e0; e < e1 && len(p.s.hits) < maxHits; e++ {
		b := p.full[2*e : 2*e+2]
		if starts(b[0], b[1]) {
			p.tryRaw(p.full, 2*e, (p.base+int64(e))*2)
		}
		if e+1 < nw {
			next := p.full[2*e+2]
			if starts(b[1], next) {
				p.tryRaw(p.full, 2*e+1, (p.base+int64(e))*2+1)
			}
			if starts(b[0], next) {
				p.tryStream(e, layout{k: 1})
			}
		}
	}
}
