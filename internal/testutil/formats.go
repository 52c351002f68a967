package testutil

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
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
