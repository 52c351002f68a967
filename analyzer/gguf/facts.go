package gguf

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/report"
)

// fileTypes names general.file_type values (llama.cpp's LLAMA_FTYPE).
var fileTypes = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
	11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M",
	18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S",
	25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M",
	32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}

// Metadata values kept as facts: scalars and strings up to keepValue
// bytes, at most maxKept of them.
const (
	keepValue = 4096
	maxKept   = 4096
	// maxBaseModels bounds general.base_model.count.
	maxBaseModels = 16
)

// metaFacts are the metadata keys recorded as other facts, in this
// order, under these names ("" prefix: the architecture's own keys).
var metaFacts = []struct {
	key  string
	name string
	arch bool
}{
	{".context_length", "context_length", true},
	{".embedding_length", "hidden_size", true},
	{".block_count", "num_hidden_layers", true},
	{".attention.head_count", "num_attention_heads", true},
	{".attention.head_count_kv", "num_key_value_heads", true},
	{".feed_forward_length", "intermediate_size", true},
	{".vocab_size", "vocab_size", true},
	{"general.size_label", "size_label", false},
	{"tokenizer.ggml.model", "tokenizer_model", false},
}

// metadataFacts fills the facts the key-value metadata declares.
func metadataFacts(f *File, m *report.Model) {
	kept := map[string]string{}
	for i := range f.KVs {
		kv := &f.KVs[i]
		if kv.Key == "tokenizer.chat_template" || strings.HasPrefix(kv.Key, "tokenizer.chat_template.") {
			m.ChatTemplate = true // whatever its length
		}
		if v, ok := kv.Text(); ok && len(v) <= keepValue && len(kept) < maxKept {
			kept[kv.Key] = strings.ToValidUTF8(v, "?")
		}
	}
	m.Architecture, m.Name, m.License = kept["general.architecture"], kept["general.name"], kept["general.license"]
	if ft, err := strconv.ParseUint(kept["general.file_type"], 10, 32); err == nil {
		if name, ok := fileTypes[ft]; ok {
			m.Quantization = name
		} else {
			m.Quantization = "file_type " + kept["general.file_type"]
		}
	}
	if n, err := strconv.Atoi(kept["general.base_model.count"]); err == nil {
		for i := 0; i < n && i < maxBaseModels; i++ {
			p := fmt.Sprintf("general.base_model.%d.", i)
			switch {
			case kept[p+"repo_url"] != "":
				m.BaseModels = append(m.BaseModels, kept[p+"repo_url"])
			case kept[p+"organization"] != "" && kept[p+"name"] != "":
				m.BaseModels = append(m.BaseModels, kept[p+"organization"]+"/"+kept[p+"name"])
			case kept[p+"name"] != "":
				m.BaseModels = append(m.BaseModels, kept[p+"name"])
			}
		}
	}
	for _, k := range metaFacts {
		key := k.key
		if k.arch {
			if m.Architecture == "" {
				continue
			}
			key = m.Architecture + key
		}
		if v := kept[key]; v != "" {
			m.Meta = append(m.Meta, report.KV{Key: k.name, Value: v})
		}
	}
}

// tensorFacts fills the parameter count and tensor types of a whole
// header. A count that overflows is left unknown.
func tensorFacts(f *File, m *report.Model) {
	var params int64
	types := map[string]bool{}
	for _, t := range f.Tensors {
		if params >= 0 && params > math.MaxInt64-t.Elements {
			params = -1
		}
		if params >= 0 {
			params += t.Elements
		}
		types[t.TName] = true
	}
	m.Parameters = max(params, 0)
	m.Tensors = len(f.Tensors)
	for t := range types {
		m.DTypes = append(m.DTypes, t)
	}
	sort.Strings(m.DTypes)
}
