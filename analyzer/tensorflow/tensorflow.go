// Package tensorflow analyses TensorFlow SavedModel protobufs
// (saved_model.pb), frozen GraphDef files and TFLite flatbuffers: it lists
// the operations of every graph and function library (or every TFLite
// operator code) and checks them against rules/formats/tensorflow.yaml.
//
// It walks the protobuf with a bounded reader and the flatbuffer with
// bounds-checked offsets; nothing is loaded with TensorFlow and tensor
// contents are never read.
package tensorflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/decode/pb"
	"github.com/aigis-dev/aigis/internal/rules"
)

// SavedModel analyses saved_model.pb and frozen GraphDef protobufs.
type SavedModel struct{}

func (SavedModel) Name() string { return "tf-savedmodel" }

var (
	savedModelSpec = map[protowire.Number]protowire.Type{1: protowire.VarintType, 2: protowire.BytesType}
	graphDefSpec   = map[protowire.Number]protowire.Type{1: protowire.BytesType, 2: protowire.BytesType, 3: protowire.VarintType, 4: protowire.BytesType}
	nodeDefSpec    = map[protowire.Number]protowire.Type{1: protowire.BytesType, 2: protowire.BytesType, 3: protowire.BytesType, 4: protowire.BytesType, 5: protowire.BytesType, 6: protowire.BytesType, 7: protowire.BytesType}
)

// Match accepts a SavedModel (schema version 1, then meta graphs) or a
// GraphDef whose first node has a name and an op.
func (SavedModel) Match(s *analyzer.Sniff) bool {
	h := s.Head
	if len(h) >= 3 && h[0] == 0x08 && h[1] <= 1 && h[2] == 0x12 {
		return pb.Looks(h, savedModelSpec, 1)
	}
	if len(h) < 4 || h[0] != 0x0a || !pb.Looks(h, graphDefSpec, 1) {
		return false
	}
	l, n := protowire.ConsumeVarint(h[1:])
	if n < 0 {
		return false
	}
	node := h[1+n:]
	if uint64(len(node)) > l {
		node = node[:l]
	}
	return len(node) > 2 && node[0] == 0x0a && pb.Looks(node, nodeDefSpec, 1) && containsField(node, 2)
}

func containsField(b []byte, want protowire.Number) bool {
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return false
		}
		if num == want {
			return true
		}
		m := protowire.ConsumeFieldValue(num, typ, b[k:])
		if m < 0 {
			return false
		}
		b = b[k+m:]
	}
	return false
}

type ops struct {
	count map[string]int
	first map[string]int64
	n     int
	lost  int // operations not recorded (over maxDistinctOps)
}

// maxDistinctOps bounds the operation names remembered; real graphs use a
// few hundred.
const maxDistinctOps = 1 << 14

func (o *ops) add(op string, off int64) {
	o.n++
	if _, ok := o.count[op]; !ok {
		if len(o.count) >= maxDistinctOps {
			o.lost++
			return
		}
		o.first[op] = off
	}
	o.count[op]++
}

const maxOps = 10_000_000

func (SavedModel) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return err
	}
	r := pb.NewReader(ra, size)
	o := &ops{count: map[string]int{}, first: map[string]int64{}}
	var node, graph, library, function func(f pb.Field, d int) error
	node = func(f pb.Field, d int) error {
		if o.n > maxOps {
			return &analyzer.LimitError{What: "graph operations", Limit: maxOps}
		}
		return r.Walk(f.Off, f.Off+f.Len, d, func(g pb.Field) error {
			if g.Num == 2 {
				op, err := r.String(g, 1024)
				o.add(op, f.Off)
				return err
			}
			return nil
		})
	}
	function = func(f pb.Field, d int) error {
		return r.Walk(f.Off, f.Off+f.Len, d, func(g pb.Field) error {
			if g.Num == 3 {
				return node(g, d+1)
			}
			return nil
		})
	}
	library = func(f pb.Field, d int) error {
		return r.Walk(f.Off, f.Off+f.Len, d, func(g pb.Field) error {
			if g.Num == 1 {
				return function(g, d+1)
			}
			return nil
		})
	}
	graph = func(f pb.Field, d int) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return r.Walk(f.Off, f.Off+f.Len, d, func(g pb.Field) error {
			switch g.Num {
			case 1:
				return node(g, d+1)
			case 2:
				return library(g, d+1)
			}
			return nil
		})
	}
	whole := pb.Field{Off: 0, Len: size}
	if h := in.Sniff().Head; len(h) > 0 && h[0] == 0x08 {
		out.SetFormat("tf-savedmodel")
		err = r.Walk(0, size, 0, func(f pb.Field) error {
			if f.Num != 2 || f.Type != protowire.BytesType {
				return nil
			}
			return r.Walk(f.Off, f.Off+f.Len, 1, func(g pb.Field) error {
				if g.Num == 2 && g.Type == protowire.BytesType {
					return graph(g, 2)
				}
				return nil
			})
		})
	} else {
		out.SetFormat("tf-graphdef")
		err = graph(whole, 0)
	}
	if err != nil {
		var pe *pb.Error
		switch {
		case errors.As(err, &pe):
			out.Problem(ctx, pe.Off, "tensorflow protobuf", err)
		case analyzer.IsLimit(err), errors.Is(err, io.ErrUnexpectedEOF), ctx.Err() != nil:
			out.Problem(ctx, 0, "tensorflow protobuf", err)
		default:
			return err
		}
	}
	if o.lost > 0 {
		out.Problem(ctx, 0, "tensorflow graph", &analyzer.LimitError{What: "distinct operation names", Limit: maxDistinctOps})
	}
	judge(o, "", out)
	return nil
}

// judge reports dangerous and file operations; prefix is "Flex" for
// TFLite Flex ops.
func judge(o *ops, prefix string, out *analyzer.Result) {
	rs := rules.Format("tensorflow")
	names := make([]string, 0, len(o.count))
	for op := range o.count {
		names = append(names, op)
	}
	sort.Strings(names)
	out.SetProperty("tf.ops", fmt.Sprint(len(names)))
	for _, op := range names {
		var id rules.ID
		switch {
		case rs.List("dangerous_ops").Has(op):
			id = rules.TfDangerousOp
		case rs.List("file_ops").Has(op):
			id = rules.TfFileOp
		default:
			continue
		}
		out.Add(rules.New(id, out.At(o.first[op]), fmt.Sprintf("operation %s%s is used %d times", prefix, op, o.count[op])))
	}
}

// isFlex reports whether a TFLite custom code names a Flex (TensorFlow)
// operation and returns the TensorFlow name.
func isFlex(code string) (string, bool) {
	return strings.CutPrefix(code, "Flex")
}
