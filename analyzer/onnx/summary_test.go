package onnx_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/analyzer/onnx"
	"github.com/aigis-dev/aigis/internal/testutil"
)

func summary(t *testing.T, b []byte) (*onnx.Summary, error) {
	t.Helper()
	return onnx.ReadSummary(bytes.NewReader(b), int64(len(b)))
}

func TestReadSummary(t *testing.T) {
	plain := PB(nil).Varint(1, 3).Varint(1, 4).Varint(2, 1).String(8, "w").Bytes(9, make([]byte, 48))
	packed := PB(nil).Bytes(1, []byte{2, 0x80, 0x01}).Varint(2, 3).String(8, "q")
	// A tensor in a subgraph is not a weight of the main graph.
	sub := testutil.ONNXNode("If", "", PB(nil).String(1, "then_branch").Msg(6, PB(nil).Msg(5, plain)))
	m := testutil.ONNXModel([]PB{sub}, []PB{plain, packed}, PB(nil).Msg(8, PB(nil).String(1, "com.microsoft").Varint(2, 1)))
	s, err := summary(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if !s.HasIRVersion || s.IRVersion != 9 || s.Producer != "pytorch" || s.ProducerVersion != "2.5" {
		t.Errorf("%+v", s)
	}
	if len(s.Opsets) != 2 || s.Opsets[0] != (onnx.Opset{Version: 17, HasVersion: true}) || s.Opsets[1] != (onnx.Opset{Domain: "com.microsoft", Version: 1, HasVersion: true}) {
		t.Errorf("opsets %+v", s.Opsets)
	}
	if len(s.Initializers) != 2 || s.Initializers[0] != (onnx.Initializer{Elements: 12, DataType: 1}) || s.Initializers[1] != (onnx.Initializer{Elements: 256, DataType: 3}) {
		t.Errorf("initializers %+v", s.Initializers)
	}
	long, err := summary(t, PB(nil).String(2, strings.Repeat("p", 10000)))
	if err != nil || len(long.Producer) != onnx.MaxSummaryString || long.HasIRVersion {
		t.Errorf("long producer: %d bytes, %v", len(long.Producer), err)
	}
	manyDims := PB(nil)
	for range 65 {
		manyDims = manyDims.Varint(1, 1)
	}
	packedDims := PB(nil).Bytes(1, bytes.Repeat([]byte{1}, 65))
	for name, b := range map[string][]byte{
		"graph past the end": {0x08, 8, 0x3a, 0xff, 0xff, 0x03},
		"65 dims":            PB(nil).Msg(7, PB(nil).Msg(5, manyDims)),
		"65 packed dims":     PB(nil).Msg(7, PB(nil).Msg(5, packedDims)),
		"overflow":           PB(nil).Msg(7, PB(nil).Msg(5, PB(nil).Varint(1, 1<<40).Varint(1, 1<<40))),
		"dim over int64":     PB(nil).Msg(7, PB(nil).Msg(5, PB(nil).Varint(1, 1<<63))),
	} {
		if _, err := summary(t, b); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
