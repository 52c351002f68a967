package weights

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
)

// hit is a file signature found inside tensor bytes, or inside a stream
// re-assembled from the low bytes of consecutive elements (lay.k > 0).
type hit struct {
	kind string
	off  int64 // tensor-relative byte offset (raw), element index (stream)
	lay  layout
}

// maxHits bounds what one tensor records.
const maxHits = 16

// maxProbe is how many bytes of a stream a signature check may look at.
const maxProbe = 1024

type sig struct {
	kind  string
	magic string
	// check confirms the format structurally; b starts at the magic and
	// holds up to maxProbe bytes (fewer at the end of a tensor). A nil
	// check is a script token: at least scriptRun bytes of text follow.
	check func(b []byte) bool
}

// first is how many bytes need looks at.
func (sg *sig) first() int {
	if sg.kind == "PE executable" {
		return 64
	}
	return 16
}

// need is how many bytes of a stream check reads, given its first ones
// (0: no check will pass).
func (sg *sig) need(b []byte) int {
	switch sg.kind {
	case "PE executable":
		return peSize(b)
	case "gzip stream":
		if len(b) >= 10 && b[3] < 32 && (b[8] == 0 || b[8] == 2 || b[8] == 4) && (b[9] <= 13 || b[9] == 255) {
			return maxProbe
		}
		return 0
	case "pickle":
		i := 2
		if len(b) > 11 && b[i] == 0x95 {
			i += 9
		}
		if len(b) > i && (b[i] == 'c' || b[i] == 0x8c) {
			return maxProbe
		}
		return 0
	}
	return 64
}

// peSize reads e_lfanew: the PE header must be within maxProbe bytes.
func peSize(b []byte) int {
	if len(b) < 0x40 {
		return 0
	}
	off := binary.LittleEndian.Uint32(b[0x3c:])
	if off < 0x40 || off > maxProbe-4 {
		return 0
	}
	return int(off) + 4
}

func (sg *sig) confirm(b []byte) bool {
	if len(b) < len(sg.magic) || string(b[:len(sg.magic)]) != sg.magic {
		return false
	}
	if sg.check != nil {
		return sg.check(b)
	}
	rest := b[len(sg.magic):]
	if len(rest) < scriptRun {
		return false
	}
	for _, c := range rest[:scriptRun] {
		if !isText(c) {
			return false
		}
	}
	return true
}

// signatures are file formats that have no business inside weights:
// executables, archives and compressed streams (the usual wrappers of a
// payload), pickles and scripts. Each has a structural check after the
// magic, so that chance matches among the 10^11 byte positions of a
// 100 GB model (raw, and re-assembled several ways) practically never
// pass: every check below leaves a random match probability under 2^-45
// per position.
var signatures = []sig{
	{"ELF executable", "\x7fELF", func(b []byte) bool {
		return len(b) >= 7 && (b[4] == 1 || b[4] == 2) && (b[5] == 1 || b[5] == 2) && b[6] == 1
	}},
	{"PE executable", "MZ", isPE},
	{"Mach-O executable", "\xcf\xfa\xed\xfe", isMachO},
	{"Mach-O executable", "\xce\xfa\xed\xfe", isMachO},
	{"fat Mach-O executable or Java class", "\xca\xfe\xba\xbe", isCafe},
	{"zip archive", "PK\x03\x04", isZip},
	{"gzip stream", "\x1f\x8b\x08", isGzip},
	{"7z archive", "7z\xbc\xaf\x27\x1c", func(b []byte) bool { return len(b) >= 8 && b[6] == 0 && b[7] <= 4 }},
	{"xz stream", "\xfd7zXZ\x00", func(b []byte) bool {
		return len(b) >= 8 && b[6] == 0 && (b[7] == 0 || b[7] == 1 || b[7] == 4 || b[7] == 10)
	}},
	{"bzip2 stream", "BZh", func(b []byte) bool {
		return len(b) >= 10 && b[3] >= '1' && b[3] <= '9' && (string(b[4:10]) == "1AY&SY" || string(b[4:10]) == "\x17\x72\x45\x38\x50\x90")
	}},
	{"RAR archive", "Rar!\x1a\x07", func(b []byte) bool { return len(b) >= 8 && (b[6] == 0 || b[6] == 1 && b[7] == 0) }},
	{"shell script", "#!/", func(b []byte) bool {
		return len(b) >= 8 && (bytes.HasPrefix(b[2:], []byte("/bin/")) || bytes.HasPrefix(b[2:], []byte("/usr/")))
	}},
	{"pickle", "\x80\x02", isPickle},
	{"pickle", "\x80\x03", isPickle},
	{"pickle", "\x80\x04", isPickle},
	{"pickle", "\x80\x05", isPickle},
	// Scripts: a telling token followed by at least scriptRun bytes of
	// text. Any occurrence counts, not only the start of a file.
	{"Python script", "import ", nil},
	{"Python script", "from ", nil},
	{"Python script", "exec(", nil},
	{"Python or JavaScript code", "eval(", nil},
	{"JavaScript code", "function", nil},
	{"JavaScript code", "require(", nil},
	{"PowerShell script", "powershell", nil},
	{"PowerShell script", "PowerShell", nil},
	{"PowerShell script", "Invoke-", nil},
	{"PowerShell script", "$env:", nil},
	{"PHP script", "<?php", nil},
	{"HTML script", "<script", nil},
	{"batch script", "@echo off", nil},
	{"shell command", "/bin/sh", nil},
	{"shell command", "/bin/bash", nil},
	{"shell command", "/dev/tcp/", nil},
	{"shell command", "curl ", nil},
	{"shell command", "wget ", nil},
}

// scriptRun is how much text must follow a script token.
const scriptRun = 32

func isText(c byte) bool { return c >= 0x20 && c < 0x7f || c == '\t' || c == '\n' || c == '\r' }

func isPE(b []byte) bool {
	if len(b) < 0x40 {
		return false
	}
	off := int(binary.LittleEndian.Uint32(b[0x3c:]))
	return off >= 0x40 && off+4 <= len(b) && string(b[off:off+4]) == "PE\x00\x00"
}

func isMachO(b []byte) bool {
	return len(b) >= 8 && (b[4] == 7 || b[4] == 12 || b[4] == 18) && b[5] == 0 && b[6] == 0 && (b[7] == 0 || b[7] == 1)
}

// isCafe is a fat Mach-O (a few architectures, the first a known CPU) or a
// Java class file (major version 45 to 80).
func isCafe(b []byte) bool {
	if len(b) < 12 || b[4] != 0 && b[4] != 0xff || b[5] != b[4] || b[6] != 0 {
		return false
	}
	if b[4] == 0 && b[7] >= 1 && b[7] <= 8 {
		return (b[8] == 0 || b[8] == 1) && b[9] == 0 && b[10] == 0 && (b[11] == 7 || b[11] == 12 || b[11] == 18)
	}
	return b[7] >= 45 && b[7] <= 80
}

func isZip(b []byte) bool {
	if len(b) < 30 {
		return false
	}
	method := binary.LittleEndian.Uint16(b[8:])
	nameLen := binary.LittleEndian.Uint16(b[26:])
	return b[4] <= 63 && b[5] == 0 && (method == 0 || method == 8 || method == 12 || method == 14 || method == 93 || method == 99) && nameLen > 0 && nameLen < 1024
}

// isGzip checks the header and then that the deflate data after it
// decodes: random bytes fail within a few symbols.
func isGzip(b []byte) bool {
	if len(b) < 18 || b[3] >= 32 || b[8] != 0 && b[8] != 2 && b[8] != 4 || b[9] > 13 && b[9] != 255 {
		return false
	}
	flags, i := b[3], 10
	if flags&4 != 0 {
		if i+2 > len(b) {
			return false
		}
		i += 2 + int(binary.LittleEndian.Uint16(b[i:]))
	}
	for _, f := range []byte{8, 16} {
		if flags&f != 0 && i < len(b) {
			j := bytes.IndexByte(b[i:], 0)
			if j < 0 {
				return false
			}
			i += j + 1
		}
	}
	if flags&2 != 0 {
		i += 2
	}
	if i >= len(b) {
		return false
	}
	return inflates(b[i:])
}

// inflates is whether deflate data produces 64 bytes, or ends cleanly
// after at least one, without an error.
func inflates(b []byte) bool {
	r := flate.NewReader(bytes.NewReader(b))
	defer r.Close()
	var out [64]byte
	n, err := io.ReadFull(r, out[:])
	return n == len(out) || err == io.ErrUnexpectedEOF && n > 0 && len(b) < maxProbe/2
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
			if n < 2 || i+2+n > len(b) || !ident(b[i+2:i+2+n]) {
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
	if i >= len(b) {
		return 0, false
	}
	j := bytes.IndexByte(b[i:min(len(b), i+128)], '\n')
	if j < 2 {
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

// addHit records h unless the tensor has one of that kind and layout.
func (s *Stats) addHit(h hit) {
	for _, o := range s.hits {
		if o.kind == h.kind && o.lay == h.lay {
			return
		}
	}
	if len(s.hits) < maxHits {
		s.hits = append(s.hits, h)
	}
}

func reportHits(s *Stats, out *analyzer.Result) {
	seen := map[string]bool{}
	for _, h := range s.hits {
		key := fmt.Sprint(h.kind, h.lay)
		if seen[key] {
			continue
		}
		seen[key] = true
		if h.lay.k > 0 {
			es := int64(s.Tensor.DType.Size())
			out.Add(rules.New(rules.WeightsLsbFile, out.At(s.Tensor.Offset+es*h.off), fmt.Sprintf("tensor %s: %s of consecutive %s elements, from element %d onwards, re-assemble into %s", s.Tensor.Name, h.lay.describe(), s.Tensor.DType, h.off, article(h.kind))))
			continue
		}
		out.Add(rules.New(rules.WeightsEmbeddedFile, out.At(s.Tensor.Offset+h.off), fmt.Sprintf("tensor %s: %s is embedded in the tensor bytes at tensor offset %d", s.Tensor.Name, article(h.kind), h.off)))
	}
}

// article puts "a" or "an" before a kind, as it is read out.
func article(kind string) string {
	if strings.HasPrefix(kind, "ELF") || strings.HasPrefix(kind, "HTML") || strings.HasPrefix(kind, "xz") || strings.ContainsRune("aeiouAEIOU", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}
