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
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/archive"
	"github.com/aigis-dev/aigis/analyzer/pickle"
	"github.com/aigis-dev/aigis/internal/decode/zipr"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/internal/weights"
)

var magic = []byte("\x93NUMPY")

// maxHeader bounds the header dict; numpy itself refuses more than 10000
// bytes by default.
const maxHeader = 1 << 20

// NPY analyses .npy files.
type NPY struct{}

func (NPY) Name() string { return "numpy" }

func (NPY) Match(s *analyzer.Sniff) bool { return bytes.HasPrefix(s.Head, magic) }

func (NPY) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
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
	major := pre[6]
	var hlen, start int64
	switch major {
	case 1:
		hlen, start = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case 2, 3:
		if n < 12 {
			out.Problem(ctx, 0, "npy header", errTruncated)
			return nil
		}
		hlen, start = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		out.Problem(ctx, 6, "npy header", fmt.Errorf("unknown npy format version %d.%d", major, pre[7]))
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
	h, err := parseHeader(hb)
	if err != nil {
		out.Problem(ctx, start, "npy header", err)
		return nil
	}
	dataOff := start + hlen
	if h.dtype.object {
		sec, err := in.Section(dataOff, size-dataOff)
		if err != nil {
			return err
		}
		out.SetFormat("numpy-object")
		_, err = pickle.Scan(ctx, sec, out.Child(sec), pickle.Options{MaxStreams: 1, ReportTrailing: true})
		return err
	}
	want, ok := h.nbytes()
	if !ok {
		out.Problem(ctx, start, "npy header", fmt.Errorf("shape %v overflows", h.shape))
		return nil
	}
	switch got := size - dataOff; {
	case got < want:
		out.Problem(ctx, dataOff, fmt.Sprintf("npy data (%d of %d bytes)", got, want), errTruncated)
		return nil
	case got > want:
		out.Add(rules.New(rules.NumpyTrailingData, out.At(dataOff+want), fmt.Sprintf("%d bytes follow the array data", got-want)))
	}
	if in.Budget.Weights {
		return weights.Scan(ctx, ra, []weights.Tensor{{Name: "array", DType: h.dtype.float, Shape: h.shape, Offset: dataOff, Size: want}}, out)
	}
	return nil
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
}

type dtype struct {
	itemsize int64
	object   bool
	float    weights.DType // little-endian float arrays, for weight forensics
}

func (h *header) nbytes() (int64, bool) {
	n := h.dtype.itemsize
	for _, d := range h.shape {
		if d != 0 && n > math.MaxInt64/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// parseHeader reads the header dict: {'descr': ..., 'fortran_order': bool,
// 'shape': (ints)}.
func parseHeader(b []byte) (*header, error) {
	v, err := parseLiteral(strings.TrimRight(string(b), " \n\x00"))
	if err != nil {
		return nil, fmt.Errorf("header is not a Python literal: %w", err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("header is not a dict")
	}
	h := &header{}
	descr, ok := d["descr"]
	if !ok {
		return nil, fmt.Errorf("header has no descr")
	}
	if h.dtype, err = parseDescr(descr, 0); err != nil {
		return nil, err
	}
	if fo, ok := d["fortran_order"].(bool); !ok {
		_ = fo
		return nil, fmt.Errorf("header fortran_order is not a bool")
	}
	shape, ok := d["shape"].([]any)
	if !ok {
		return nil, fmt.Errorf("header shape is not a tuple")
	}
	for _, x := range shape {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("header shape %v is not a tuple of sizes", shape)
		}
		h.shape = append(h.shape, n)
	}
	return h, nil
}

// parseDescr understands simple type strings ('<f4', '|O', '<U10') and
// structured descriptions (lists of (name, descr[, shape]) tuples).
func parseDescr(v any, depth int) (dtype, error) {
	if depth > 16 {
		return dtype{}, fmt.Errorf("descr nested too deeply")
	}
	switch x := v.(type) {
	case string:
		return parseTypeString(x)
	case []any:
		var dt dtype
		for _, f := range x {
			t, ok := f.([]any)
			if !ok || len(t) < 2 {
				return dtype{}, fmt.Errorf("structured descr field %v is not a tuple", f)
			}
			sub, err := parseDescr(t[1], depth+1)
			if err != nil {
				return dtype{}, err
			}
			if len(t) >= 3 {
				dims, ok := t[2].([]any)
				if !ok {
					if n, isInt := t[2].(int64); isInt {
						dims = []any{n}
					} else {
						return dtype{}, fmt.Errorf("structured descr shape %v", t[2])
					}
				}
				for _, d := range dims {
					n, ok := d.(int64)
					if !ok || n < 0 || (n > 0 && sub.itemsize > math.MaxInt64/n) {
						return dtype{}, fmt.Errorf("structured descr shape %v", t[2])
					}
					sub.itemsize *= n
				}
			}
			dt.object = dt.object || sub.object
			if dt.itemsize > math.MaxInt64-sub.itemsize {
				return dtype{}, fmt.Errorf("structured descr overflows")
			}
			dt.itemsize += sub.itemsize
		}
		return dt, nil
	}
	return dtype{}, fmt.Errorf("descr %v not understood", v)
}

func parseTypeString(s string) (dtype, error) {
	t := s
	if len(t) > 0 && strings.ContainsRune("<>|=", rune(t[0])) {
		t = t[1:]
	}
	if t == "" {
		return dtype{}, fmt.Errorf("empty descr")
	}
	kind, rest := t[0], t[1:]
	if i := strings.IndexByte(rest, '['); i >= 0 { // datetime units: M8[ns]
		rest = rest[:i]
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	switch {
	case kind == 'O':
		return dtype{itemsize: 8, object: true}, nil
	case err != nil || n < 0:
		if kind == '?' && rest == "" {
			return dtype{itemsize: 1}, nil
		}
		return dtype{}, fmt.Errorf("descr %q not understood", s)
	case kind == 'f' && s[0] != '>':
		return dtype{itemsize: n, float: map[int64]weights.DType{2: weights.F16, 4: weights.F32, 8: weights.F64}[n]}, nil
	case strings.IndexByte("fiucbMmSaV", kind) >= 0:
		return dtype{itemsize: n}, nil
	case kind == 'U':
		if n > math.MaxInt64/4 {
			return dtype{}, fmt.Errorf("descr %q overflows", s)
		}
		return dtype{itemsize: 4 * n}, nil
	}
	return dtype{}, fmt.Errorf("descr %q not understood", s)
}

// Tensors describes the array of a .npy file for weight comparison.
func Tensors(ra io.ReaderAt, size int64) ([]weights.Tensor, error) {
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
	h, err := parseHeader(hb)
	if err != nil {
		return nil, err
	}
	n, ok := h.nbytes()
	if !ok || h.dtype.object || start+hlen+n > size {
		return nil, fmt.Errorf("npy array is not plain numbers within the file")
	}
	return []weights.Tensor{{Name: "array", DType: h.dtype.float, Shape: h.shape, Offset: start + hlen, Size: n}}, nil
}
