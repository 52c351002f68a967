package onnx

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/aigis-dev/aigis/internal/decode/pb"
)

// Summary is what a ModelProto says about itself and about the
// initializers (weights) of its main graph. The analyser reads it with
// ReadSummary for the model facts, a pass of its own that judges nothing.
type Summary struct {
	// IRVersion is ir_version; HasIRVersion is false when the field is
	// absent.
	IRVersion    uint64
	HasIRVersion bool
	// Producer and ProducerVersion are producer_name and
	// producer_version, cut to MaxSummaryString bytes.
	Producer, ProducerVersion string
	// Opsets are the opset_import entries, in file order, at most
	// maxSummaryOpsets.
	Opsets []Opset
	// Initializers are the main graph's initializers, in file order.
	Initializers []Initializer
}

// Opset is one opset_import entry.
type Opset struct {
	Domain     string // "" is the default domain (ai.onnx)
	Version    uint64
	HasVersion bool
}

// Initializer is a TensorProto's element count and data_type (0 when
// absent); its data is never read.
type Initializer struct {
	Elements int64
	DataType uint64
}

// Bounds of ReadSummary.
const (
	// MaxSummaryString is the number of bytes kept of a string field.
	MaxSummaryString = 4096
	maxSummaryFields = 4 << 20 // protobuf fields visited
	maxSummaryInits  = 1 << 20 // initializers
	maxSummaryOpsets = 64
	maxSummaryDims   = 64
)

// ReadSummary reads ir_version, the producer, the opset imports and the
// dims and data_type of every initializer of the main graph (ModelProto
// field 7, GraphProto field 5), without reading tensor data, nodes or
// subgraphs. Unlike the analyser it judges nothing; it fails on malformed
// wire data, on an element count that overflows, and over its bounds
// (4M protobuf fields, 1M initializers, 64 dimensions per tensor).
func ReadSummary(ra io.ReaderAt, size int64) (*Summary, error) {
	s := &summary{r: pb.NewReader(ra, size)}
	err := s.walk(0, size, 0, func(m pb.Field) error {
		var err error
		switch {
		case m.Num == 1 && m.Type == protowire.VarintType:
			s.out.IRVersion, s.out.HasIRVersion = m.V, true
		case m.Num == 2 && m.Type == protowire.BytesType:
			s.out.Producer, err = s.str(m)
		case m.Num == 3 && m.Type == protowire.BytesType:
			s.out.ProducerVersion, err = s.str(m)
		case m.Num == modelOpset && m.Type == protowire.BytesType && len(s.out.Opsets) < maxSummaryOpsets:
			var o Opset
			err = s.walk(m.Off, m.Off+m.Len, 1, func(f pb.Field) error {
				var err error
				switch {
				case f.Num == 1 && f.Type == protowire.BytesType:
					o.Domain, err = s.str(f)
				case f.Num == 2 && f.Type == protowire.VarintType:
					o.Version, o.HasVersion = f.V, true
				}
				return err
			})
			s.out.Opsets = append(s.out.Opsets, o)
		case m.Num == modelGraph && m.Type == protowire.BytesType:
			err = s.walk(m.Off, m.Off+m.Len, 1, func(g pb.Field) error {
				if g.Num != graphInit || g.Type != protowire.BytesType {
					return nil
				}
				if len(s.out.Initializers) >= maxSummaryInits {
					return fmt.Errorf("more than %d initializers", maxSummaryInits)
				}
				t, err := s.tensor(g)
				s.out.Initializers = append(s.out.Initializers, t)
				return err
			})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &s.out, nil
}

type summary struct {
	r      *pb.Reader
	fields int
	out    Summary
}

// walk is pb.Reader.Walk with the field budget.
func (s *summary) walk(start, end int64, depth int, fn func(pb.Field) error) error {
	return s.r.Walk(start, end, depth, func(f pb.Field) error {
		if s.fields++; s.fields > maxSummaryFields {
			return fmt.Errorf("more than %d protobuf fields read", maxSummaryFields)
		}
		return fn(f)
	})
}

// str reads at most MaxSummaryString bytes of a string field.
func (s *summary) str(f pb.Field) (string, error) {
	f.Len = min(f.Len, MaxSummaryString)
	return s.r.String(f, MaxSummaryString)
}

// tensor reads a TensorProto's dims (field 1, packed or not) and
// data_type (field 2).
func (s *summary) tensor(t pb.Field) (Initializer, error) {
	var dims []uint64
	var in Initializer
	err := s.walk(t.Off, t.Off+t.Len, 2, func(f pb.Field) error {
		switch {
		case f.Num == 1 && f.Type == protowire.VarintType:
			dims = append(dims, f.V)
		case f.Num == 1 && f.Type == protowire.BytesType:
			// A varint takes at most 10 bytes: a longer field holds more
			// dimensions than allowed (or a bad varint).
			if f.Len > maxSummaryDims*10 {
				return fmt.Errorf("tensor has more than %d dimensions", maxSummaryDims)
			}
			b, err := s.r.Bytes(f, f.Len)
			if err != nil {
				return err
			}
			for len(b) > 0 {
				v, n := protowire.ConsumeVarint(b)
				if n < 0 {
					return errors.New("packed dims: bad varint")
				}
				dims = append(dims, v)
				b = b[n:]
				if len(dims) > maxSummaryDims {
					break
				}
			}
		case f.Num == 2 && f.Type == protowire.VarintType:
			in.DataType = f.V
		}
		if len(dims) > maxSummaryDims {
			return fmt.Errorf("tensor has more than %d dimensions", maxSummaryDims)
		}
		return nil
	})
	if err != nil {
		return in, err
	}
	n := uint64(1)
	for _, d := range dims {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > math.MaxInt64 || d > math.MaxInt64 {
			return in, errors.New("tensor element count overflows")
		}
		n = lo
	}
	in.Elements = int64(n)
	return in, nil
}
