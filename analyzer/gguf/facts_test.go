package gguf_test

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

// ggufModel is a valid GGUF v3 file: t0 is two rows of rowLen Q4_K
// elements (2 blocks of 144 bytes when rowLen is 256), t1 16 F32
// elements.
func ggufModel(rowLen uint64) []byte {
	kvs := []testutil.GGUFKV{
		{Key: "general.architecture", Value: "llama"},
		// Real chat templates often exceed the 4 KiB kept for other values.
		{Key: "tokenizer.chat_template", Value: strings.Repeat("{{ message }}", 600)},
		{Key: "general.name", Value: "Tiny Llama"},
		{Key: "general.license", Value: "llama3"},
		{Key: "general.file_type", Value: uint32(15)},
		{Key: "llama.context_length", Value: uint32(4096)},
		{Key: "general.base_model.count", Value: uint32(2)},
		{Key: "general.base_model.0.repo_url", Value: "https://huggingface.co/meta-llama/Llama-3-8B"},
		{Key: "general.base_model.1.organization", Value: "acme"},
		{Key: "general.base_model.1.name", Value: "base"},
		{Key: "tokenizer.ggml.tokens", Value: []string{"a", "b"}},
	}
	ts := []testutil.GGUFTensor{{Name: "t0", Dims: []uint64{rowLen, 2}, Type: 12}, {Name: "t1", Dims: []uint64{16}, Type: 0, Offset: 288}}
	return testutil.GGUF(kvs, ts, make([]byte, 288+64))
}

func TestFacts(t *testing.T) {
	a := scantest.Bytes(t, "m.gguf", ggufModel(256))
	m := a.Model
	if m == nil {
		t.Fatalf("no facts%s", scantest.Dump(a))
	}
	if m.Architecture != "llama" || m.Name != "Tiny Llama" || m.License != "llama3" || m.Quantization != "Q4_K_M" || m.Parameters != 528 ||
		m.Tensors != 2 || !slices.Equal(m.DTypes, []string{"F32", "Q4_K"}) || !m.ChatTemplate {
		t.Errorf("%+v", m)
	}
	if !slices.Equal(m.BaseModels, []string{"https://huggingface.co/meta-llama/Llama-3-8B", "acme/base"}) {
		t.Errorf("base models %v", m.BaseModels)
	}
	if !slices.Equal(m.Meta, []report.KV{{Key: "context_length", Value: "4096"}}) {
		t.Errorf("meta %v", m.Meta)
	}
	// A Q4_K row of 4 elements is not a whole number of 256-element
	// blocks: the tensor table is rejected, but what the metadata
	// declares stays a fact, without a parameter count.
	a = scantest.Bytes(t, "m.gguf", ggufModel(4))
	if a.Verdict != report.Invalid || a.Model == nil || a.Model.Architecture != "llama" || a.Model.Quantization != "Q4_K_M" ||
		a.Model.Parameters != 0 || a.Model.DTypes != nil || !a.Model.ChatTemplate {
		t.Errorf("metadata of a malformed tensor table: %+v%s", a.Model, scantest.Dump(a))
	}
	// An unknown file type is named by its number.
	a = scantest.Bytes(t, "m.gguf", testutil.GGUF([]testutil.GGUFKV{{Key: "general.file_type", Value: uint32(99)}}, nil, nil))
	if a.Model == nil || a.Model.Quantization != "file_type 99" || a.Model.ChatTemplate {
		t.Errorf("%+v", a.Model)
	}
	hdr := func(v ...uint64) []byte {
		b := []byte("GGUF")
		b = binary.LittleEndian.AppendUint32(b, 3)
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, x)
		}
		return b
	}
	for name, h := range map[string][]byte{
		"huge kv count": hdr(0, math.MaxUint64),
		"huge string":   append(append(hdr(0, 1, 1), 'k', 8, 0, 0, 0), binary.LittleEndian.AppendUint64(nil, 1<<50)...),
		"v1":            binary.LittleEndian.AppendUint32([]byte("GGUF"), 1),
	} {
		if a := scantest.Bytes(t, "m.gguf", h); a.Model != nil || a.Verdict != report.Invalid {
			t.Errorf("%s: %+v%s", name, a.Model, scantest.Dump(a))
		}
	}
}
