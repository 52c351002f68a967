package onnx

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/report"
)

// dataTypes names TensorProto data types.
var dataTypes = map[uint64]string{1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
	8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 16: "BFLOAT16",
	17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1"}

// quantised are the data types that are quantised storage.
var quantised = map[string]bool{"UINT8": true, "INT8": true, "UINT4": true, "INT4": true, "FLOAT8E4M3FN": true, "FLOAT8E4M3FNUZ": true, "FLOAT8E5M2": true, "FLOAT8E5M2FNUZ": true, "FLOAT4E2M1": true}

// summaryFacts fills the model facts of a summary: the main graph's
// initializers (parameters, dtypes, quantised dtypes), the producer, IR
// version and opsets. A parameter count that overflows is left unknown.
func summaryFacts(s *Summary, m *report.Model) {
	m.Tensors = len(s.Initializers)
	var params int64
	dtypes := map[string]bool{}
	for _, in := range s.Initializers {
		if params >= 0 && params > math.MaxInt64-in.Elements {
			params = -1
		}
		if params >= 0 {
			params += in.Elements
		}
		if name, known := dataTypes[in.DataType]; known {
			dtypes[name] = true
		}
	}
	m.Parameters = max(params, 0)
	var q []string
	for d := range dtypes {
		m.DTypes = append(m.DTypes, d)
	}
	sort.Strings(m.DTypes)
	for _, d := range m.DTypes {
		if quantised[d] {
			q = append(q, d)
		}
	}
	m.Quantization = strings.Join(q, ",")
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
		m.Meta = append(m.Meta, report.KV{Key: "producer", Value: strings.TrimSpace(producer + " " + valid(s.ProducerVersion))})
	}
	if s.HasIRVersion {
		m.Meta = append(m.Meta, report.KV{Key: "ir_version", Value: strconv.FormatUint(s.IRVersion, 10)})
	}
	if len(opsets) > 0 {
		m.Meta = append(m.Meta, report.KV{Key: "opset", Value: strings.Join(opsets, ",")})
	}
}

func valid(s string) string { return strings.ToValidUTF8(s, "?") }
