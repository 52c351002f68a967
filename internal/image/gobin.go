package image

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
	"runtime/debug"
)

// goBinary is the build information of a Go executable: the toolchain
// and the modules it was linked from.
type goBinary struct {
	path  string
	layer int
	info  *debug.BuildInfo
}

// buildInfoMagic starts the .go.buildinfo section (Go 1.18+ writes the
// version and module strings inline right after its 32-byte header).
var buildInfoMagic = []byte("\xff Go buildinf:")

// findGoBuildInfo searches a stream for the build information header and
// reads what follows it, without buffering the executable: the section
// is found by its magic, 16-byte aligned, and read from a window. It
// reports false for executables that are not Go, or Go before 1.18.
func findGoBuildInfo(r io.Reader) (goBinary, bool) {
	const chunk = 1 << 20
	const overlap = 64 << 10 // a header straddling two chunks is found in the next
	buf := make([]byte, 0, chunk+overlap)
	var base int64 // stream offset of buf[0]
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		done := err != nil
		for i := 0; ; {
			k := bytes.Index(buf[i:], buildInfoMagic)
			if k < 0 {
				break
			}
			at := i + k
			i = at + 1
			if (base+int64(at))%16 != 0 {
				continue
			}
			if len(buf)-at < overlap && !done {
				break // its strings may run past the buffer: read on first
			}
			if gb, ok := parseBuildInfo(buf[at:]); ok {
				return gb, true
			}
		}
		if done {
			return goBinary{}, false
		}
		keep := min(len(buf), overlap)
		base += int64(len(buf) - keep)
		copy(buf, buf[len(buf)-keep:])
		buf = buf[:keep]
	}
}

func parseBuildInfo(b []byte) (goBinary, bool) {
	if len(b) < 32 {
		return goBinary{}, false
	}
	flags := b[15]
	if flags&2 == 0 {
		return goBinary{}, false // pointer format (Go < 1.18): not read
	}
	rest := b[32:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) || n > 1<<20 {
			return "", false
		}
		s := string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
		return s, true
	}
	vers, ok := str()
	if !ok || len(vers) < 3 || vers[:2] != "go" {
		return goBinary{}, false
	}
	mod, ok := str()
	if !ok {
		return goBinary{}, false
	}
	// The module string is framed by 16-byte sentinels.
	if len(mod) >= 33 && mod[len(mod)-17] == '\n' {
		mod = mod[16 : len(mod)-16]
	} else {
		mod = ""
	}
	info, err := debug.ParseBuildInfo(mod)
	if err != nil {
		info = &debug.BuildInfo{}
	}
	info.GoVersion = vers
	return goBinary{info: info}, true
}

// elfBuildInfo reads the .go.buildinfo section of an ELF file with random
// access: a Go executable has it, others do not.
func elfBuildInfo(ra io.ReaderAt) (goBinary, bool) {
	f, err := elf.NewFile(ra)
	if err != nil {
		return goBinary{}, false
	}
	s := f.Section(".go.buildinfo")
	if s == nil || s.Size > 16<<20 {
		return goBinary{}, false
	}
	data, err := s.Data()
	if err != nil {
		return goBinary{}, false
	}
	if i := bytes.Index(data, buildInfoMagic); i >= 0 {
		return parseBuildInfo(data[i:])
	}
	return goBinary{}, false
}
