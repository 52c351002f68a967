package safetensors_test

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

// The header facts reach the artifact through the engine: parameters,
// tensors, dtypes, quantised dtypes and the metadata format.
func TestFacts(t *testing.T) {
	b := testutil.Safetensors(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"I8","shape":[4],"data_offsets":[24,28]}}`, make([]byte, 28))
	a := scantest.Bytes(t, "m.safetensors", b)
	m := a.Model
	if a.Format != "safetensors" || m == nil || m.Parameters != 10 || m.Tensors != 2 || !slices.Equal(m.DTypes, []string{"F32", "I8"}) ||
		m.Quantization != "I8" || !slices.Equal(m.Meta, []report.KV{{Key: "format", Value: "pt"}}) || m.LoadsPickle {
		t.Errorf("%+v%s", m, scantest.Dump(a))
	}
	// A header the analyser rejects states nothing.
	for name, bad := range map[string][]byte{
		"length past end": binary.LittleEndian.AppendUint64(nil, 1<<20),
		"overflow":        testutil.Safetensors(`{"a":{"dtype":"F32","shape":[9223372036854775807,4],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"negative":        testutil.Safetensors(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"not json":        testutil.Safetensors(`{"a":  `, nil),
	} {
		if a := scantest.Bytes(t, "m.safetensors", bad); a.Model != nil {
			t.Errorf("%s: facts %+v", name, a.Model)
		}
	}
}

// Data after the last tensor is analysed as a file of its own, but it
// never speaks for the safetensors file: a GGUF header hidden there does
// not replace the model's facts.
func TestFacts_TrailerDoesNotOverwrite(t *testing.T) {
	st := testutil.SafetensorsModel(nil, testutil.STensor{Name: "w", Shape: []int64{2}, Data: make([]byte, 8)})
	g := testutil.GGUF([]testutil.GGUFKV{{Key: "general.architecture", Value: "evil"}, {Key: "tokenizer.chat_template", Value: "{{ x }}"}}, nil, nil)
	a := scantest.Bytes(t, "m.safetensors", append(st, g...))
	if a.Format != "safetensors" || a.Model == nil || a.Model.Parameters != 2 || a.Model.Architecture != "" || a.Model.ChatTemplate {
		t.Errorf("%+v%s", a.Model, scantest.Dump(a))
	}
}
