// Package onnx analyses ONNX models: it walks the ModelProto (graph,
// nodes, initializers, opset imports, model-local functions, training
// graphs and every subgraph nested in node attributes) with a bounded
// protobuf walker, checks external-data references against the files
// beside the model, and flags operators from custom domains.
//
// Tensor bytes are skipped by offset and never read; external files are
// only stat'ed. Nothing is loaded with onnx or onnxruntime.
package onnx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/decode/pb"
	"github.com/aigis-dev/aigis/internal/rules"
)

// Analyzer is the ONNX format analyser.
type Analyzer struct{}

func (Analyzer) Name() string { return "onnx" }

var modelSpec = map[protowire.Number]protowire.Type{
	1: protowire.VarintType, 2: protowire.BytesType, 3: protowire.BytesType, 4: protowire.BytesType,
	5: protowire.VarintType, 6: protowire.BytesType, 7: protowire.BytesType, 8: protowire.BytesType,
	14: protowire.BytesType, 20: protowire.BytesType, 25: protowire.BytesType,
}

// Match accepts a ModelProto: leading fields of ModelProto's numbers and
// wire types, starting with a plausible ir_version (3 and up; TensorFlow's
// SavedModel starts the same way with version 1) or, for hand-assembled
// files in another field order, holding a graph.
func (Analyzer) Match(s *analyzer.Sniff) bool {
	h := s.Head
	if len(h) < 4 || !pb.Looks(h, modelSpec, 0) {
		return false
	}
	if h[0] == 0x08 {
		v, n := protowire.ConsumeVarint(h[1:])
		return n > 0 && v >= 3 && v <= 64
	}
	return hasGraph(h)
}

// hasGraph reports whether the head's top-level fields include a graph
// (field 7) and no implausible ir_version.
func hasGraph(b []byte) bool {
	graph := false
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return graph
		}
		if num == modelGraph {
			graph = true
		}
		m := protowire.ConsumeFieldValue(num, typ, b[k:])
		if num == 1 && typ == protowire.VarintType && m > 0 {
			if v, _ := protowire.ConsumeVarint(b[k:]); v < 3 || v > 64 {
				return false
			}
		}
		if m < 0 {
			return graph
		}
		b = b[k+m:]
	}
	return graph
}

// Field numbers from onnx.proto.
const (
	modelGraph    = 7
	modelOpset    = 8
	modelTraining = 20
	modelFuncs    = 25

	graphNode       = 1
	graphInit       = 5
	graphSparseInit = 15

	nodeOpType = 4
	nodeAttr   = 5
	nodeDomain = 7

	attrT       = 5
	attrG       = 6
	attrSparse  = 22
	attrTensors = 10
	attrGraphs  = 11
	attrSparses = 23

	tensorName     = 8
	tensorExternal = 13
	tensorLocation = 14

	funcNode   = 7
	funcDomain = 10
	funcOpset  = 9

	sparseValues  = 1
	sparseIndices = 2

	trainInit = 1
	trainAlgo = 2

	maxNodes = 10_000_000
	// Bounds on what is remembered while walking.
	maxExternal = 1 << 20
	maxDomains  = 1 << 12
	maxOpsets   = 1 << 10
)

type walker struct {
	ctx   context.Context
	r     *pb.Reader
	in    *analyzer.Input
	out   *analyzer.Result
	rs    *rules.Set
	nodes int
	// domains used by nodes, with the first op seen and a count
	domains map[string]*use
	local   map[string]bool // domains defined by model-local functions
	ext     []external
	opsets  []string
}

type use struct {
	op    string
	count int
	off   int64
}

type external struct {
	tensor           string
	location         string
	offset, length   int64
	hasLen, hasCheck bool
	off              int64
}

func (Analyzer) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return err
	}
	w := &walker{ctx: ctx, r: pb.NewReader(ra, size), in: in, out: out, rs: rules.Format("onnx"),
		domains: map[string]*use{}, local: map[string]bool{}}
	if err := w.model(); err != nil {
		var pe *pb.Error
		switch {
		case errors.As(err, &pe):
			out.Problem(ctx, pe.Off, "onnx protobuf", err)
		case analyzer.IsLimit(err), errors.Is(err, io.ErrUnexpectedEOF), ctx.Err() != nil:
			out.Problem(ctx, 0, "onnx protobuf", err)
		default:
			return err
		}
	}
	w.report()
	// The facts are read by their own bounded pass over the top level
	// and the main graph, which judges nothing: a model whose nodes
	// are malformed still states its producer and weights.
	if ctx.Err() == nil {
		if s, err := ReadSummary(ra, size); err == nil {
			summaryFacts(s, out.Model())
		}
	}
	if len(w.ext) > 0 {
		out.Model().ExternalData = true
	}
	return nil
}

func (w *walker) model() error {
	return w.r.Walk(0, w.r.Size(), 0, func(f pb.Field) error {
		switch f.Num {
		case modelGraph:
			return w.graph(f, 1)
		case modelOpset:
			return w.r.Walk(f.Off, f.Off+f.Len, 1, func(g pb.Field) error {
				if g.Num == 1 {
					d, err := w.r.String(g, 4096)
					if len(w.opsets) < maxOpsets {
						w.opsets = append(w.opsets, d)
					}
					return err
				}
				return nil
			})
		case modelTraining:
			return w.r.Walk(f.Off, f.Off+f.Len, 1, func(g pb.Field) error {
				if g.Num == trainInit || g.Num == trainAlgo {
					return w.graph(g, 2)
				}
				return nil
			})
		case modelFuncs:
			return w.function(f, 1)
		}
		return nil
	})
}

func (w *walker) function(f pb.Field, depth int) error {
	// The domain must be known before nodes are judged: collect it first.
	err := w.r.Walk(f.Off, f.Off+f.Len, depth, func(g pb.Field) error {
		if g.Num == funcDomain {
			d, err := w.r.String(g, 4096)
			w.local[d] = true
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return w.r.Walk(f.Off, f.Off+f.Len, depth, func(g pb.Field) error {
		if g.Num == funcNode {
			return w.node(g, depth+1)
		}
		return nil
	})
}

func (w *walker) graph(f pb.Field, depth int) error {
	if f.Type != protowire.BytesType {
		return &pb.Error{Off: f.Off, Msg: "graph is not a message"}
	}
	return w.r.Walk(f.Off, f.Off+f.Len, depth, func(g pb.Field) error {
		switch g.Num {
		case graphNode:
			return w.node(g, depth+1)
		case graphInit:
			return w.tensor(g, depth+1)
		case graphSparseInit:
			return w.sparse(g, depth+1)
		}
		return nil
	})
}

func (w *walker) node(f pb.Field, depth int) error {
	w.nodes++
	if w.nodes > maxNodes {
		return &analyzer.LimitError{What: "onnx nodes", Limit: maxNodes}
	}
	if w.nodes%4096 == 0 && w.ctx.Err() != nil {
		return w.ctx.Err()
	}
	var op, domain string
	err := w.r.Walk(f.Off, f.Off+f.Len, depth, func(g pb.Field) error {
		var err error
		switch g.Num {
		case nodeOpType:
			op, err = w.r.String(g, 4096)
		case nodeDomain:
			domain, err = w.r.String(g, 4096)
		case nodeAttr:
			err = w.attribute(g, depth+1)
		}
		return err
	})
	if u := w.domains[domain]; u != nil {
		u.count++
	} else if len(w.domains) < maxDomains {
		w.domains[domain] = &use{op: op, count: 1, off: f.Off}
	} else if err == nil {
		err = &analyzer.LimitError{What: "onnx operator domains", Limit: maxDomains}
	}
	return err
}

func (w *walker) attribute(f pb.Field, depth int) error {
	return w.r.Walk(f.Off, f.Off+f.Len, depth, func(g pb.Field) error {
		switch g.Num {
		case attrG, attrGraphs:
			return w.graph(g, depth+1)
		case attrT, attrTensors:
			return w.tensor(g, depth+1)
		case attrSparse, attrSparses:
			return w.sparse(g, depth+1)
		}
		return nil
	})
}

func (w *walker) sparse(f pb.Field, depth int) error {
	return w.r.Walk(f.Off, f.Off+f.Len, depth, func(g pb.Field) error {
		if g.Num == sparseValues || g.Num == sparseIndices {
			return w.tensor(g, depth+1)
		}
		return nil
	})
}

func (w *walker) tensor(f pb.Field, depth int) error {
	e := external{off: f.Off, offset: 0}
	isExternal := false
	err := w.r.Walk(f.Off, f.Off+f.Len, depth, func(g pb.Field) error {
		switch g.Num {
		case tensorName:
			s, err := w.r.String(g, 1<<16)
			e.tensor = s
			return err
		case tensorLocation:
			isExternal = g.V == 1
		case tensorExternal:
			var k, v string
			err := w.r.Walk(g.Off, g.Off+g.Len, depth+1, func(h pb.Field) error {
				var err error
				switch h.Num {
				case 1:
					k, err = w.r.String(h, 4096)
				case 2:
					v, err = w.r.String(h, 1<<16)
				}
				return err
			})
			if err != nil {
				return err
			}
			switch k {
			case "location":
				e.location = v
			case "offset":
				e.offset, _ = strconv.ParseInt(v, 10, 64)
			case "length":
				e.length, _ = strconv.ParseInt(v, 10, 64)
				e.hasLen = true
			}
		}
		return nil
	})
	if isExternal || e.location != "" {
		if len(w.ext) >= maxExternal {
			return &analyzer.LimitError{What: "onnx external tensors", Limit: maxExternal}
		}
		w.ext = append(w.ext, e)
	}
	return err
}

func (w *walker) report() {
	w.out.SetProperty("onnx.nodes", fmt.Sprint(w.nodes))
	if len(w.opsets) > 0 {
		w.out.SetProperty("onnx.opset_domains", strings.Join(dedupe(w.opsets), ","))
	}
	std := w.rs.List("standard_domains")
	var doms []string
	for d := range w.domains {
		doms = append(doms, d)
	}
	sort.Strings(doms)
	for _, d := range doms {
		if std.Has(d) || w.local[d] {
			continue
		}
		u := w.domains[d]
		w.out.Add(rules.New(rules.OnnxCustomDomain, w.out.At(u.off),
			fmt.Sprintf("%d nodes use operators from the custom domain %q (first: %s)", u.count, d, u.op)))
	}
	w.externals()
}

// externals checks every external-data reference. Locations are judged
// on their own first (a traversal is malicious wherever the model lies),
// then resolved beside the model when the engine allows it.
func (w *walker) externals() {
	if len(w.ext) == 0 {
		return
	}
	w.out.SetProperty("onnx.external_tensors", fmt.Sprint(len(w.ext)))
	nb := w.in.Neighbours
	unchecked := 0
	type fileUse struct {
		end    int64
		tensor string
		off    int64
	}
	need := map[string]*fileUse{}
	for _, e := range w.ext {
		loc := w.out.At(e.off)
		if e.location == "" {
			w.out.Add(rules.New(rules.OnnxExternalDataMissing, loc, fmt.Sprintf("tensor %q is stored externally but names no location", e.tensor)))
			continue
		}
		if why := escapes(e.location); why != "" {
			w.out.Add(rules.New(rules.OnnxExternalDataTraversal, loc,
				fmt.Sprintf("tensor %q keeps its data at %q, which %s", e.tensor, e.location, why)))
			continue
		}
		clean := path.Clean(strings.ReplaceAll(e.location, "\\", "/"))
		u := need[clean]
		if u == nil {
			u = &fileUse{tensor: e.tensor, off: e.off}
			need[clean] = u
		}
		if e.hasLen && e.offset+e.length > u.end {
			u.end, u.tensor = e.offset+e.length, e.tensor
		}
	}
	var names []string
	for n := range need {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		u := need[name]
		loc := w.out.At(u.off)
		if nb == nil {
			unchecked++
			continue
		}
		st, err := nb.Lstat(name)
		switch {
		case err == nil && st.Mode()&fs.ModeSymlink != 0:
			w.out.Add(rules.New(rules.OnnxExternalDataSymlink, loc, fmt.Sprintf("external data file %q is a symbolic link", name)))
		case err != nil:
			w.out.Add(rules.New(rules.OnnxExternalDataMissing, loc, fmt.Sprintf("external data file %q (tensor %q) is missing or unreadable: %v", name, u.tensor, err)))
		case !st.Mode().IsRegular():
			w.out.Add(rules.New(rules.OnnxExternalDataMissing, loc, fmt.Sprintf("external data %q is not a regular file", name)))
		case st.Size() < u.end:
			w.out.Add(rules.New(rules.OnnxExternalDataMissing, loc, fmt.Sprintf("external data file %q has %d bytes but tensor %q needs %d", name, st.Size(), u.tensor, u.end)))
		}
	}
	if unchecked > 0 {
		w.out.Add(rules.New(rules.OnnxExternalDataUnchecked, w.out.Here(), fmt.Sprintf("%d external data files could not be checked", unchecked)))
	}
}

// escapes explains why an external-data location leaves the model
// directory, or returns "".
func escapes(loc string) string {
	l := strings.ReplaceAll(loc, "\\", "/")
	switch {
	case strings.ContainsRune(loc, 0):
		return "contains a NUL byte"
	case strings.HasPrefix(l, "/") || len(l) >= 2 && l[1] == ':':
		return "is an absolute path"
	case strings.HasPrefix(l, "~"):
		return "starts from a home directory"
	}
	for _, p := range strings.Split(l, "/") {
		if p == ".." {
			return "climbs out of the model directory with .."
		}
	}
	return ""
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if x == "" {
			x = "ai.onnx"
		}
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
