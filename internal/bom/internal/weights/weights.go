// Package weights turns what the format analysers read from the headers
// of model weight files into the few facts a bill of materials records:
// the format, the parameter count, the dtypes, the quantisation and, for
// GGUF, the architecture, name, licence and base models from the
// key-value metadata.
//
// It parses nothing itself: headers are read, validated and bounded by
// analyzer/safetensors (ParseHeader), analyzer/gguf (Parse) and
// analyzer/onnx (ReadSummary), and formats are recognised by their Match
// functions. It never reads tensor data and does not judge safety (that is
// the scan verb's job). A header the analyser rejects is an error here, so
// a BOM records no parameter count from a file its format's parser
// refuses; only a GGUF file whose metadata is whole but whose tensor table
// is not still gives its metadata facts.
package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/gguf"
	"github.com/aigis-dev/aigis/analyzer/onnx"
	"github.com/aigis-dev/aigis/analyzer/safetensors"
)

// Facts are what a weight file's header says.
type Facts struct {
	Format       string // "safetensors", "gguf", "onnx"
	Parameters   int64  // 0 when unknown
	Tensors      int
	DTypes       []string // distinct tensor dtypes, sorted
	Quantization string   // GGUF file type ("Q4_K_M") or ONNX/safetensors quantised dtypes
	Architecture string   // GGUF general.architecture
	Name         string   // GGUF general.name
	License      string   // GGUF general.license
	BaseModels   []string // GGUF general.base_model.N.repo_url or name
	// Meta are other header facts worth recording, in a fixed order
	// (GGUF context length, ONNX producer and opset, safetensors
	// __metadata__.format).
	Meta []KV
}

// KV is one header fact.
type KV struct{ Key, Value string }

// ErrNotFormat means the content is not the format asked for.
var ErrNotFormat = errors.New("not this format")

// Sniff names the weight format of a file from its first bytes ("" when
// it is none of safetensors, GGUF or ONNX), with the analysers' Match.
// A safetensors header length must also fit the file.
func Sniff(head []byte, size int64) string {
	s := &analyzer.Sniff{Head: head, Size: size}
	switch {
	case (gguf.Analyzer{}).Match(s):
		return "gguf"
	case len(head) >= 10:
		if (safetensors.Analyzer{}).Match(s) && binary.LittleEndian.Uint64(head) <= uint64(size-8) {
			return "safetensors"
		}
		if (onnx.Analyzer{}).Match(s) {
			return "onnx"
		}
	}
	return ""
}

// Read reads the header of a weight file of the given format. With an
// error, the Facts are nil or, for GGUF, the metadata facts alone (see
// GGUF).
func Read(format string, ra io.ReaderAt, size int64) (*Facts, error) {
	switch format {
	case "safetensors":
		return Safetensors(ra, size)
	case "gguf":
		return GGUF(ra, size)
	case "onnx":
		return ONNX(ra, size)
	}
	return nil, ErrNotFormat
}

// safetensors dtypes that are quantised storage.
var stQuantised = map[string]bool{"F8_E5M2": true, "F8_E4M3": true, "F8_E8M0": true, "F4": true, "F6_E2M3": true, "F6_E3M2": true, "I8": true, "U8": true}

// Safetensors reads a safetensors header (analyzer/safetensors.ParseHeader).
func Safetensors(ra io.ReaderAt, size int64) (*Facts, error) {
	h, err := safetensors.ParseHeader(ra, size)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f := &Facts{Format: "safetensors", Parameters: h.Params, Tensors: len(h.Tensors)}
	if v := h.Metadata["format"]; v != "" && len(v) < 64 {
		f.Meta = append(f.Meta, KV{"format", v})
	}
	dtypes := map[string]bool{}
	for _, t := range h.Tensors {
		dtypes[t.DType] = true
	}
	f.DTypes = sortedKeys(dtypes)
	f.Quantization = quantised(f.DTypes, stQuantised)
	return f, nil
}

// GGUF general.file_type values.
var ggufFileTypes = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
	11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M",
	18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S",
	25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M",
	32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}

// GGUF metadata values kept as facts: scalars and strings up to
// keepValue bytes, at most maxKept of them.
const (
	keepValue = 4096
	maxKept   = 4096
)

// GGUF reads a GGUF v2/v3 header (analyzer/gguf.Parse): the key-value
// metadata and the tensor infos (for the parameter count and tensor types).
// When the tensor infos or their layout are malformed but the metadata is
// whole, it returns the metadata facts, without a parameter count, with
// the error.
func GGUF(ra io.ReaderAt, size int64) (*Facts, error) {
	g, err := gguf.Parse(ra, size)
	if err != nil {
		err = fmt.Errorf("gguf: %w", err)
		if m, merr := gguf.ParseMetadata(ra, size); merr == nil {
			return ggufMetadata(m), err
		}
		return nil, err
	}
	f := ggufMetadata(g)
	dtypes := map[string]bool{}
	for _, t := range g.Tensors {
		if f.Parameters > math.MaxInt64-t.Elements {
			return nil, errors.New("gguf: parameter count overflows")
		}
		f.Parameters += t.Elements
		dtypes[t.TName] = true
	}
	f.Tensors = len(g.Tensors)
	f.DTypes = sortedKeys(dtypes)
	return f, nil
}

// ggufMetadata reads the facts of the key-value metadata.
func ggufMetadata(g *gguf.File) *Facts {
	kept := map[string]string{}
	template := false
	for i := range g.KVs {
		if g.KVs[i].Key == "tokenizer.chat_template" {
			template = true // whatever its length
		}
		if v, ok := g.KVs[i].Text(); ok && len(v) <= keepValue && len(kept) < maxKept {
			kept[g.KVs[i].Key] = strings.ToValidUTF8(v, "?")
		}
	}
	f := &Facts{Format: "gguf", Architecture: kept["general.architecture"], Name: kept["general.name"], License: kept["general.license"]}
	if ft, err := strconv.ParseUint(kept["general.file_type"], 10, 32); err == nil {
		if name, ok := ggufFileTypes[ft]; ok {
			f.Quantization = name
		} else {
			f.Quantization = "file_type " + kept["general.file_type"]
		}
	}
	if n, err := strconv.Atoi(kept["general.base_model.count"]); err == nil {
		for i := 0; i < n && i < 16; i++ {
			p := fmt.Sprintf("general.base_model.%d.", i)
			switch {
			case kept[p+"repo_url"] != "":
				f.BaseModels = append(f.BaseModels, kept[p+"repo_url"])
			case kept[p+"organization"] != "" && kept[p+"name"] != "":
				f.BaseModels = append(f.BaseModels, kept[p+"organization"]+"/"+kept[p+"name"])
			case kept[p+"name"] != "":
				f.BaseModels = append(f.BaseModels, kept[p+"name"])
			}
		}
	}
	arch := f.Architecture
	for _, k := range []struct{ key, name string }{
		{arch + ".context_length", "context_length"},
		{arch + ".embedding_length", "hidden_size"},
		{arch + ".block_count", "num_hidden_layers"},
		{arch + ".attention.head_count", "num_attention_heads"},
		{arch + ".attention.head_count_kv", "num_key_value_heads"},
		{arch + ".feed_forward_length", "intermediate_size"},
		{arch + ".vocab_size", "vocab_size"},
		{"general.size_label", "size_label"},
		{"tokenizer.ggml.model", "tokenizer_model"},
	} {
		if arch == "" && strings.HasPrefix(k.key, ".") {
			continue
		}
		if v := kept[k.key]; v != "" {
			f.Meta = append(f.Meta, KV{k.name, v})
		}
	}
	if template {
		f.Meta = append(f.Meta, KV{"chat_template", "present"})
	}
	return f
}

// ONNX TensorProto data types.
var onnxTypes = map[uint64]string{1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
	8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 16: "BFLOAT16",
	17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1"}

var onnxQuantised = map[string]bool{"UINT8": true, "INT8": true, "UINT4": true, "INT4": true, "FLOAT8E4M3FN": true, "FLOAT8E4M3FNUZ": true, "FLOAT8E5M2": true, "FLOAT8E5M2FNUZ": true, "FLOAT4E2M1": true}

// ONNX reads ModelProto's producer, IR version and opsets, and the dims
// and types of the main graph's initializers (analyzer/onnx.ReadSummary)
// without reading their data.
func ONNX(ra io.ReaderAt, size int64) (*Facts, error) {
	s, err := onnx.ReadSummary(ra, size)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	f := &Facts{Format: "onnx", Tensors: len(s.Initializers)}
	dtypes := map[string]bool{}
	for _, in := range s.Initializers {
		if f.Parameters > math.MaxInt64-in.Elements {
			return nil, errors.New("onnx: parameter count overflows")
		}
		f.Parameters += in.Elements
		if name, known := onnxTypes[in.DataType]; known {
			dtypes[name] = true
		}
	}
	f.DTypes = sortedKeys(dtypes)
	f.Quantization = quantised(f.DTypes, onnxQuantised)
	opsets := make([]string, 0, len(s.Opsets))
	for _, o := range s.Opsets {
		domain, version := valid(o.Domain), ""
		if domain == "" {
			domain = "ai.onnx"
		}
		if o.HasVersion {
			version = strconv.FormatUint(o.Version, 10)
		}
		opsets = append(opsets, domain+"="+version)
	}
	sort.Strings(opsets)
	if producer := valid(s.Producer); producer != "" {
		f.Meta = append(f.Meta, KV{"producer", strings.TrimSpace(producer + " " + valid(s.ProducerVersion))})
	}
	if s.HasIRVersion {
		f.Meta = append(f.Meta, KV{"ir_version", strconv.FormatUint(s.IRVersion, 10)})
	}
	if len(opsets) > 0 {
		f.Meta = append(f.Meta, KV{"opset", strings.Join(opsets, ",")})
	}
	return f, nil
}

func valid(s string) string { return strings.ToValidUTF8(s, "?") }

// quantised lists the dtypes that are quantised storage.
func quantised(dtypes []string, q map[string]bool) string {
	var out []string
	for _, d := range dtypes {
		if q[d] {
			out = append(out, d)
		}
	}
	return strings.Join(out, ",")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
