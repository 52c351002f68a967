// Package numpy analyses .npy arrays and .npz archives. An array whose
// dtype holds Python objects is stored as a pickle after the header, which
// numpy.load(allow_pickle=True) unpickles: that pickle is analysed by the
// pickle VM. Plain arrays are checked for a well-formed header and a data
// size that matches shape and dtype; array data is never read.
package numpy

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/archive"
	"github.com/aigis-dev/aigis/analyzer/pickle"
	"github.com/aigis-dev/aigis/internal/decode/zipr"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/internal/weights"
	"github.com/aigis-dev/aigis/report"
)

var magic = []byte("\x93NUMPY")

// maxHeader bounds the header dict; numpy itself refuses more than 10000
// bytes by default.
const maxHeader = 1 << 20

// NPY analyses .npy files.
type NPY struct{}

func (NPY) Name() string { return "numpy" }

func (NPY) Match(s *analyzer.Sniff) bool { return bytes.HasPrefix(s.Head, magic) }

// Analyze reads an .npy file as numpy.load does (numpy.lib.format): the
// magic and version, the header dict, then either a pickle (object
// dtypes) or raw data. numpy reads a file on disk with fromfile, which
// accepts one negative dimension; anything nested (an .npz member read
// through zipfile, a decompressed stream) it reads into an array of the
// header's shape, which refuses it.
func (NPY) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	nested := in.Depth > 0
	ra, size, err := in.ReaderAt()
	if err != nil {
		return err
	}
	pre := make([]byte, 12)
	n, _ := ra.ReadAt(pre, 0)
	if n < 10 {
		out.Problem(ctx, 0, "npy header", fmt.Errorf("file of %d bytes is too short for an npy header: %w", n, errTruncated))
		return nil
	}
	major, minor := pre[6], pre[7]
	var hlen, start int64
	switch {
	case major == 1 && minor == 0:
		hlen, start = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case (major == 2 || major == 3) && minor == 0:
		if n < 12 {
			out.Problem(ctx, 0, "npy header", errTruncated)
			return nil
		}
		hlen, start = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		out.Problem(ctx, 6, "npy header", fmt.Errorf("numpy reads format versions 1.0, 2.0 and 3.0, not %d.%d", major, minor))
		return nil
	}
	if hlen > maxHeader {
		out.Problem(ctx, 8, "npy header", &analyzer.LimitError{What: "npy header bytes", Limit: maxHeader})
		return nil
	}
	if start+hlen > size {
		out.Problem(ctx, start, "npy header", errTruncated)
		return nil
	}
	hb := make([]byte, hlen)
	if _, err := ra.ReadAt(hb, start); err != nil {
		return err
	}
	dataOff := start + hlen
	h, err := parseHeader(hb, major)
	if err != nil {
		out.Problem(ctx, start, "npy header", err)
		// numpy refuses the file; a pickle after the header is still
		// reported, so that a header crafted to fail here hides nothing.
		return scanStrayPickle(ctx, in, out, dataOff, size)
	}
	if h.dtype.object {
		sec, err := in.Section(dataOff, size-dataOff)
		if err != nil {
			return err
		}
		out.SetFormat("numpy-object")
		out.Model().LoadsPickle = true // numpy.load(allow_pickle=True)
		_, err = pickle.Scan(ctx, sec, out.Child(sec), pickle.Options{MaxStreams: 1, ReportTrailing: true})
		return err
	}
	want, err := h.dataSize(size-dataOff, nested)
	if err != nil {
		out.Problem(ctx, start, "npy header", err)
		return nil
	}
	switch got := size - dataOff; {
	case got < want:
		out.Problem(ctx, dataOff, fmt.Sprintf("npy data (%d of %d bytes)", got, want), errTruncated)
		return nil
	case got > want:
		out.Add(rules.New(rules.NumpyTrailingData, out.At(dataOff+want), fmt.Sprintf("%d bytes follow the array data", got-want)))
	}
	h.facts(out.Model())
	if in.Budget.Weights {
		return weights.Scan(ctx, in.Budget.CPU, ra, []analyzer.Tensor{{Name: "array", DType: h.dtype.float, Shape: h.shape, Offset: dataOff, Size: want}}, out)
	}
	return nil
}

// scanStrayPickle analyses what follows a header numpy refused when it
// starts like a pickle.
func scanStrayPickle(ctx context.Context, in *analyzer.Input, out *analyzer.Result, off, size int64) error {
	if off >= size {
		return nil
	}
	sec, err := in.Section(off, size-off)
	if err != nil {
		return err
	}
	if sn := sec.Sniff(); !pickle.Sniff(sn.Head, sn.Size) {
		return nil
	}
	_, err = pickle.Scan(ctx, sec, out.Child(sec), pickle.Options{MaxStreams: 1, ReportTrailing: true})
	return err
}

var errTruncated = fmt.Errorf("data ends early: %w", errEOF)

// NPZ recognises numpy.savez archives: every member is an .npy file.
type NPZ struct{}

func (NPZ) Name() string { return "npz" }

func (NPZ) MatchZip(z *zipr.Reader) bool {
	n := 0
	for _, e := range z.Entries {
		if e.IsDir() {
			continue
		}
		if !strings.HasSuffix(e.Name, ".npy") {
			return false
		}
		n++
	}
	return n > 0
}

func (NPZ) AnalyzeZip(ctx context.Context, in *analyzer.Input, z *zipr.Reader, m *archive.Members, out *analyzer.Result) error {
	for _, e := range z.Entries {
		if err := m.Recurse(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

type header struct {
	dtype dtype
	shape []int64
	descr string // the descr when it is a plain type string ('<f4')
}

// facts fills the model facts of a plain array: one tensor, its element
// count (left unknown when it overflows) and its type string.
func (h *header) facts(m *report.Model) {
	n := int64(1)
	for _, d := range h.shape {
		if d < 0 || d != 0 && n > math.MaxInt64/d {
			n = 0
			break
		}
		n *= d
	}
	m.Parameters, m.Tensors = n, 1
	if h.descr != "" {
		m.DTypes = []string{h.descr}
	}
}

// dataSize is the number of data bytes numpy reads: shape times item
// size. numpy.load of a file reads every item when the shape holds one
// negative dimension (fromfile(count=-1)) and then reshapes, so such a
// shape is accepted when the data fill it; nested, never.
func (h *header) dataSize(avail int64, nested bool) (int64, error) {
	n := h.dtype.itemsize
	neg := -1
	other := int64(1)
	for i, d := range h.shape {
		if d < 0 {
			if neg >= 0 || nested {
				return 0, fmt.Errorf("shape %v has negative dimensions", h.shape)
			}
			neg = i
			continue
		}
		if d != 0 && other > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v overflows", h.shape)
		}
		other *= d
	}
	if neg >= 0 {
		if other == 0 || n <= 0 || (avail/n)%other != 0 {
			return 0, fmt.Errorf("shape %v does not fit %d data bytes", h.shape, avail)
		}
		return avail / n * n, nil
	}
	if other != 0 && n > math.MaxInt64/other {
		return 0, fmt.Errorf("shape %v overflows", h.shape)
	}
	return n * other, nil
}

// nbytes is the data size of a shape without negative dimensions.
func (h *header) nbytes() (int64, bool) {
	n, err := h.dataSize(0, true)
	return n, err == nil
}

// parseHeader reads the header dict exactly as numpy's
// _read_array_header does: decoded as latin-1 (versions 1 and 2, where
// Python 2 long suffixes are dropped) or UTF-8 (version 3), evaluated as
// a Python literal, with exactly the keys descr, fortran_order and
// shape, shape a tuple of ints, fortran_order a bool and descr a dtype
// description numpy understands.
func parseHeader(b []byte, major byte) (*header, error) {
	var text string
	if major >= 3 {
		if !utf8.Valid(b) {
			return nil, errors.New("header is not UTF-8")
		}
		text = string(b)
	} else {
		rs := make([]rune, len(b))
		for i, c := range b {
			rs[i] = rune(c)
		}
		text = string(rs)
	}
	v, err := parseLiteral(text, literalOptions{py2Longs: major <= 2})
	if err != nil {
		return nil, fmt.Errorf("header is not a Python literal: %w", err)
	}
	if v.kind != pyDict {
		return nil, errors.New("header is not a dict")
	}
	vals := map[string]pyValue{}
	for i, k := range v.items {
		if k.kind != pyStr {
			return nil, errors.New("header does not contain the correct keys")
		}
		vals[k.str] = v.vals[i]
	}
	descr, ok1 := vals["descr"]
	fo, ok2 := vals["fortran_order"]
	shape, ok3 := vals["shape"]
	if len(vals) != 3 || !ok1 || !ok2 || !ok3 {
		return nil, errors.New("header does not contain the correct keys (descr, fortran_order, shape)")
	}
	if shape.kind != pyTuple {
		return nil, errors.New("header shape is not a tuple")
	}
	h := &header{}
	for _, d := range shape.items {
		if d.kind != pyInt {
			return nil, fmt.Errorf("header shape is not a tuple of ints")
		}
		h.shape = append(h.shape, d.i)
	}
	if !fo.isBool() {
		return nil, errors.New("header fortran_order is not a bool")
	}
	if h.dtype, err = descrToDtype(descr, 0); err != nil {
		return nil, err
	}
	if descr.kind == pyStr && len(descr.str) <= 32 {
		h.descr = descr.str
	}
	return h, nil
}

// ListTensors describes the array of a .npy file as one tensor
// (analyzer.TensorLister); an array of Python objects has none.
func (NPY) ListTensors(ctx context.Context, in *analyzer.Input) ([]analyzer.Tensor, error) {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return nil, err
	}
	pre := make([]byte, 12)
	if n, _ := ra.ReadAt(pre, 0); n < 10 || !bytes.HasPrefix(pre, magic) {
		return nil, fmt.Errorf("not an npy file")
	}
	var hlen, start int64 = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	if pre[6] >= 2 {
		hlen, start = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	}
	if hlen > maxHeader || start+hlen > size {
		return nil, fmt.Errorf("npy header out of bounds")
	}
	hb := make([]byte, hlen)
	if _, err := ra.ReadAt(hb, start); err != nil {
		return nil, err
	}
	h, err := parseHeader(hb, pre[6])
	if err != nil {
		return nil, err
	}
	if h.dtype.object {
		return nil, fmt.Errorf("npy array of Python objects: %w", analyzer.ErrNoTensors)
	}
	n, ok := h.nbytes()
	if !ok || start+hlen+n > size {
		return nil, fmt.Errorf("npy array data does not fit the file")
	}
	return []analyzer.Tensor{{Name: "array", DType: h.dtype.float, Shape: h.shape, Offset: start + hlen, Size: n}}, nil
}
