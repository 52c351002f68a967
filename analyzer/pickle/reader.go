package pickle

import (
	"errors"
	"fmt"
	"io"
)

// reader is a small buffered reader that tracks the stream offset and can
// skip large payloads by seeking when the source allows it, so tensor
// bytes embedded in a pickle are never copied.
type reader struct {
	src    io.Reader
	seeker io.Seeker // src as a Seeker, or nil
	buf    []byte
	r, w   int
	base   int64 // stream offset of buf[0]
	err    error // sticky error from src
	mem    bool  // buf is the whole input, in memory and read-only
	total  int64 // size of the whole input, -1 when unknown
}

// newMemReader reads content that is already in memory, without copying:
// buf is never written to, so it may be shared with other analysers.
func newMemReader(b []byte) *reader {
	return &reader{buf: b, w: len(b), err: io.EOF, mem: true, total: int64(len(b))}
}

const readerBufSize = 256 << 10

// newReader reads src; sizeHint (-1 if unknown) keeps the buffer small
// for small inputs.
func newReader(src io.Reader, sizeHint int64) *reader {
	n := readerBufSize
	if sizeHint >= 0 && sizeHint+1 < int64(n) {
		n = int(max(sizeHint+1, 4096))
	}
	rd := &reader{src: src, buf: make([]byte, n), total: sizeHint}
	if s, ok := src.(io.Seeker); ok {
		// Only trust Seek if the source is at offset 0 now; io.SectionReader
		// and *os.File from Open are.
		if pos, err := s.Seek(0, io.SeekCurrent); err == nil && pos == 0 {
			rd.seeker = s
		}
	}
	return rd
}

// offset is the stream offset of the next unread byte.
func (rd *reader) offset() int64 { return rd.base + int64(rd.r) }

// fill makes at least n bytes available (n <= len(buf)) or returns the
// source error (io.ErrUnexpectedEOF when the data ends early).
func (rd *reader) fill(n int) error {
	if rd.w-rd.r >= n {
		return nil
	}
	if rd.mem {
		return rd.eof() // the whole input is already here
	}
	if rd.r > 0 {
		copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.base += int64(rd.r)
		rd.w -= rd.r
		rd.r = 0
	}
	for rd.w < n {
		if rd.err != nil {
			return rd.eof()
		}
		m, err := rd.src.Read(rd.buf[rd.w:])
		rd.w += m
		if err != nil {
			rd.err = err
		}
		if m == 0 && err == nil {
			// A reader that returns nothing forever must not hang us.
			rd.err = io.ErrNoProgress
		}
	}
	return nil
}

func (rd *reader) eof() error {
	if rd.err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return rd.err
}

// atEOF reports whether no byte is left.
func (rd *reader) atEOF() bool {
	return rd.fill(1) != nil && rd.w == rd.r
}

func (rd *reader) byte() (byte, error) {
	if rd.r < rd.w {
		b := rd.buf[rd.r]
		rd.r++
		return b, nil
	}
	if err := rd.fill(1); err != nil {
		return 0, err
	}
	b := rd.buf[rd.r]
	rd.r++
	return b, nil
}

// take returns the next n bytes (n <= readerBufSize). The slice is valid
// until the next read.
func (rd *reader) take(n int) ([]byte, error) {
	if n > len(rd.buf) && !rd.mem {
		return nil, errors.New("internal: take larger than buffer")
	}
	if err := rd.fill(n); err != nil {
		return nil, err
	}
	b := rd.buf[rd.r : rd.r+n]
	rd.r += n
	return b, nil
}

// line returns bytes up to (not including) the next '\n', at most max
// bytes long. The slice is valid until the next read.
func (rd *reader) line(max int) ([]byte, error) {
	if max > len(rd.buf)-1 && !rd.mem {
		max = len(rd.buf) - 1
	}
	scanned := 0
	for {
		for i := rd.r + scanned; i < rd.w; i++ {
			if rd.buf[i] == '\n' {
				b := rd.buf[rd.r:i]
				rd.r = i + 1
				return b, nil
			}
			if i-rd.r >= max {
				return nil, fmt.Errorf("text argument longer than %d bytes", max)
			}
		}
		scanned = rd.w - rd.r
		if err := rd.fill(scanned + 1); err != nil {
			return nil, err
		}
	}
}

// read consumes n bytes and returns a copy of the first keep of them
// (all of them when n <= keep). Bytes beyond keep are skipped, by seeking
// when possible.
func (rd *reader) read(n int64, keep int) ([]byte, error) {
	var kept []byte
	if keep > 0 {
		k := int64(keep)
		if n < k {
			k = n
		}
		kept = make([]byte, 0, k)
		for int64(len(kept)) < k {
			if rd.r == rd.w {
				if err := rd.fill(1); err != nil {
					return nil, err
				}
			}
			m := rd.w - rd.r
			if need := int(k) - len(kept); m > need {
				m = need
			}
			kept = append(kept, rd.buf[rd.r:rd.r+m]...)
			rd.r += m
		}
		n -= k
	}
	return kept, rd.skip(n)
}

// skip consumes n bytes without keeping them.
func (rd *reader) skip(n int64) error {
	if avail := int64(rd.w - rd.r); n <= avail {
		rd.r += int(n)
		return nil
	}
	if rd.mem {
		rd.r = rd.w
		return io.ErrUnexpectedEOF
	}
	n -= int64(rd.w - rd.r)
	rd.base += int64(rd.w)
	rd.r, rd.w = 0, 0
	if rd.seeker != nil && n > int64(len(rd.buf)) && rd.err == nil {
		// Seek, then confirm the data really extends that far.
		target := rd.base + n
		if _, err := rd.seeker.Seek(target-1, io.SeekStart); err == nil {
			var one [1]byte
			if m, _ := io.ReadFull(rd.src, one[:]); m == 1 {
				rd.base = target
				return nil
			}
			return io.ErrUnexpectedEOF
		}
	}
	for n > 0 {
		if err := rd.fill(1); err != nil {
			return err
		}
		m := int64(rd.w - rd.r)
		if m > n {
			m = n
		}
		rd.r += int(m)
		n -= m
	}
	return nil
}
