package onnx_test

import (
	"slices"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

func TestFacts(t *testing.T) {
	w := PB(nil).Varint(1, 3).Varint(1, 4).Varint(2, 1).String(8, "w").Bytes(9, make([]byte, 48))
	q := PB(nil).Varint(1, 8).Varint(2, 3).String(8, "q").Bytes(9, make([]byte, 8))
	relu := testutil.ONNXNode("Relu", "")
	m := testutil.ONNXModel([]PB{relu}, []PB{w, q}, PB(nil).Msg(8, PB(nil).String(1, "com.microsoft").Varint(2, 1)))
	a := scantest.Bytes(t, "m.onnx", m)
	f := a.Model
	if f == nil || f.Parameters != 20 || f.Tensors != 2 || !slices.Equal(f.DTypes, []string{"FLOAT", "INT8"}) || f.Quantization != "INT8" || f.ExternalData {
		t.Fatalf("%+v%s", f, scantest.Dump(a))
	}
	want := []report.KV{{Key: "producer", Value: "pytorch 2.5"}, {Key: "ir_version", Value: "9"}, {Key: "opset", Value: "ai.onnx=17,com.microsoft=1"}}
	if !slices.Equal(f.Meta, want) {
		t.Errorf("meta %v", f.Meta)
	}
	// Tensors stored beside the model are a fact (loaders open them by
	// the names the model gives), whether or not the files are there.
	ext := testutil.ONNXModel([]PB{relu}, []PB{testutil.ONNXExternalTensor("w", "weights.bin", 0, 16)})
	if a := scantest.Bytes(t, "m.onnx", ext); a.Model == nil || !a.Model.ExternalData || a.Model.Parameters != 4 {
		t.Errorf("external data: %+v%s", a.Model, scantest.Dump(a))
	}
	// A graph that runs past the end of the file states nothing.
	if a := scantest.Bytes(t, "m.onnx", []byte{0x08, 8, 0x3a, 0xff, 0xff, 0x03}); a.Model != nil {
		t.Errorf("truncated graph: %+v", a.Model)
	}
}
