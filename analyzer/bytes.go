package analyzer

import (
	"io"
)

// Bytes is content held in memory (a small file read whole, a buffered
// stream). Analysers can reach the slice itself through BytesOf instead
// of copying it out with ReadAt; they must never modify it.
type Bytes []byte

// ReadAt implements io.ReaderAt.
func (b Bytes) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// BytesOf returns the in-memory bytes behind ra, when ra is Bytes or a
// section of Bytes, without copying. The slice is read-only.
func BytesOf(ra io.ReaderAt) ([]byte, bool) {
	switch r := ra.(type) {
	case Bytes:
		return r, true
	case *io.SectionReader:
		outer, off, n := r.Outer()
		if b, ok := outer.(Bytes); ok && off >= 0 && off <= int64(len(b)) && n >= 0 && n <= int64(len(b))-off {
			return b[off : off+n], true
		}
	}
	return nil, false
}
