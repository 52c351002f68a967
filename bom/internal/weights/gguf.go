package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// GGUF bounds.
const (
	maxGGUFKVs     = 1 << 20
	maxGGUFTensors = 1 << 20
	maxGGUFKey     = 64 << 10
	maxGGUFDims    = 8
	keepValue      = 4096 // longer string values are skipped, not kept
	maxKept        = 4096
)

var ggufFileTypes = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
	11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M",
	18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S",
	25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M",
	32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}

var ggmlTypes = map[uint32]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K",
	11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
	19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32",
	27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
}

// fixed sizes of the GGUF scalar value types.
var ggufSize = map[uint32]int64{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

const (
	ggufString = 8
	ggufArray  = 9
)

// GGUF reads a GGUF v2/v3 header: the key-value metadata and the tensor
// infos (for the parameter count and tensor types).
func GGUF(ra io.ReaderAt, size int64) (*Facts, error) {
	r := newReader(ra, size)
	magic, err := r.bytes(4)
	if err != nil || string(magic) != "GGUF" {
		return nil, ErrNotFormat
	}
	version, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	if version < 2 || version > 3 {
		return nil, fmt.Errorf("gguf: version %d is not supported (2 and 3 are)", version)
	}
	nTensors, err := r.u64()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	nKV, err := r.u64()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	if nKV > maxGGUFKVs || nTensors > maxGGUFTensors {
		return nil, fmt.Errorf("gguf: %d keys and %d tensors are over the limits (%d, %d)", nKV, nTensors, maxGGUFKVs, maxGGUFTensors)
	}
	kept := map[string]string{}
	for i := uint64(0); i < nKV; i++ {
		key, err := r.str(maxGGUFKey)
		if err != nil {
			return nil, fmt.Errorf("gguf: key %d: %w", i, err)
		}
		typ, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("gguf: %s: %w", clip(key), err)
		}
		v, err := r.value(typ, 0)
		if err != nil {
			return nil, fmt.Errorf("gguf: %s: %w", clip(key), err)
		}
		if v != nil && len(kept) < maxKept {
			kept[key] = *v
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
	if _, ok := kept["tokenizer.chat_template"]; ok {
		f.Meta = append(f.Meta, KV{"chat_template", "present"})
	}
	dtypes := map[string]bool{}
	for i := uint64(0); i < nTensors; i++ {
		if _, err := r.str(maxGGUFKey); err != nil {
			return nil, fmt.Errorf("gguf: tensor %d: %w", i, err)
		}
		nd, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("gguf: tensor %d: %w", i, err)
		}
		if nd > maxGGUFDims {
			return nil, fmt.Errorf("gguf: tensor %d has %d dimensions (at most %d)", i, nd, maxGGUFDims)
		}
		shape := make([]int64, nd)
		for d := range shape {
			v, err := r.u64()
			if err != nil {
				return nil, fmt.Errorf("gguf: tensor %d: %w", i, err)
			}
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("gguf: tensor %d: dimension %d too large", i, v)
			}
			shape[d] = int64(v)
		}
		p, ok := product(shape)
		if !ok {
			return nil, fmt.Errorf("gguf: tensor %d: element count overflows", i)
		}
		if f.Parameters, ok = add(f.Parameters, p); !ok {
			return nil, errors.New("gguf: parameter count overflows")
		}
		typ, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("gguf: tensor %d: %w", i, err)
		}
		if name, ok := ggmlTypes[typ]; ok {
			dtypes[name] = true
		} else {
			dtypes["type"+strconv.Itoa(int(typ))] = true
		}
		if _, err := r.u64(); err != nil { // offset
			return nil, fmt.Errorf("gguf: tensor %d: %w", i, err)
		}
		f.Tensors++
	}
	f.DTypes = sortedKeys(dtypes)
	return f, nil
}

// str reads a GGUF string (u64 length, bytes) of at most max bytes.
func (r *reader) str(max int64) (string, error) {
	n, err := r.u64()
	if err != nil {
		return "", err
	}
	if n > uint64(max) {
		return "", fmt.Errorf("a %d-byte string is over the %d-byte limit", n, max)
	}
	b, err := r.bytes(int64(n))
	return string(b), err
}

// value reads one value of type typ. Scalars and short strings come back
// as text; arrays and long strings are skipped (nil).
func (r *reader) value(typ uint32, depth int) (*string, error) {
	if sz, ok := ggufSize[typ]; ok {
		b, err := r.bytes(sz)
		if err != nil {
			return nil, err
		}
		s := scalarText(typ, b)
		return &s, nil
	}
	switch typ {
	case ggufString:
		n, err := r.u64()
		if err != nil {
			return nil, err
		}
		if n > math.MaxInt64 {
			return nil, fmt.Errorf("string length %d too large", n)
		}
		if n > keepValue {
			return nil, r.skip(int64(n))
		}
		b, err := r.bytes(int64(n))
		if err != nil {
			return nil, err
		}
		s := strings.ToValidUTF8(string(b), "?")
		return &s, nil
	case ggufArray:
		if depth > 2 {
			return nil, errors.New("arrays nested too deep")
		}
		et, err := r.u32()
		if err != nil {
			return nil, err
		}
		n, err := r.u64()
		if err != nil {
			return nil, err
		}
		if sz, ok := ggufSize[et]; ok {
			if n > uint64(math.MaxInt64/sz) {
				return nil, fmt.Errorf("array of %d elements too large", n)
			}
			return nil, r.skip(int64(n) * sz)
		}
		if et != ggufString && et != ggufArray {
			return nil, fmt.Errorf("unknown array element type %d", et)
		}
		if n > uint64(r.size) {
			return nil, fmt.Errorf("array of %d elements cannot fit the file", n)
		}
		for i := uint64(0); i < n; i++ {
			if _, err := r.value(et, depth+1); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	return nil, fmt.Errorf("unknown value type %d", typ)
}

func scalarText(typ uint32, b []byte) string {
	switch typ {
	case 0:
		return strconv.FormatUint(uint64(b[0]), 10)
	case 1:
		return strconv.FormatInt(int64(int8(b[0])), 10)
	case 2:
		return strconv.FormatUint(uint64(binary.LittleEndian.Uint16(b)), 10)
	case 3:
		return strconv.FormatInt(int64(int16(binary.LittleEndian.Uint16(b))), 10)
	case 4:
		return strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b)), 10)
	case 5:
		return strconv.FormatInt(int64(int32(binary.LittleEndian.Uint32(b))), 10)
	case 6:
		return strconv.FormatFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 'g', -1, 32)
	case 7:
		return strconv.FormatBool(b[0] != 0)
	case 10:
		return strconv.FormatUint(binary.LittleEndian.Uint64(b), 10)
	case 11:
		return strconv.FormatInt(int64(binary.LittleEndian.Uint64(b)), 10)
	case 12:
		return strconv.FormatFloat(math.Float64frombits(binary.LittleEndian.Uint64(b)), 'g', -1, 64)
	}
	return ""
}
