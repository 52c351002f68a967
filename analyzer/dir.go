package analyzer

import (
	"context"
	"io/fs"
)

// Neighbours is read-only access to files near a walked file or inside a
// walked directory, confined to the scan root. The engine provides it; an
// analyser uses it to resolve references that a loader would follow (ONNX
// external data, the Python files of a model repository), never to walk.
//
// Names are slash-separated and relative to the directory of the walked
// file (or to the walked directory). A name that leaves the scan root,
// directly, with "..", or through a symbolic link, fails with an error;
// Lstat never follows a final symbolic link.
type Neighbours interface {
	Lstat(name string) (fs.FileInfo, error)
	// ReadFile reads a regular file of at most max bytes; a larger file is
	// a *LimitError.
	ReadFile(name string, max int64) ([]byte, error)
}

// NeighbourLister is implemented by Neighbours that can list a directory
// (the scan root's, and a zip archive's members).
type NeighbourLister interface {
	// ReadDir lists the named directory ("." is the input's own), sorted
	// by name.
	ReadDir(name string) ([]fs.DirEntry, error)
}

// NeighbourMemo is implemented by Neighbours that can remember what an
// analyser computed about a directory for as long as the scan lasts, so
// that every file of the directory does not recompute it. Keys are
// per directory: the same key from files of different directories names
// different values.
type NeighbourMemo interface {
	Memo(key string, compute func() any) any
}

// ReferenceAnalyzer is implemented by analysers of formats recognised by
// what refers to them rather than by their content: ONNX external data
// is raw tensor bytes that a model beside it names. The engine offers
// them every input no analyser matched that has Neighbours; the first
// that finds a reference analyses the input and says so, and the input
// takes its format.
type ReferenceAnalyzer interface {
	AnalyzeReferenced(ctx context.Context, in *Input, out *Result) (bool, error)
}

// Dir is a walked directory offered to DirAnalyzers.
type Dir struct {
	// Entries are the directory's own entries, sorted by name.
	Entries []fs.DirEntry
	// FS reads inside the directory (and below it), confined to the scan
	// root.
	FS Neighbours
	// Budget bounds the analysis like a walked file's.
	Budget *Budget
}

// DirAnalyzer is implemented by analysers of directory layouts (a Hugging
// Face model repository). The engine offers every walked directory to
// them; a directory that one matches gets an artifact of its own whose
// verdict also summarises every file below it.
type DirAnalyzer interface {
	// Name is the format reported for the directory ("hf-repo").
	Name() string
	// MatchDir decides from the directory's entries alone. It must be
	// cheap: it reads nothing.
	MatchDir(d *Dir) bool
	// AnalyzeDir reports findings about the layout as a whole (remote
	// code, references between files). Each file is still analysed on its
	// own by the file analysers.
	AnalyzeDir(ctx context.Context, d *Dir, out *Result) error
}
