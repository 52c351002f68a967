// Package datafile recognises data formats that share a file extension
// with a model format but that no model loader deserialises: an IDL save
// file is a ".sav" like a scikit-learn pickle, and scipy.io.readsav reads
// it as records, running nothing. Recognising them by content keeps the
// engine's extension rule (a ".sav" that is no known format is corrupt or
// disguised) from calling genuine data invalid. Only the magic number is
// read; the formats are reported clean because loading them runs no code.
package datafile

import (
	"bytes"
	"context"

	"github.com/aigis-dev/aigis/analyzer"
)

// formats are the magic numbers, at offset 0, and the names reported.
var formats = []struct {
	magic []byte
	name  string
}{
	{[]byte("SR\x00\x04"), "idl-save"},            // IDL/GDL save files (scipy.io.readsav)
	{[]byte("MATLAB 5.0 MAT-file"), "matlab-mat"}, // MATLAB v5/v7 (scipy.io.loadmat)
	{[]byte("PAR1"), "parquet"},                   // Apache Parquet
	{[]byte("ARROW1\x00\x00"), "arrow"},           // Arrow IPC / Feather v2
	{[]byte("\x89PNG\r\n\x1a\n"), "png"},          // images in model repositories
	{[]byte("\xff\xd8\xff"), "jpeg"},
}

// Analyzer names data files by their magic number.
type Analyzer struct{}

func (Analyzer) Name() string { return "data" }

func (Analyzer) Match(s *analyzer.Sniff) bool { return name(s.Head) != "" }

func (Analyzer) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	out.SetFormat(name(in.Sniff().Head))
	return nil
}

func name(head []byte) string {
	for _, f := range formats {
		if bytes.HasPrefix(head, f.magic) {
			return f.name
		}
	}
	return ""
}
