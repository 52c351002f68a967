// Package pb walks protocol buffer messages stored in a file without
// loading the file into memory and without generated code: it reads field
// headers through a small window over an io.ReaderAt and hands each field
// to the caller, who decides what to descend into and what to skip. Large
// byte fields (tensor data) are skipped by offset, never read.
//
// Wire decoding uses google.golang.org/protobuf/encoding/protowire. Every
// walk is bounded by the byte range it is given and by a nesting depth.
package pb

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// MaxDepth bounds message nesting (subgraphs inside attributes inside
// nodes inside graphs...).
const MaxDepth = 64

// Field is one decoded field header.
type Field struct {
	Num  protowire.Number
	Type protowire.Type
	// Off and Len locate the payload of a length-delimited field.
	Off, Len int64
	// V is the value of a varint or fixed field.
	V uint64
}

// Error is malformed wire data at Off.
type Error struct {
	Off int64
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("%s at offset %d", e.Msg, e.Off) }

// Reader reads fields from a file.
type Reader struct {
	ra     io.ReaderAt
	size   int64
	win    []byte
	winOff int64
}

// NewReader makes a Reader over size bytes of ra.
func NewReader(ra io.ReaderAt, size int64) *Reader {
	return &Reader{ra: ra, size: size, winOff: -1}
}

// Size is the size of the underlying data.
func (r *Reader) Size() int64 { return r.size }

const winSize = 64 << 10

// at returns at least min(n, end-off) bytes starting at off, from the
// window when possible.
func (r *Reader) at(off, n, end int64) ([]byte, error) {
	if r.winOff >= 0 && off >= r.winOff && off+n <= r.winOff+int64(len(r.win)) {
		return r.win[off-r.winOff:], nil
	}
	want := int64(max(winSize, n))
	want = min(want, end-off)
	if want <= 0 {
		return nil, io.ErrUnexpectedEOF
	}
	if int64(cap(r.win)) < want {
		r.win = make([]byte, want)
	}
	r.win = r.win[:want]
	k, err := r.ra.ReadAt(r.win, off)
	if int64(k) < want {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	r.winOff = off
	return r.win, nil
}

// Walk calls fn for every field in [start, end). fn may call Walk again on
// a field's payload (with depth+1). Returning Skip from fn stops the walk
// without error.
func (r *Reader) Walk(start, end int64, depth int, fn func(Field) error) error {
	if depth > MaxDepth {
		return &Error{Off: start, Msg: fmt.Sprintf("messages nested deeper than %d", MaxDepth)}
	}
	if end > r.size {
		return &Error{Off: start, Msg: "message runs past the end of the file"}
	}
	for off := start; off < end; {
		b, err := r.at(off, 20, end)
		if err != nil {
			return err
		}
		// The window may extend past this message; a field must not.
		if int64(len(b)) > end-off {
			b = b[:end-off]
		}
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return &Error{Off: off, Msg: "bad field tag"}
		}
		f := Field{Num: num, Type: typ}
		off += int64(n)
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return &Error{Off: off, Msg: "bad varint"}
			}
			f.V = v
			off += int64(n)
		case protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return &Error{Off: off, Msg: "truncated fixed32"}
			}
			f.V = uint64(v)
			off += int64(n)
		case protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return &Error{Off: off, Msg: "truncated fixed64"}
			}
			f.V = v
			off += int64(n)
		case protowire.BytesType:
			l, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return &Error{Off: off, Msg: "bad length"}
			}
			off += int64(n)
			if l > uint64(end-off) {
				return &Error{Off: off, Msg: fmt.Sprintf("field %d of length %d runs past the end of its message", num, l)}
			}
			f.Off, f.Len = off, int64(l)
			off += int64(l)
		default:
			return &Error{Off: off, Msg: fmt.Sprintf("field %d has unsupported wire type %d", num, typ)}
		}
		if err := fn(f); err != nil {
			if errors.Is(err, Skip) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Skip stops a Walk early without error.
var Skip = errors.New("skip")

// String reads a length-delimited field as a string of at most max bytes.
func (r *Reader) String(f Field, max int64) (string, error) {
	if f.Type != protowire.BytesType {
		return "", &Error{Off: f.Off, Msg: fmt.Sprintf("field %d is not a string", f.Num)}
	}
	if f.Len > max {
		return "", &Error{Off: f.Off, Msg: fmt.Sprintf("string field %d of %d bytes exceeds %d", f.Num, f.Len, max)}
	}
	if f.Len == 0 {
		return "", nil
	}
	b, err := r.at(f.Off, f.Len, f.Off+f.Len)
	if err != nil {
		return "", err
	}
	return string(b[:f.Len]), nil
}

// Bytes reads a length-delimited field of at most max bytes.
func (r *Reader) Bytes(f Field, max int64) ([]byte, error) {
	s, err := r.String(f, max)
	return []byte(s), err
}

// Looks reports whether head parses as a message whose leading fields all
// have the field numbers and wire types in spec (a truncated last field
// is accepted: head is only the start of the content). first, when
// non-zero, must be the first field's number.
func Looks(head []byte, spec map[protowire.Number]protowire.Type, first protowire.Number) bool {
	n := 0
	for len(head) > 0 {
		num, typ, k := protowire.ConsumeTag(head)
		if k < 0 {
			return false
		}
		want, ok := spec[num]
		if !ok || want != typ || n == 0 && first != 0 && num != first {
			return false
		}
		m := protowire.ConsumeFieldValue(num, typ, head[k:])
		n++
		if m < 0 {
			// Only a length-delimited field may be cut by the end of head.
			return typ == protowire.BytesType && n > 1
		}
		head = head[k+m:]
	}
	return n > 1
}
