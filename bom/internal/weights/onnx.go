package weights

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// ONNX bounds.
const (
	maxONNXFields  = 4 << 20
	maxONNXString  = 4096
	maxInitializer = 1 << 20
)

var onnxTypes = map[uint64]string{1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
	8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 16: "BFLOAT16",
	17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1"}

var onnxQuantised = map[string]bool{"UINT8": true, "INT8": true, "UINT4": true, "INT4": true, "FLOAT8E4M3FN": true, "FLOAT8E4M3FNUZ": true, "FLOAT8E5M2": true, "FLOAT8E5M2FNUZ": true, "FLOAT4E2M1": true}

// pb walks protobuf fields of one message in [off, end) through ReadAt,
// reading only tags, varints and the small fields asked for.
type pb struct {
	ra     io.ReaderAt
	fields int
}

func (p *pb) varint(off, end int64) (uint64, int64, error) {
	var buf [10]byte
	n := min(int64(len(buf)), end-off)
	if n <= 0 {
		return 0, off, io.ErrUnexpectedEOF
	}
	got, err := p.ra.ReadAt(buf[:n], off)
	if got < int(n) && err != nil && !errors.Is(err, io.EOF) {
		return 0, off, err
	}
	var v uint64
	for i := 0; i < got; i++ {
		v |= uint64(buf[i]&0x7f) << (7 * i)
		if buf[i] < 0x80 {
			return v, off + int64(i) + 1, nil
		}
	}
	return 0, off, errors.New("bad varint")
}

// field is one protobuf field: its number, wire type, and either a varint
// value or the span of its bytes.
type field struct {
	num        uint64
	wire       uint64
	v          uint64
	start, end int64
}

func (p *pb) each(off, end int64, fn func(f field) error) error {
	for off < end {
		if p.fields++; p.fields > maxONNXFields {
			return fmt.Errorf("onnx: more than %d protobuf fields read", maxONNXFields)
		}
		tag, next, err := p.varint(off, end)
		if err != nil {
			return fmt.Errorf("onnx: field tag at %d: %w", off, err)
		}
		f := field{num: tag >> 3, wire: tag & 7}
		switch f.wire {
		case 0:
			f.v, next, err = p.varint(next, end)
		case 1:
			next += 8
		case 5:
			next += 4
		case 2:
			var n uint64
			n, next, err = p.varint(next, end)
			if err == nil && n > uint64(end-next) {
				err = fmt.Errorf("a %d-byte field runs past its message", n)
			}
			f.start, f.end = next, next+int64(n)
			next = f.end
		default:
			err = fmt.Errorf("wire type %d is not supported", f.wire)
		}
		if err != nil {
			return fmt.Errorf("onnx: field %d at %d: %w", f.num, off, err)
		}
		if next > end {
			return fmt.Errorf("onnx: field %d at %d runs past its message", f.num, off)
		}
		if err := fn(f); err != nil {
			return err
		}
		off = next
	}
	return nil
}

func (p *pb) str(f field) string {
	n := min(f.end-f.start, maxONNXString)
	b := make([]byte, n)
	if _, err := p.ra.ReadAt(b, f.start); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return strings.ToValidUTF8(string(b), "?")
}

// ONNX reads ModelProto's producer, IR version and opsets, and the dims
// and types of the graph's initializers (field 5 of GraphProto) without
// reading their data.
func ONNX(ra io.ReaderAt, size int64) (*Facts, error) {
	p := &pb{ra: ra}
	f := &Facts{Format: "onnx"}
	var producer, producerVersion, ir string
	var opsets []string
	dtypes := map[string]bool{}
	err := p.each(0, size, func(m field) error {
		switch {
		case m.num == 1 && m.wire == 0:
			ir = strconv.FormatUint(m.v, 10)
		case m.num == 2 && m.wire == 2:
			producer = p.str(m)
		case m.num == 3 && m.wire == 2:
			producerVersion = p.str(m)
		case m.num == 8 && m.wire == 2 && len(opsets) < 64:
			var domain, version string
			if err := p.each(m.start, m.end, func(o field) error {
				if o.num == 1 && o.wire == 2 {
					domain = p.str(o)
				}
				if o.num == 2 && o.wire == 0 {
					version = strconv.FormatUint(o.v, 10)
				}
				return nil
			}); err != nil {
				return err
			}
			if domain == "" {
				domain = "ai.onnx"
			}
			opsets = append(opsets, domain+"="+version)
		case m.num == 7 && m.wire == 2:
			return p.each(m.start, m.end, func(g field) error {
				if g.num != 5 || g.wire != 2 {
					return nil
				}
				if f.Tensors++; f.Tensors > maxInitializer {
					return fmt.Errorf("onnx: more than %d initializers", maxInitializer)
				}
				numel, typ, err := p.tensor(g)
				if err != nil {
					return err
				}
				var ok bool
				if f.Parameters, ok = add(f.Parameters, numel); !ok {
					return errors.New("onnx: parameter count overflows")
				}
				if name, known := onnxTypes[typ]; known {
					dtypes[name] = true
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.DTypes = sortedKeys(dtypes)
	f.Quantization = quantised(f.DTypes, onnxQuantised)
	sort.Strings(opsets)
	if producer != "" {
		f.Meta = append(f.Meta, KV{"producer", strings.TrimSpace(producer + " " + producerVersion)})
	}
	if ir != "" {
		f.Meta = append(f.Meta, KV{"ir_version", ir})
	}
	if len(opsets) > 0 {
		f.Meta = append(f.Meta, KV{"opset", strings.Join(opsets, ",")})
	}
	return f, nil
}

// tensor reads a TensorProto's dims (field 1, packed or not) and
// data_type (field 2).
func (p *pb) tensor(t field) (int64, uint64, error) {
	var dims []int64
	var typ uint64
	err := p.each(t.start, t.end, func(f field) error {
		switch {
		case f.num == 1 && f.wire == 0:
			dims = append(dims, int64(f.v))
		case f.num == 1 && f.wire == 2:
			for off := f.start; off < f.end; {
				v, next, err := p.varint(off, f.end)
				if err != nil {
					return fmt.Errorf("onnx: packed dims: %w", err)
				}
				dims = append(dims, int64(v))
				off = next
				if len(dims) > 64 {
					return errors.New("onnx: tensor has more than 64 dimensions")
				}
			}
		case f.num == 2 && f.wire == 0:
			typ = f.v
		}
		if len(dims) > 64 {
			return errors.New("onnx: tensor has more than 64 dimensions")
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	n, ok := product(dims)
	if !ok {
		return 0, 0, errors.New("onnx: tensor element count overflows")
	}
	return n, typ, nil
}
