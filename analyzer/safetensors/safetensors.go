package safetensors

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/internal/weights"
)

// Analyzer is the safetensors format analyser.
type Analyzer struct{}

func (Analyzer) Name() string { return "safetensors" }

// Match accepts a little-endian header length below 2^40 followed by a
// JSON object. Lengths past the end of the file still match, so that a
// truncated or lying header is reported invalid rather than ignored.
func (Analyzer) Match(s *analyzer.Sniff) bool {
	if len(s.Head) < 10 || s.Head[8] != '{' {
		return false
	}
	n := binary.LittleEndian.Uint64(s.Head)
	return n >= 2 && n < 1<<40 && (s.Head[9] == '"' || s.Head[9] == '}' || s.Head[9] == ' ' || s.Head[9] == '\n')
}

func (Analyzer) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return err
	}
	h, err := ParseHeader(ra, size)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			out.Problem(ctx, fe.Off, "safetensors header", err)
			return nil
		}
		if analyzer.IsLimit(err) || isEOF(err) {
			out.Problem(ctx, 0, "safetensors header", err)
			return nil
		}
		return err
	}
	setProperties(h, out)
	facts(h, out.Model())
	if h.DataEnd < size {
		out.Add(rules.New(rules.SafetensorsTrailingData, out.At(h.DataEnd),
			fmt.Sprintf("%d bytes follow the last tensor; the reference loader rejects such a file, other loaders may read them", size-h.DataEnd)))
		sec, err := in.Section(h.DataEnd, size-h.DataEnd)
		if err != nil {
			return err
		}
		sec.Hint = "" // the trailer is not a .safetensors file itself
		if err := out.Recurse(ctx, sec); err != nil {
			return err
		}
		out.SetFormat("safetensors")
	}
	if in.Budget.Weights {
		return weights.Scan(ctx, in.Budget.CPU, ra, tensors(h), out)
	}
	return nil
}

// ListTensors locates the tensors the header declares
// (analyzer.TensorLister).
func (Analyzer) ListTensors(ctx context.Context, in *analyzer.Input) ([]analyzer.Tensor, error) {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return nil, err
	}
	h, err := ParseHeader(ra, size)
	if err != nil {
		return nil, err
	}
	return tensors(h), nil
}

// tensors describes the header's tensors for weight forensics and
// comparison.
func tensors(h *Header) []analyzer.Tensor {
	ts := make([]analyzer.Tensor, 0, len(h.Tensors))
	for _, t := range h.Tensors {
		ts = append(ts, analyzer.Tensor{Name: t.Name, DType: analyzer.ParseDType(t.DType), Shape: t.Shape,
			Offset: h.DataStart + t.Begin, Size: t.End - t.Begin})
	}
	return ts
}

func setProperties(h *Header, out *analyzer.Result) {
	out.SetProperty("safetensors.tensors", fmt.Sprint(len(h.Tensors)))
	out.SetProperty("safetensors.parameters", fmt.Sprint(h.Params))
	per := map[string]int64{}
	for _, t := range h.Tensors {
		per[t.DType] += t.Params
	}
	var ds []string
	for d := range per {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s:%d", d, per[d])
	}
	out.SetProperty("safetensors.dtypes", b.String())
	if f, ok := h.Metadata["format"]; ok {
		out.SetProperty("safetensors.format", f)
	}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
