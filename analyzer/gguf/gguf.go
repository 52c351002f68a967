package gguf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/internal/jinja"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/internal/weights"
)

func sortSlice[T any](s []T, less func(a, b T) bool) {
	sort.Slice(s, func(i, j int) bool { return less(s[i], s[j]) })
}

// Analyzer is the GGUF format analyser.
type Analyzer struct{}

func (Analyzer) Name() string { return "gguf" }

// Match accepts the GGUF magic.
func (Analyzer) Match(s *analyzer.Sniff) bool { return bytes.HasPrefix(s.Head, []byte("GGUF")) }

func (Analyzer) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return err
	}
	f, err := Parse(ra, size)
	if err != nil {
		var fe *Error
		switch {
		case errors.As(err, &fe):
			out.Problem(ctx, fe.Off, "gguf header", err)
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			out.Problem(ctx, 0, "gguf header", io.ErrUnexpectedEOF)
		default:
			return err
		}
		// What the model declares about itself stays a fact when only
		// its tensor table or layout is malformed.
		if m, merr := ParseMetadata(ra, size); merr == nil {
			metadataFacts(m, out.Model())
		}
		return nil
	}
	metadataFacts(f, out.Model())
	tensorFacts(f, out.Model())
	out.SetProperty("gguf.version", fmt.Sprint(f.Version))
	out.SetProperty("gguf.tensors", fmt.Sprint(len(f.Tensors)))
	var params int64
	unknown := 0
	for _, t := range f.Tensors {
		params += t.Elements
		if t.Size < 0 {
			unknown++
		}
	}
	if unknown > 0 {
		out.Add(rules.New(rules.GgufUnknownTensorType, out.Here(), fmt.Sprintf("%d tensors use element types this version does not know; their data spans are not checked", unknown)))
	}
	out.SetProperty("gguf.parameters", fmt.Sprint(params))
	for _, kv := range f.KVs {
		switch {
		case kv.Key == "general.architecture" || kv.Key == "general.name":
			out.SetProperty("gguf."+strings.TrimPrefix(kv.Key, "general."), kv.Str)
		case strings.HasPrefix(kv.Key, "tokenizer.chat_template"):
			if kv.Type != tString {
				continue
			}
			if kv.Big {
				// Longer than what is kept in memory: not checked.
				out.Add(jinja.Issue{Rule: "jinja-too-large", Msg: fmt.Sprintf("%s is too large to analyse", kv.Key)}.Finding(out.At(kv.Off)))
			}
			for _, is := range jinja.Analyze(kv.Str) {
				is.Msg = kv.Key + ": " + is.Msg
				out.Add(is.Finding(out.At(kv.Off)))
			}
		}
	}
	if pad := size - f.DataEnd; pad >= f.Alignment && len(f.Tensors) > 0 {
		out.Add(rules.New(rules.GgufTrailingData, out.At(f.DataEnd), fmt.Sprintf("%d bytes follow the last tensor", pad)))
	}
	if in.Budget.Weights {
		return weights.Scan(ctx, in.Budget.CPU, ra, tensors(f), out)
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
	f, err := Parse(ra, size)
	if err != nil {
		return nil, err
	}
	return tensors(f), nil
}

// tensors describes the tensors for weight forensics and comparison;
// quantised types are compared and searched for embedded files as bytes
// only.
func tensors(f *File) []analyzer.Tensor {
	ts := make([]analyzer.Tensor, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		if t.Size < 0 {
			continue
		}
		shape := make([]int64, len(t.Dims))
		for i, x := range t.Dims {
			shape[i] = int64(x)
		}
		ts = append(ts, analyzer.Tensor{Name: t.Name, DType: analyzer.ParseDType(t.TName), Shape: shape, Offset: f.DataStart + t.Offset, Size: t.Size})
	}
	return ts
}
