// Package safetensors validates safetensors files: an 8-byte header
// length, a JSON header naming every tensor's dtype, shape and byte span,
// then the tensor data.
//
// It reads only the header, never tensor data (unless weight forensics is
// asked for), so a file of any size costs one or two small reads. The
// header is checked the way the reference loader checks it, and more:
// known dtypes, shape x dtype size = span, spans in bounds, contiguous and
// non-overlapping, string-only metadata, no duplicate names, nothing after
// the data. What a valid header declares (parameters, dtypes, quantised
// dtypes) is reported as the artifact's model facts, and the analyser
// lists the tensors for weight comparison (analyzer.TensorLister).
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/aigis-dev/aigis/analyzer"
)

// MaxHeader is the reference loader's cap on the header length.
const MaxHeader = 100_000_000

// maxParsed is the largest header parsed in memory. Real headers are a
// few MB at most (100k tensors); a header between this and MaxHeader is
// legal for the reference loader but not checked (inconclusive), which
// keeps a hostile file from costing hundreds of MB.
const maxParsed = 16 << 20

// maxTensors and maxRank bound the parsed header.
const (
	maxTensors = 1 << 20
	maxRank    = 64
)

// DTypeBits is the size in bits of every dtype the reference loader knows.
var DTypeBits = map[string]int{
	"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16,
	"I32": 32, "U32": 32, "F32": 32, "I64": 64, "U64": 64, "F64": 64, "C64": 64,
	"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

// Tensor is one header entry.
type Tensor struct {
	Name  string
	DType string
	Shape []int64
	// Begin and End are offsets relative to the start of the data.
	Begin, End int64
	// Params is the number of elements.
	Params int64
}

// Header is a parsed, validated header.
type Header struct {
	// Tensors are sorted by Begin.
	Tensors  []Tensor
	Metadata map[string]string
	// DataStart is the file offset of the data (8 + header length);
	// DataEnd is where the last tensor ends.
	DataStart, DataEnd int64
	// Params is the total number of elements.
	Params int64
}

// Error is a header that violates the format, at file offset Off.
type Error struct {
	Off int64
	Msg string
}

func (e *Error) Error() string { return e.Msg }

func bad(off int64, format string, a ...any) error {
	return &Error{Off: off, Msg: fmt.Sprintf(format, a...)}
}

// ParseHeader reads and validates the header of a safetensors file of the
// given size. It returns an *Error for malformed content, an
// *analyzer.LimitError when a bound is hit, and io errors as they come.
// Data beyond DataEnd is not an error here (see Analyzer).
func ParseHeader(ra io.ReaderAt, size int64) (*Header, error) {
	var pre [8]byte
	if n, err := ra.ReadAt(pre[:], 0); n < 8 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	n := binary.LittleEndian.Uint64(pre[:])
	if n > MaxHeader {
		return nil, bad(0, "header length %d exceeds the %d-byte cap of the reference loader", n, MaxHeader)
	}
	if int64(n) > size-8 {
		return nil, bad(0, "header length %d runs past the end of the %d-byte file", n, size)
	}
	if n < 2 {
		return nil, bad(0, "header length %d is too short for a JSON object", n)
	}
	if n > maxParsed {
		return nil, &analyzer.LimitError{What: "safetensors header bytes", Limit: maxParsed}
	}
	hb := make([]byte, n)
	if _, err := ra.ReadAt(hb, 8); err != nil {
		return nil, err
	}
	h, err := parseJSON(hb)
	if err != nil {
		return nil, err
	}
	h.DataStart = 8 + int64(n)
	if err := h.validate(size - h.DataStart); err != nil {
		return nil, err
	}
	return h, nil
}

// parseJSON walks the header with a token decoder so that duplicate keys,
// depth and counts are all under control (encoding/json into a map would
// silently keep the last duplicate).
func parseJSON(hb []byte) (*Header, error) {
	if !utf8.Valid(hb) {
		return nil, bad(8, "header is not valid UTF-8")
	}
	if hb[0] != '{' {
		return nil, bad(8, "header does not start with a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(hb))
	dec.UseNumber()
	at := func() int64 { return 8 + dec.InputOffset() }
	if _, err := dec.Token(); err != nil {
		return nil, bad(at(), "header JSON: %v", err)
	}
	h := &Header{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(at(), "header JSON: %v", err)
		}
		name := tok.(string)
		if seen[name] {
			return nil, bad(at(), "tensor %q appears twice in the header; loaders disagree on which entry wins", name)
		}
		seen[name] = true
		if name == "__metadata__" {
			md, err := parseMetadata(dec, at)
			if err != nil {
				return nil, err
			}
			h.Metadata = md
			continue
		}
		if len(h.Tensors) >= maxTensors {
			return nil, &analyzer.LimitError{What: "safetensors tensors", Limit: maxTensors}
		}
		t, err := parseTensor(dec, at, name)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, t)
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad(at(), "header JSON: %v", err)
	}
	// The writer pads the header with spaces to an 8-byte boundary.
	rest := hb[dec.InputOffset():]
	if len(bytes.TrimRight(rest, " \t\r\n\x00")) > 0 {
		return nil, bad(at(), "%d bytes of non-whitespace follow the header JSON", len(rest))
	}
	return h, nil
}

func parseMetadata(dec *json.Decoder, at func() int64) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, bad(at(), "__metadata__: %v", err)
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, bad(at(), "__metadata__ is not an object of strings")
	}
	md := map[string]string{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, bad(at(), "__metadata__: %v", err)
		}
		v, err := dec.Token()
		if err != nil {
			return nil, bad(at(), "__metadata__: %v", err)
		}
		s, ok := v.(string)
		if !ok {
			return nil, bad(at(), "__metadata__ value for %q is not a string (the reference loader rejects it)", k)
		}
		if _, dup := md[k.(string)]; dup {
			return nil, bad(at(), "__metadata__ key %q appears twice", k)
		}
		md[k.(string)] = s
	}
	dec.Token()
	return md, nil
}

func parseTensor(dec *json.Decoder, at func() int64, name string) (Tensor, error) {
	t := Tensor{Name: name, Begin: -1}
	tok, err := dec.Token()
	if err != nil {
		return t, bad(at(), "tensor %q: %v", name, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return t, bad(at(), "tensor %q: entry is not an object", name)
	}
	have := map[string]bool{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return t, bad(at(), "tensor %q: %v", name, err)
		}
		k := kt.(string)
		if have[k] {
			return t, bad(at(), "tensor %q: field %q appears twice", name, k)
		}
		have[k] = true
		switch k {
		case "dtype":
			v, err := dec.Token()
			s, ok := v.(string)
			if err != nil || !ok {
				return t, bad(at(), "tensor %q: dtype is not a string", name)
			}
			if _, known := DTypeBits[s]; !known {
				return t, bad(at(), "tensor %q: unknown dtype %q", name, s)
			}
			t.DType = s
		case "shape":
			t.Shape, err = intArray(dec, maxRank)
			if err != nil {
				return t, bad(at(), "tensor %q: shape: %v", name, err)
			}
		case "data_offsets":
			offs, err := intArray(dec, 2)
			if err != nil || len(offs) != 2 {
				return t, bad(at(), "tensor %q: data_offsets is not a pair of offsets", name)
			}
			t.Begin, t.End = offs[0], offs[1]
		default:
			// Unknown fields are ignored by the reference loader; skip them
			// without descending more than a little.
			if err := skipValue(dec, 0); err != nil {
				return t, bad(at(), "tensor %q: field %q: %v", name, k, err)
			}
		}
	}
	dec.Token()
	if t.DType == "" || t.Shape == nil || t.Begin < 0 {
		return t, bad(at(), "tensor %q lacks dtype, shape or data_offsets", name)
	}
	return t, nil
}

// intArray reads an array of at most max non-negative integers.
func intArray(dec *json.Decoder, max int) ([]int64, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errors.New("not an array")
	}
	out := []int64{}
	for dec.More() {
		if len(out) >= max {
			return nil, fmt.Errorf("more than %d entries", max)
		}
		v, err := dec.Token()
		if err != nil {
			return nil, err
		}
		num, ok := v.(json.Number)
		if !ok {
			return nil, errors.New("not an integer")
		}
		x, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || x < 0 {
			return nil, fmt.Errorf("%s is not a non-negative 64-bit integer", num)
		}
		out = append(out, x)
	}
	dec.Token()
	return out, nil
}

func skipValue(dec *json.Decoder, depth int) error {
	if depth > 32 {
		return errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		for dec.More() {
			if d == '{' {
				if _, err := dec.Token(); err != nil {
					return err
				}
			}
			if err := skipValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// validate checks every tensor's size and that the spans tile the data
// region [0, dataLen) from 0 without gaps or overlaps.
func (h *Header) validate(dataLen int64) error {
	for i := range h.Tensors {
		t := &h.Tensors[i]
		if t.End < t.Begin {
			return bad(8, "tensor %q: data_offsets [%d, %d] end before they begin", t.Name, t.Begin, t.End)
		}
		n := int64(1)
		for _, d := range t.Shape {
			hi, lo := bits.Mul64(uint64(n), uint64(d))
			if hi != 0 || lo > math.MaxInt64 {
				return bad(8, "tensor %q: shape %v overflows", t.Name, t.Shape)
			}
			n = int64(lo)
		}
		t.Params = n
		b := DTypeBits[t.DType]
		hi, lo := bits.Mul64(uint64(n), uint64(b))
		if hi != 0 || lo > math.MaxInt64 || lo%8 != 0 {
			return bad(8, "tensor %q: %d elements of %s are not a whole number of bytes", t.Name, n, t.DType)
		}
		if want := int64(lo / 8); want != t.End-t.Begin {
			return bad(8, "tensor %q: shape %v of %s needs %d bytes but data_offsets span %d", t.Name, t.Shape, t.DType, want, t.End-t.Begin)
		}
		if h.Params+n < h.Params {
			return bad(8, "parameter count overflows")
		}
		h.Params += n
	}
	sort.SliceStable(h.Tensors, func(a, b int) bool {
		ta, tb := &h.Tensors[a], &h.Tensors[b]
		if ta.Begin != tb.Begin {
			return ta.Begin < tb.Begin
		}
		return ta.End < tb.End
	})
	var end int64
	for i := range h.Tensors {
		t := &h.Tensors[i]
		switch {
		case t.Begin < end:
			return bad(8, "tensor %q: data_offsets [%d, %d] overlap the previous tensor, which ends at %d", t.Name, t.Begin, t.End, end)
		case t.Begin > end:
			return bad(8, "tensor %q: data_offsets begin at %d, leaving a gap after %d", t.Name, t.Begin, end)
		}
		end = t.End
	}
	if end > dataLen {
		return bad(8, "tensor data ends at %d, past the end of the file (%d bytes of data)", end, dataLen)
	}
	h.DataEnd = h.DataStart + end
	return nil
}
