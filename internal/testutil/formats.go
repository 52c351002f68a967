package testutil

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Safetensors assembles a safetensors file from raw header JSON and data.
// The header is padded with spaces to 8 bytes, as the writer does.
func Safetensors(header string, data []byte) []byte {
	for len(header)%8 != 0 {
		header += " "
	}
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// STensor is one tensor for SafetensorsModel.
type STensor struct {
	Name  string
	DType string // F32 when empty
	Shape []int64
	Data  []byte // zero bytes of the right size when nil
}

// SafetensorsModel builds a valid safetensors file with these tensors in
// order, and optional metadata.
func SafetensorsModel(meta map[string]string, ts ...STensor) []byte {
	var parts []string
	if meta != nil {
		m, _ := json.Marshal(meta)
		parts = append(parts, `"__metadata__":`+string(m))
	}
	var data []byte
	for _, t := range ts {
		dt := t.DType
		if dt == "" {
			dt = "F32"
		}
		size := map[string]int64{"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "U8": 1, "I8": 1, "BOOL": 1}[dt]
		n := int64(1)
		for _, d := range t.Shape {
			n *= d
		}
		d := t.Data
		if d == nil {
			d = make([]byte, n*size)
		}
		shape, _ := json.Marshal(t.Shape)
		parts = append(parts, fmt.Sprintf(`%q:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, t.Name, dt, shape, len(data), len(data)+len(d)))
		data = append(data, d...)
	}
	return Safetensors("{"+strings.Join(parts, ",")+"}", data)
}

// GGUFKV is one metadata entry for GGUF: Value is a string, uint32,
// float32, bool, []string or []int32.
type GGUFKV struct {
	Key   string
	Value any
}

// GGUFTensor is one tensor info for GGUF (type 0 = F32).
type GGUFTensor struct {
	Name   string
	Dims   []uint64
	Type   uint32
	Offset uint64
}

// GGUF assembles a GGUF v3 file: header, KVs, tensor infos, padding to
// 32 bytes, then data.
func GGUF(kvs []GGUFKV, tensors []GGUFTensor, data []byte) []byte {
	var b []byte
	u32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	u64 := func(v uint64) { b = binary.LittleEndian.AppendUint64(b, v) }
	str := func(s string) { u64(uint64(len(s))); b = append(b, s...) }
	b = append(b, "GGUF"...)
	u32(3)
	u64(uint64(len(tensors)))
	u64(uint64(len(kvs)))
	for _, kv := range kvs {
		str(kv.Key)
		switch v := kv.Value.(type) {
		case string:
			u32(8)
			str(v)
		case uint32:
			u32(4)
			u32(v)
		case float32:
			u32(6)
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		case bool:
			u32(7)
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case []string:
			u32(9)
			u32(8)
			u64(uint64(len(v)))
			for _, s := range v {
				str(s)
			}
		case []int32:
			u32(9)
			u32(5)
			u64(uint64(len(v)))
			for _, x := range v {
				u32(uint32(x))
			}
		default:
			panic(fmt.Sprintf("GGUF: unsupported value %T", v))
		}
	}
	for _, t := range tensors {
		str(t.Name)
		u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			u64(d)
		}
		u32(t.Type)
		u64(t.Offset)
	}
	for len(b)%32 != 0 {
		b = append(b, 0)
	}
	return append(b, data...)
}
