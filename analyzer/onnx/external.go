package onnx

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/decode/pb"
	"github.com/aigis-dev/aigis/internal/rules"
)

// ExternalData recognises a file that an ONNX model beside it keeps
// tensors in (TensorProto.data_location EXTERNAL, onnx's
// save_as_external_data): raw numbers, which no analyser recognises by
// their content. It is never chosen by content (Match is false); the
// engine offers it the files nothing matched (analyzer.ReferenceAnalyzer)
// and it claims those that a sibling *.onnx model names. Such a file is
// format onnx-external-data, clean when every range a model reads from
// it lies inside it.
//
// The models are the *.onnx files of the same directory (of the scan
// root, or of a zip bundle), read once per directory and up to
// maxReferringModel bytes each; their data is never read.
type ExternalData struct{}

func (ExternalData) Name() string { return "onnx-external-data" }

// Match is false: external data is raw bytes, recognised by reference.
func (ExternalData) Match(*analyzer.Sniff) bool { return false }

func (ExternalData) Analyze(context.Context, *analyzer.Input, *analyzer.Result) error {
	return analyzer.ErrNotFormat
}

// maxReferringModel bounds a sibling model read to learn what it
// references; a model that keeps its weights outside is small.
const maxReferringModel = 64 << 20

// maxSiblingModels bounds the models read per directory.
const maxSiblingModels = 256

// extUse is one range a model reads from an external data file.
type extUse struct {
	model, tensor  string
	offset, length int64
	hasLen         bool
}

// dirRefs is what the models of one directory read from the files beside
// them, by file name.
type dirRefs map[string][]extUse

// AnalyzeReferenced claims in when a model beside it names it as external
// data, and checks the ranges the models read.
func (ExternalData) AnalyzeReferenced(ctx context.Context, in *analyzer.Input, out *analyzer.Result) (bool, error) {
	nb := in.Neighbours
	if _, ok := nb.(analyzer.NeighbourLister); !ok || in.Hint == "" || in.Size() < 0 {
		return false, nil
	}
	var refs dirRefs
	if m, ok := nb.(analyzer.NeighbourMemo); ok {
		refs, _ = m.Memo("onnx-external-data", func() any { return siblingRefs(ctx, nb) }).(dirRefs)
	} else {
		refs = siblingRefs(ctx, nb)
	}
	uses := refs[in.Hint]
	if len(uses) == 0 {
		return false, nil
	}
	size := in.Size()
	var models []string
	for _, u := range uses {
		models = append(models, u.model)
		end := u.offset
		if u.hasLen {
			end += u.length
		}
		if u.offset < 0 || u.length < 0 || end < u.offset || end > size {
			out.Add(rules.New(rules.OnnxExternalDataMissing, out.Here(), fmt.Sprintf("model %q reads tensor %q from bytes %d to %d of this file, which has %d", u.model, u.tensor, u.offset, end, size)))
		}
	}
	sort.Strings(models)
	out.SetProperty("onnx.external_data_of", strings.Join(dedupe(models), ","))
	out.SetProperty("onnx.external_tensors", fmt.Sprint(len(uses)))
	return true, nil
}

// siblingRefs reads the *.onnx models of the directory and collects the
// external data they read from files in the same directory.
func siblingRefs(ctx context.Context, nb analyzer.Neighbours) dirRefs {
	refs := dirRefs{}
	entries, err := nb.(analyzer.NeighbourLister).ReadDir(".")
	if err != nil {
		return refs
	}
	models := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(strings.ToLower(e.Name()), ".onnx") {
			continue
		}
		if models++; models > maxSiblingModels || ctx.Err() != nil {
			break
		}
		b, err := nb.ReadFile(e.Name(), maxReferringModel)
		if err != nil {
			continue
		}
		w := &walker{ctx: ctx, r: pb.NewReader(analyzer.Bytes(b), int64(len(b))), domains: map[string]*use{}, local: map[string]bool{}}
		w.model() // a malformed model is reported on its own; what it names still counts
		for _, x := range w.ext {
			if x.location == "" || escapes(x.location) != "" {
				continue
			}
			name := path.Clean(strings.ReplaceAll(x.location, "\\", "/"))
			if path.Dir(name) != "." {
				continue // in a subdirectory: offered with other neighbours
			}
			if len(refs[name]) < maxExternal {
				refs[name] = append(refs[name], extUse{model: e.Name(), tensor: x.tensor, offset: x.offset, length: x.length, hasLen: x.hasLen})
			}
		}
	}
	return refs
}
