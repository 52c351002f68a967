package safetensors

import (
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/report"
)

// quantised are the dtypes that are quantised storage.
var quantised = map[string]bool{"F8_E5M2": true, "F8_E4M3": true, "F8_E8M0": true, "F4": true, "F6_E2M3": true, "F6_E3M2": true, "I8": true, "U8": true}

// maxFormat bounds the __metadata__ format value kept as a fact ("pt",
// "tf", "flax", "mlx").
const maxFormat = 64

// facts fills the model facts of a validated header.
func facts(h *Header, m *report.Model) {
	m.Parameters, m.Tensors = h.Params, len(h.Tensors)
	seen := map[string]bool{}
	var q []string
	for _, t := range h.Tensors {
		if !seen[t.DType] {
			seen[t.DType] = true
			m.DTypes = append(m.DTypes, t.DType)
		}
	}
	sort.Strings(m.DTypes)
	for _, d := range m.DTypes {
		if quantised[d] {
			q = append(q, d)
		}
	}
	m.Quantization = strings.Join(q, ",")
	if v := h.Metadata["format"]; v != "" && len(v) < maxFormat {
		m.Meta = append(m.Meta, report.KV{Key: "format", Value: v})
	}
}
