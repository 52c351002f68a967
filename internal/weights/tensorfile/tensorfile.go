// Package tensorfile opens a model file and lists its tensors for weight
// comparison (aigis diff, scan --base): safetensors, GGUF, .npy and torch
// zip checkpoints (one tensor per storage). It recognises formats by
// content, like the scanner, and reads headers only.
package tensorfile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/archive"
	"github.com/aigis-dev/aigis/analyzer/gguf"
	"github.com/aigis-dev/aigis/analyzer/numpy"
	"github.com/aigis-dev/aigis/analyzer/safetensors"
	"github.com/aigis-dev/aigis/analyzer/torch"
	"github.com/aigis-dev/aigis/internal/decode/zipr"
	"github.com/aigis-dev/aigis/internal/weights"
)

// File is an open model.
type File struct {
	f      *os.File
	Format string
	Source weights.Source
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Open lists the tensors of the model at path.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	f := &File{f: fh}
	size := st.Size()
	head := make([]byte, analyzer.HeadSize)
	n, _ := fh.ReadAt(head, 0)
	sn := &analyzer.Sniff{Head: head[:n], Size: size}
	var ts []weights.Tensor
	switch {
	case safetensors.Analyzer{}.Match(sn):
		f.Format = "safetensors"
		h, err := safetensors.ParseHeader(fh, size)
		if err != nil {
			fh.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ts = safetensors.Tensors(h)
	case gguf.Analyzer{}.Match(sn):
		f.Format = "gguf"
		g, err := gguf.Parse(fh, size)
		if err != nil {
			fh.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ts = gguf.Tensors(g)
	case numpy.NPY{}.Match(sn):
		f.Format = "numpy"
		ts, err = numpy.Tensors(fh, size)
	case bytes.HasPrefix(sn.Head, []byte("PK\x03\x04")):
		f.Format = "pytorch-zip"
		ts, err = torchTensors(fh, size)
	default:
		err = fmt.Errorf("%s: not a safetensors, GGUF, npy or torch zip file", path)
	}
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.Source = weights.Source{RA: fh, Tensors: ts}
	return f, nil
}

func torchTensors(ra io.ReaderAt, size int64) ([]weights.Tensor, error) {
	z, err := zipr.Open(ra, size, zipr.Limits{MaxEntries: 1 << 20})
	if err != nil {
		return nil, err
	}
	in := analyzer.NewFileInput("", ra, size, analyzer.NewBudget(analyzer.DefaultLimits()))
	out := analyzer.NewResult(func(context.Context, *analyzer.Input, *analyzer.Result) error { return nil })
	return torch.TensorsOf(context.Background(), in, z, archive.NewMembers(in, out, z))
}
