package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
)

// hit is a file signature found inside tensor bytes (or inside the stream
// of their low bytes, when lsb is set).
type hit struct {
	kind string
	off  int64 // tensor-relative byte offset (element index for lsb)
	lsb  bool
}

// maxHits bounds what one tensor records.
const maxHits = 8

type sig struct {
	kind  string
	magic []byte
	check func(b []byte) bool // b starts at the magic
	// lsb: also searched in the low-byte stream of float32 tensors
	// (executables and containers, the usual payload wrappers).
	lsb bool
}

// signatures are file formats that have no business inside weights. Each
// has a structural check after the magic so that chance matches in
// gigabytes of random mantissas are not reported.
var signatures = []sig{
	{"ELF executable", []byte("\x7fELF"), func(b []byte) bool {
		return len(b) >= 7 && (b[4] == 1 || b[4] == 2) && (b[5] == 1 || b[5] == 2) && b[6] == 1
	}, true},
	{"PE executable", []byte("MZ"), func(b []byte) bool {
		if len(b) < 0x40 {
			return false
		}
		off := int(binary.LittleEndian.Uint32(b[0x3c:]))
		return off >= 0x40 && off+4 <= len(b) && bytes.Equal(b[off:off+4], []byte("PE\x00\x00"))
	}, true},
	{"Mach-O executable", []byte("\xcf\xfa\xed\xfe"), func(b []byte) bool {
		return len(b) >= 8 && b[5] == 0 && b[6] == 0 && (b[4] == 7 || b[4] == 12)
	}, false},
	{"zip archive", []byte("PK\x03\x04"), func(b []byte) bool {
		if len(b) < 30 {
			return false
		}
		method := binary.LittleEndian.Uint16(b[8:])
		nameLen := binary.LittleEndian.Uint16(b[26:])
		return b[4] <= 63 && b[5] == 0 && (method == 0 || method == 8 || method == 12 || method == 14 || method == 93) && nameLen > 0 && nameLen < 1024
	}, true},
	{"gzip stream", []byte("\x1f\x8b\x08"), func(b []byte) bool {
		return len(b) >= 10 && b[3] < 32 && (b[8] == 0 || b[8] == 2 || b[8] == 4) && b[9] <= 13
	}, true},
	{"7z archive", []byte("7z\xbc\xaf\x27\x1c"), func(b []byte) bool { return true }, true},
	{"shell script", []byte("#!/"), func(b []byte) bool {
		return len(b) >= 8 && (bytes.HasPrefix(b[2:], []byte("/bin/")) || bytes.HasPrefix(b[2:], []byte("/usr/")))
	}, false},
}

func init() {
	for v := byte(2); v <= 5; v++ {
		signatures = append(signatures, sig{"pickle", []byte{0x80, v}, isPickle, false})
	}
}

// isPickle accepts a protocol header, an optional FRAME, then an import
// spelled out (GLOBAL, or two short strings and STACK_GLOBAL): how a
// payload pickle starts, and what random bytes practically never spell.
func isPickle(b []byte) bool {
	i := 2
	if i < len(b) && b[i] == 0x95 {
		if i+9 > len(b) || binary.LittleEndian.Uint64(b[i+1:]) > 1<<32 {
			return false
		}
		i += 9
	}
	if i >= len(b) {
		return false
	}
	switch b[i] {
	case 'c':
		j, ok := identLine(b, i+1)
		if !ok {
			return false
		}
		_, ok = identLine(b, j)
		return ok
	case 0x8c:
		for k := 0; k < 2; k++ {
			if i+2 > len(b) || b[i] != 0x8c {
				return false
			}
			n := int(b[i+1])
			if n < 1 || i+2+n > len(b) || !ident(b[i+2:i+2+n]) {
				return false
			}
			i += 2 + n
			if i < len(b) && b[i] == 0x94 { // MEMOIZE
				i++
			}
		}
		return i < len(b) && b[i] == 0x93
	}
	return false
}

func identLine(b []byte, i int) (int, bool) {
	j := bytes.IndexByte(b[i:min(len(b), i+128)], '\n')
	if j < 1 {
		return 0, false
	}
	return i + j + 1, ident(b[i : i+j])
}

func ident(b []byte) bool {
	for k, c := range b {
		if !(c == '_' || c == '.' && k > 0 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && k > 0) {
			return false
		}
	}
	return len(b) > 0
}

// findMagic searches b[:limit] (b may run past limit so that signatures
// straddling a chunk are checked in full).
func findMagic(s *Stats, b []byte, limit int64, base int64, lsb bool) {
	if len(s.hits) >= maxHits {
		return
	}
	for _, sg := range signatures {
		if lsb && !sg.lsb {
			continue
		}
		from := 0
		for from < int(limit) {
			i := bytes.Index(b[from:], sg.magic)
			if i < 0 || int64(from+i) >= limit {
				break
			}
			at := from + i
			from = at + 1
			if sg.check(b[at:]) {
				s.hits = append(s.hits, hit{kind: sg.kind, off: base + int64(at), lsb: lsb})
				if len(s.hits) >= maxHits {
					return
				}
				break // one of each kind per chunk is enough
			}
		}
	}
}

func reportHits(s *Stats, out *analyzer.Result) {
	seen := map[string]bool{}
	for _, h := range s.hits {
		key := fmt.Sprint(h.kind, h.lsb)
		if seen[key] {
			continue
		}
		seen[key] = true
		if h.lsb {
			out.Add(rules.New(rules.WeightsLsbPayload, out.At(s.Tensor.Offset+4*h.off), fmt.Sprintf("tensor %s: the low bytes of float32 elements from element %d onwards spell a %s header", s.Tensor.Name, h.off, h.kind)))
			continue
		}
		out.Add(rules.New(rules.WeightsEmbeddedFile, out.At(s.Tensor.Offset+h.off), fmt.Sprintf("tensor %s: a %s is embedded in the tensor bytes at tensor offset %d", s.Tensor.Name, h.kind, h.off)))
	}
}
