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

// HDF5Attr is one root attribute for HDF5: a string stored as
// fixed-length data, or in the global heap when VarLen is set (as h5py
// stores Python str).
type HDF5Attr struct {
	Name, Value string
	VarLen      bool
}

// HDF5 assembles a minimal HDF5 file (superblock 0, version-1 root object
// header) whose root group carries these attributes.
func HDF5(attrs ...HDF5Attr) []byte {
	le := binary.LittleEndian
	pad := func(b []byte) []byte {
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
		return b
	}
	const ohdr = 96
	// Messages first, to know where the global heap goes.
	var msgs [][]byte
	var heap []byte // objects of the global heap collection
	heapIdx := uint16(0)
	heapRefs := map[int]int{} // message -> offset in msg data of the address
	for _, a := range attrs {
		name := pad(append([]byte(a.Name), 0))
		var dt, data []byte
		if a.VarLen {
			dt = []byte{0x19, 0x01, 0x01, 0x00}
			dt = le.AppendUint32(dt, 16)
			dt = append(dt, 0x10, 0, 0, 0)
			dt = le.AppendUint32(dt, 1)
			dt = le.AppendUint16(dt, 0)
			dt = le.AppendUint16(dt, 8)
			heapIdx++
			obj := le.AppendUint16(nil, heapIdx)
			obj = le.AppendUint16(obj, 0)
			obj = append(obj, 0, 0, 0, 0)
			obj = le.AppendUint64(obj, uint64(len(a.Value)))
			heap = append(heap, pad(append(obj, a.Value...))...)
			data = le.AppendUint32(nil, uint32(len(a.Value)))
			data = le.AppendUint64(data, 0) // patched below
			data = le.AppendUint32(data, uint32(heapIdx))
		} else {
			dt = []byte{0x13, 0, 0, 0}
			dt = le.AppendUint32(dt, uint32(len(a.Value)))
			data = []byte(a.Value)
		}
		dtLen := len(dt)
		dt = pad(dt)
		ds := []byte{1, 0, 0, 0, 0, 0, 0, 0}
		m := []byte{1, 0}
		m = le.AppendUint16(m, uint16(len(a.Name)+1))
		m = le.AppendUint16(m, uint16(dtLen))
		m = le.AppendUint16(m, uint16(len(ds)))
		m = append(m, name...)
		m = append(m, dt...)
		m = append(m, ds...)
		if a.VarLen {
			heapRefs[len(msgs)] = len(m) + 4
		}
		m = pad(append(m, data...))
		msgs = append(msgs, m)
	}
	var body []byte
	var refAt []int
	for i, m := range msgs {
		h := le.AppendUint16(nil, 0x0c)
		h = le.AppendUint16(h, uint16(len(m)))
		h = append(h, 0, 0, 0, 0)
		if off, ok := heapRefs[i]; ok {
			refAt = append(refAt, len(body)+8+off)
		}
		body = append(body, append(h, m...)...)
	}
	gcol := ohdr + 16 + len(body)
	b := append([]byte{}, "\x89HDF\r\n\x1a\n"...)
	b = append(b, 0, 0, 0, 0, 0, 8, 8, 0)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint16(b, 16)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint64(b, 0)
	b = le.AppendUint64(b, ^uint64(0))
	b = le.AppendUint64(b, 0) // EOF, patched
	b = le.AppendUint64(b, ^uint64(0))
	b = le.AppendUint64(b, 0)
	b = le.AppendUint64(b, ohdr)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = append(b, make([]byte, 16)...)
	b = append(b, 1, 0)
	b = le.AppendUint16(b, uint16(len(msgs)))
	b = le.AppendUint32(b, 1)
	b = le.AppendUint32(b, uint32(len(body)))
	b = append(b, 0, 0, 0, 0)
	for _, r := range refAt {
		le.PutUint64(body[r:], uint64(gcol))
	}
	b = append(b, body...)
	if len(heap) > 0 {
		size := 16 + len(heap) + 16
		size = max(size, 4096)
		g := append([]byte("GCOL"), 1, 0, 0, 0)
		g = le.AppendUint64(g, uint64(size))
		g = append(g, heap...)
		g = append(g, make([]byte, size-len(g))...)
		b = append(b, g...)
	}
	le.PutUint64(b[40:], uint64(len(b)))
	return b
}

// TFLite assembles a minimal TFLite flatbuffer whose operator codes are
// builtins ("" entries) or custom codes ("FlexWriteFile", "MyOp").
func TFLite(codes ...string) []byte {
	le := binary.LittleEndian
	b := make([]byte, 8)
	copy(b[4:], "TFL3")
	// Model vtable (fields 0 version, 1 operator_codes) and table.
	vt := len(b)
	b = le.AppendUint16(b, 8)
	b = le.AppendUint16(b, 12)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint16(b, 8)
	root := len(b)
	le.PutUint32(b[0:], uint32(root))
	b = le.AppendUint32(b, uint32(root-vt))
	b = le.AppendUint32(b, 3) // version
	vecRef := len(b)
	b = le.AppendUint32(b, 0) // patched: offset to the vector
	vec := len(b)
	le.PutUint32(b[vecRef:], uint32(vec-vecRef))
	b = le.AppendUint32(b, uint32(len(codes)))
	refs := len(b)
	b = append(b, make([]byte, 4*len(codes))...)
	for i, c := range codes {
		// OperatorCode vtable: fields 0..3; custom_code at 4, builtin at 8.
		ovt := len(b)
		b = le.AppendUint16(b, 12)
		b = le.AppendUint16(b, 12)
		b = le.AppendUint16(b, 0)
		if c != "" {
			b = le.AppendUint16(b, 4)
		} else {
			b = le.AppendUint16(b, 0)
		}
		b = le.AppendUint16(b, 0)
		b = le.AppendUint16(b, 8)
		t := len(b)
		le.PutUint32(b[refs+4*i:], uint32(t-(refs+4*i)))
		b = le.AppendUint32(b, uint32(t-ovt))
		sref := len(b)
		b = le.AppendUint32(b, 0)
		builtin := uint32(3)
		if c != "" {
			builtin = 32
		}
		b = le.AppendUint32(b, builtin)
		if c != "" {
			s := len(b)
			le.PutUint32(b[sref:], uint32(s-sref))
			b = le.AppendUint32(b, uint32(len(c)))
			b = append(b, c...)
			b = append(b, 0)
			for len(b)%4 != 0 {
				b = append(b, 0)
			}
		}
	}
	return b
}
