package tensorflow

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// TFLite analyses TFLite flatbuffers.
type TFLite struct{}

func (TFLite) Name() string { return "tflite" }

// Match accepts the TFLite file identifier.
func (TFLite) Match(s *analyzer.Sniff) bool {
	return len(s.Head) >= 8 && bytes.Equal(s.Head[4:8], []byte("TFL3"))
}

const maxTFLite = 64 << 20 // bytes of the flatbuffer read (ops tables sit near the start)

type fb struct {
	b []byte
}

var errFB = fmt.Errorf("flatbuffer offset out of bounds")

func (f *fb) u32(off int) (uint32, error) {
	if off < 0 || off+4 > len(f.b) {
		return 0, errFB
	}
	return binary.LittleEndian.Uint32(f.b[off:]), nil
}

// field returns the absolute position of field i of the table at t, or 0
// when absent.
func (f *fb) field(t, i int) (int, error) {
	so, err := f.u32(t)
	if err != nil {
		return 0, err
	}
	vt := t - int(int32(so))
	if vt < 0 || vt+4 > len(f.b) {
		return 0, errFB
	}
	vlen := int(binary.LittleEndian.Uint16(f.b[vt:]))
	if 4+2*i+2 > vlen || vt+4+2*i+2 > len(f.b) {
		return 0, nil
	}
	o := int(binary.LittleEndian.Uint16(f.b[vt+4+2*i:]))
	if o == 0 {
		return 0, nil
	}
	return t + o, nil
}

// deref follows a uoffset stored at p.
func (f *fb) deref(p int) (int, error) {
	v, err := f.u32(p)
	if err != nil {
		return 0, err
	}
	q := p + int(v)
	if q < 0 || q > len(f.b) {
		return 0, errFB
	}
	return q, nil
}

func (f *fb) vector(p int) (int, int, error) {
	v, err := f.deref(p)
	if err != nil {
		return 0, 0, err
	}
	n, err := f.u32(v)
	if err != nil {
		return 0, 0, err
	}
	if int64(n)*4 > int64(len(f.b)-v-4) {
		return 0, 0, errFB
	}
	return v + 4, int(n), nil
}

func (f *fb) str(p int) (string, error) {
	v, err := f.deref(p)
	if err != nil {
		return "", err
	}
	n, err := f.u32(v)
	if err != nil {
		return "", err
	}
	if int64(n) > int64(len(f.b)-v-4) {
		return "", errFB
	}
	return string(f.b[v+4 : v+4+int(n)]), nil
}

func (TFLite) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return err
	}
	n := min(size, maxTFLite)
	buf := make([]byte, n)
	if k, err := ra.ReadAt(buf, 0); int64(k) < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	f := &fb{b: buf}
	codes, err := operatorCodes(f)
	if err != nil {
		if size > maxTFLite {
			out.Problem(ctx, 0, "tflite", &analyzer.LimitError{What: "tflite bytes read", Limit: maxTFLite})
		} else {
			out.Problem(ctx, 0, "tflite flatbuffer", err)
		}
		return nil
	}
	flex := &ops{count: map[string]int{}, first: map[string]int64{}}
	custom := map[string]bool{}
	for _, c := range codes {
		if c.custom == "" {
			continue
		}
		if op, ok := isFlex(c.custom); ok {
			flex.add(op, int64(c.off))
			continue
		}
		if !custom[c.custom] {
			custom[c.custom] = true
			out.Add(rules.New(rules.TfliteCustomOp, out.At(int64(c.off)), fmt.Sprintf("custom operator %q", c.custom)))
		}
	}
	out.SetProperty("tflite.operator_codes", fmt.Sprint(len(codes)))
	modelFacts(f, out)
	if flex.n > 0 {
		judge(flex, "Flex", out)
	}
	return nil
}

type opCode struct {
	custom string
	off    int
}

func operatorCodes(f *fb) ([]opCode, error) {
	root, err := f.deref(0)
	if err != nil {
		return nil, err
	}
	p, err := f.field(root, 1)
	if err != nil || p == 0 {
		return nil, err
	}
	v, n, err := f.vector(p)
	if err != nil {
		return nil, err
	}
	var out []opCode
	for i := 0; i < n; i++ {
		t, err := f.deref(v + 4*i)
		if err != nil {
			return nil, err
		}
		c := opCode{off: t}
		cp, err := f.field(t, 1)
		if err != nil {
			return nil, err
		}
		if cp != 0 {
			if c.custom, err = f.str(cp); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// maxDescription bounds the model description kept as a fact (converters
// write "TOCO Converted." or "MLIR Converted.").
const maxDescription = 256

// modelFacts records the schema version (Model field 0) and the
// description (field 3), which names the converter, when they read.
func modelFacts(f *fb, out *analyzer.Result) {
	root, err := f.deref(0)
	if err != nil {
		return
	}
	var meta []report.KV
	if p, err := f.field(root, 3); err == nil && p != 0 {
		if d, err := f.str(p); err == nil && d != "" && len(d) <= maxDescription {
			meta = append(meta, report.KV{Key: "producer", Value: strings.ToValidUTF8(d, "?")})
		}
	}
	if p, err := f.field(root, 0); err == nil && p != 0 {
		if v, err := f.u32(p); err == nil {
			meta = append(meta, report.KV{Key: "schema_version", Value: strconv.FormatUint(uint64(v), 10)})
		}
	}
	if len(meta) > 0 {
		out.Model().Meta = meta
	}
}
