package gguf_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/aigis-dev/aigis/analyzer/gguf"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

const benignTemplate = `{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}`

func model(template string, extra ...testutil.GGUFKV) []byte {
	kvs := []testutil.GGUFKV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.alignment", Value: uint32(32)},
		{Key: "tokenizer.ggml.tokens", Value: []string{"a", "b", "c"}},
		{Key: "tokenizer.ggml.token_type", Value: []int32{1, 1, 1}},
	}
	if template != "" {
		kvs = append(kvs, testutil.GGUFKV{Key: "tokenizer.chat_template", Value: template})
	}
	kvs = append(kvs, extra...)
	return testutil.GGUF(kvs, []testutil.GGUFTensor{{Name: "tok_embd.weight", Dims: []uint64{4, 3}, Type: 0}, {Name: "q", Dims: []uint64{32}, Type: 8, Offset: 64}}, make([]byte, 64+34))
}

// setU64 overwrites the little-endian u64 at off.
func setU64(b []byte, off int, v uint64) []byte {
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint64(b[off:], v)
	return b
}

func TestGGUF(t *testing.T) {
	good := model(benignTemplate)
	scantest.Run(t, []scantest.Case{
		{Name: "BenignTemplate", File: "m.gguf", Data: good, Verdict: report.Clean, Format: "gguf"},
		{Name: "NoTemplate", File: "m.gguf", Data: model(""), Verdict: report.Clean},
		{Name: "SSTISubclasses", File: "m.gguf", Data: model(`{{ ''.__class__.__mro__[1].__subclasses__() }}`), Verdict: report.Malicious, Rules: []string{"jinja-dunder-access"}},
		{Name: "SSTIObfuscatedAttrJoin", File: "m.gguf", Data: model(`{% for m in messages %}{{ m|attr(["_"*2,"globals","_"*2]|join) }}{% endfor %}`), Verdict: report.Malicious},
		{Name: "SSTIInNamedTemplate", File: "m.gguf", Data: model(benignTemplate, testutil.GGUFKV{Key: "tokenizer.chat_template.tool_use", Value: `{{ cycler.__init__.__globals__.os.popen('id').read() }}`}), Verdict: report.Malicious, InMsg: "tool_use"},
		{Name: "UnsupportedVersion", Data: append([]byte("GGUF\x01\x00\x00\x00"), make([]byte, 16)...), Verdict: report.Invalid},
		{Name: "HugeTensorCount", Data: setU64(good, 8, 1<<62), Verdict: report.Invalid, InMsg: "tensor count"},
		{Name: "HugeKVCount", Data: setU64(good, 16, 1<<40), Verdict: report.Invalid, InMsg: "metadata count"},
		{Name: "HugeKeyLength", Data: setU64(good, 24, 1<<60), Verdict: report.Invalid},
		{Name: "Truncated", File: "m.gguf", Data: good[:len(good)-10], Verdict: report.Invalid},
		{Name: "TruncatedHeader", File: "m.gguf", Data: good[:100], Verdict: report.Invalid},
		{Name: "TensorPastEnd", Data: testutil.GGUF(nil, []testutil.GGUFTensor{{Name: "w", Dims: []uint64{1 << 20}}}, make([]byte, 16)), Verdict: report.Invalid, InMsg: "past the end"},
		{Name: "TensorOffsetHuge", Data: testutil.GGUF(nil, []testutil.GGUFTensor{{Name: "w", Dims: []uint64{4}, Offset: 1<<63 - 32}}, make([]byte, 16)), Verdict: report.Invalid},
		{Name: "TensorsOverlap", Data: testutil.GGUF(nil, []testutil.GGUFTensor{{Name: "a", Dims: []uint64{16}}, {Name: "b", Dims: []uint64{16}, Offset: 32}}, make([]byte, 128)), Verdict: report.Invalid, InMsg: "overlap"},
		{Name: "MisalignedOffset", Data: testutil.GGUF(nil, []testutil.GGUFTensor{{Name: "a", Dims: []uint64{4}, Offset: 4}}, make([]byte, 64)), Verdict: report.Invalid, InMsg: "alignment"},
		{Name: "DimsOverflow", Data: testutil.GGUF(nil, []testutil.GGUFTensor{{Name: "a", Dims: []uint64{1 << 40, 1 << 40}}}, nil), Verdict: report.Invalid, InMsg: "overflow"},
		{Name: "ScalarTensor", Data: testutil.GGUF(nil, []testutil.GGUFTensor{{Name: "s", Dims: nil}}, make([]byte, 32)), Verdict: report.Clean},
		{Name: "TooManyDims", Data: testutil.GGUF(nil, []testutil.GGUFTensor{{Name: "a", Dims: []uint64{1, 1, 1, 1, 1}}}, make([]byte, 32)), Verdict: report.Invalid},
		{Name: "DuplicateKey", Data: model(benignTemplate, testutil.GGUFKV{Key: "general.architecture", Value: "x"}), Verdict: report.Invalid, InMsg: "twice"},
		{Name: "BadAlignment", Data: testutil.GGUF([]testutil.GGUFKV{{Key: "general.alignment", Value: uint32(3)}}, nil, nil), Verdict: report.Invalid, InMsg: "power of two"},
		{Name: "TrailingData", File: "m.gguf", Data: append(bytes.Clone(good), make([]byte, 4096)...), Verdict: report.Suspicious, Rules: []string{"gguf-trailing-data"}},
		{Name: "GarbageNamedGGUF", File: "m.gguf", Data: []byte("garbage"), Verdict: report.Invalid},
	})
}

func FuzzParse(f *testing.F) {
	f.Add(model(benignTemplate))
	f.Add(model(`{{ ''.__class__ }}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		scantest.Fuzz(t, b, "m.gguf")
		if g, err := gguf.Parse(bytes.NewReader(b), int64(len(b))); err == nil && g.DataEnd > int64(len(b)) {
			t.Fatalf("accepted data past the end: %d > %d", g.DataEnd, len(b))
		}
	})
}

// Text renders every scalar exactly (64-bit integers too) and refuses
// arrays; ParseMetadata reads the key/values of a file whose tensor table
// Parse refuses.
func TestTextAndParseMetadata(t *testing.T) {
	le := binary.LittleEndian
	var kvs []byte
	n := 0
	kv := func(key string, typ uint32, val []byte) {
		kvs = le.AppendUint64(kvs, uint64(len(key)))
		kvs = append(kvs, key...)
		kvs = le.AppendUint32(kvs, typ)
		kvs = append(kvs, val...)
		n++
	}
	kv("u64", 10, le.AppendUint64(nil, 1<<53+1))
	kv("i64", 11, le.AppendUint64(nil, 1<<64-(1<<53+1)))
	kv("i8", 1, []byte{0xff})
	kv("u8", 0, []byte{200})
	kv("bool", 7, []byte{1})
	kv("f32", 6, le.AppendUint32(nil, 0x3dcccccd)) // 0.1f
	kv("f64", 12, le.AppendUint64(nil, 0x3fb999999999999a))
	kv("str", 8, append(le.AppendUint64(nil, 5), "hello"...))
	kv("arr", 9, le.AppendUint64(le.AppendUint32(nil, 4), 0))
	b := le.AppendUint32([]byte("GGUF"), 3)
	b = le.AppendUint64(b, 1)
	b = le.AppendUint64(b, uint64(n))
	b = append(b, kvs...)
	// One F32 tensor of 1<<20 elements, with no data.
	b = le.AppendUint64(b, 1)
	b = append(b, 'w')
	b = le.AppendUint32(b, 1)
	b = le.AppendUint64(b, 1<<20)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint64(b, 0)
	b = append(b, make([]byte, 64)...)
	if _, err := gguf.Parse(bytes.NewReader(b), int64(len(b))); err == nil {
		t.Fatal("tensor data past the end accepted")
	}
	f, err := gguf.ParseMetadata(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"u64": "9007199254740993", "i64": "-9007199254740993", "i8": "-1", "u8": "200", "bool": "true", "f32": "0.1", "f64": "0.1", "str": "hello"}
	if len(f.KVs) != n || len(f.Tensors) != 0 {
		t.Fatalf("%d keys, %d tensors", len(f.KVs), len(f.Tensors))
	}
	for _, kv := range f.KVs {
		got, ok := kv.Text()
		if w, scalar := want[kv.Key]; ok != scalar || got != w {
			t.Errorf("%s: %q %v, want %q %v", kv.Key, got, ok, w, scalar)
		}
	}
	// ParseMetadata keeps Parse's checks on the metadata itself.
	if _, err := gguf.ParseMetadata(bytes.NewReader(b[:40]), 40); err == nil {
		t.Error("truncated metadata accepted")
	}
}
