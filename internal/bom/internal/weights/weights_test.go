package weights

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
)

func st(header string) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), make([]byte, 64)...)
}

func TestSafetensors(t *testing.T) {
	b := st(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"I8","shape":[4],"data_offsets":[24,28]}}`)
	if Sniff(b, int64(len(b))) != "safetensors" {
		t.Fatal("not sniffed")
	}
	f, err := Safetensors(bytes.NewReader(b), int64(len(b)))
	if err != nil || f.Parameters != 10 || strings.Join(f.DTypes, ",") != "F32,I8" || f.Quantization != "I8" {
		t.Errorf("%+v %v", f, err)
	}
	for name, bad := range map[string][]byte{
		"length past end": binary.LittleEndian.AppendUint64(nil, 1<<40),
		"overflow":        st(`{"a":{"dtype":"F32","shape":[9223372036854775807,4]}}`),
		"negative":        st(`{"a":{"dtype":"F32","shape":[-1]}}`),
		"not json":        st(`{"a":`),
	} {
		if _, err := Safetensors(bytes.NewReader(bad), int64(len(bad))); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// ggufHdr builds a GGUF v3 header.
type ggufHdr struct{ b []byte }

func (g *ggufHdr) u32(v uint32) *ggufHdr { g.b = binary.LittleEndian.AppendUint32(g.b, v); return g }
func (g *ggufHdr) u64(v uint64) *ggufHdr { g.b = binary.LittleEndian.AppendUint64(g.b, v); return g }
func (g *ggufHdr) str(s string) *ggufHdr { g.u64(uint64(len(s))); g.b = append(g.b, s...); return g }

// ggufFile is a valid GGUF v3 file: t0 is two rows of 256 Q4_K elements
// (2 blocks of 144 bytes), t1 16 F32 elements, after the header padded to
// 32 bytes.
func ggufFile() []byte { return ggufFileRows(256) }

// ggufFileRows is ggufFile with rows of rowLen elements in t0.
func ggufFileRows(rowLen uint64) []byte {
	g := &ggufHdr{b: []byte("GGUF")}
	g.u32(3).u64(2).u64(6)
	g.str("general.architecture").u32(8).str("llama")
	// Real chat templates often exceed the 4 KiB kept for other values.
	g.str("tokenizer.chat_template").u32(8).str(strings.Repeat("{{ message }}", 600))
	g.str("general.name").u32(8).str("Tiny Llama")
	g.str("general.file_type").u32(4).u32(15)
	g.str("llama.context_length").u32(4).u32(4096)
	g.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(2).str("a").str("b")
	g.str("t0").u32(2).u64(rowLen).u64(2).u32(12).u64(0)
	g.str("t1").u32(1).u64(16).u32(0).u64(288)
	for len(g.b)%32 != 0 {
		g.b = append(g.b, 0)
	}
	return append(g.b, make([]byte, 288+64)...)
}

func TestGGUF(t *testing.T) {
	b := ggufFile()
	f, err := GGUF(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Architecture != "llama" || f.Name != "Tiny Llama" || f.Quantization != "Q4_K_M" || f.Parameters != 528 || strings.Join(f.DTypes, ",") != "F32,Q4_K" {
		t.Errorf("%+v", f)
	}
	if len(f.Meta) == 0 || f.Meta[0] != (KV{"context_length", "4096"}) || !slices.Contains(f.Meta, KV{"chat_template", "present"}) {
		t.Errorf("meta %v", f.Meta)
	}
	// The analyser's checks apply: a Q4_K row of 4 elements is not a
	// whole number of 256-element blocks, and a header whose tensor data
	// is missing is truncated.
	rows := ggufFileRows(4)
	if f, err := GGUF(bytes.NewReader(rows), int64(len(rows))); err == nil {
		t.Error("Q4_K row of 4 elements accepted")
	} else if f == nil || f.Architecture != "llama" || f.Quantization != "Q4_K_M" || f.Parameters != 0 || f.DTypes != nil {
		t.Errorf("metadata of a malformed tensor table: %+v", f)
	}
	if _, err := GGUF(bytes.NewReader(b[:len(b)-64]), int64(len(b)-64)); err == nil {
		t.Error("truncated tensor data accepted")
	}
	hostile := map[string][]byte{
		"huge kv count": (&ggufHdr{b: []byte("GGUF")}).u32(3).u64(0).u64(math.MaxUint64).b,
		"huge string":   (&ggufHdr{b: []byte("GGUF")}).u32(3).u64(0).u64(1).str("k").u32(8).u64(1 << 50).b,
		"huge array":    (&ggufHdr{b: []byte("GGUF")}).u32(3).u64(0).u64(1).str("k").u32(9).u32(12).u64(1 << 61).b,
		"bad type":      (&ggufHdr{b: []byte("GGUF")}).u32(3).u64(0).u64(1).str("k").u32(99).b,
		"many dims":     (&ggufHdr{b: []byte("GGUF")}).u32(3).u64(1).u64(0).str("t").u32(1000).b,
		"v1":            (&ggufHdr{b: []byte("GGUF")}).u32(1).b,
	}
	for name, h := range hostile {
		if _, err := GGUF(bytes.NewReader(h), int64(len(h))); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestONNX(t *testing.T) {
	// ir_version 8, producer "pytorch" "2.1", graph{initializer{dims 3,4; data_type 1; raw_data}}, opset {version 17}.
	tensor := []byte{0x08, 3, 0x08, 4, 0x10, 1, 0x4a, 4, 1, 2, 3, 4}
	graph := append([]byte{0x2a, byte(len(tensor))}, tensor...)
	b := []byte{0x08, 8, 0x12, 7}
	b = append(b, "pytorch"...)
	b = append(b, 0x1a, 3)
	b = append(b, "2.1"...)
	b = append(b, 0x3a, byte(len(graph)))
	b = append(b, graph...)
	b = append(b, 0x42, 2, 0x10, 17)
	if Sniff(b, int64(len(b))) != "onnx" {
		t.Fatal("not sniffed")
	}
	f, err := ONNX(bytes.NewReader(b), int64(len(b)))
	if err != nil || f.Parameters != 12 || strings.Join(f.DTypes, ",") != "FLOAT" {
		t.Fatalf("%+v %v", f, err)
	}
	if got := f.Meta; len(got) != 3 || got[0].Value != "pytorch 2.1" || got[2].Value != "ai.onnx=17" {
		t.Errorf("meta %v", got)
	}
	if _, err := ONNX(bytes.NewReader([]byte{0x08, 8, 0x3a, 0xff, 0xff, 0x03}), 6); err == nil {
		t.Error("graph past the end accepted")
	}
}

func FuzzHeaders(f *testing.F) {
	f.Add(st(`{"a":{"dtype":"F32","shape":[2]}}`))
	f.Add(ggufFile())
	f.Add([]byte{0x08, 8, 0x3a, 4, 0x2a, 2, 0x08, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range []string{"safetensors", "gguf", "onnx"} {
			if facts, err := Read(format, bytes.NewReader(b), int64(len(b))); err == nil && facts.Parameters < 0 {
				t.Fatal("negative parameter count")
			}
		}
		_ = Sniff(b, int64(len(b)))
	})
}
