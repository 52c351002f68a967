package tensorflow_test

import (
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

type PB = testutil.PB

func nodeDef(name, op string) PB { return PB(nil).String(1, name).String(2, op) }

func graphDef(nodes []PB, fnNodes ...PB) PB {
	g := PB(nil)
	for _, n := range nodes {
		g = g.Msg(1, n)
	}
	if len(fnNodes) > 0 {
		fn := PB(nil).Msg(1, PB(nil).String(1, "__inference_call_42"))
		for _, n := range fnNodes {
			fn = fn.Msg(3, n)
		}
		g = g.Msg(2, PB(nil).Msg(1, fn))
	}
	return g.Msg(4, PB(nil).Varint(1, 1087))
}

func savedModel(g PB) []byte {
	meta := PB(nil).Msg(1, PB(nil).String(4, "serve")).Msg(2, g)
	return PB(nil).Varint(1, 1).Msg(2, meta)
}

func TestSavedModel(t *testing.T) {
	benign := []PB{nodeDef("x", "Placeholder"), nodeDef("w", "VarHandleOp"), nodeDef("m", "MatMul"), nodeDef("save/SaveV2", "SaveV2"), nodeDef("save/RestoreV2", "RestoreV2")}
	scantest.Run(t, []scantest.Case{
		{Name: "Benign", File: "saved_model.pb", Data: savedModel(graphDef(benign, nodeDef("a", "AddV2"))), Verdict: report.Clean, Format: "tf-savedmodel"},
		{Name: "ReadFileInGraph", File: "saved_model.pb", Data: savedModel(graphDef(append(benign, nodeDef("r", "ReadFile")))), Verdict: report.Malicious, Rules: []string{"tf-dangerous-op"}},
		{Name: "WriteFileInFunctionLibrary", File: "saved_model.pb", Data: savedModel(graphDef(benign, nodeDef("a", "AddV2"), nodeDef("w", "WriteFile"))), Verdict: report.Malicious, InMsg: "WriteFile"},
		{Name: "PyFunc", File: "saved_model.pb", Data: savedModel(graphDef(append(benign, nodeDef("p", "EagerPyFunc")))), Verdict: report.Malicious},
		{Name: "FileReaderDataset", File: "saved_model.pb", Data: savedModel(graphDef(append(benign, nodeDef("d", "TFRecordDatasetV2")))), Verdict: report.Suspicious},
		{Name: "FrozenGraphDef", File: "frozen.pb", Data: graphDef(append(benign, nodeDef("r", "MatchingFiles"))), Verdict: report.Malicious, Format: "tf-graphdef"},
		{Name: "Truncated", File: "saved_model.pb", Data: savedModel(graphDef(benign))[:30], Verdict: report.Invalid},
	})
}

func TestTFLite(t *testing.T) {
	scantest.Run(t, []scantest.Case{
		{Name: "Builtins", File: "m.tflite", Data: testutil.TFLite("", ""), Verdict: report.Clean, Format: "tflite"},
		{Name: "FlexWriteFile", File: "m.tflite", Data: testutil.TFLite("", "FlexWriteFile"), Verdict: report.Malicious, Rules: []string{"tf-dangerous-op"}},
		{Name: "FlexBenign", File: "m.tflite", Data: testutil.TFLite("FlexRFFT"), Verdict: report.Clean},
		{Name: "CustomOp", File: "m.tflite", Data: testutil.TFLite("MyNativeOp"), Verdict: report.Suspicious, Rules: []string{"tflite-custom-op"}},
		{Name: "Truncated", File: "m.tflite", Data: testutil.TFLite("FlexWriteFile")[:40], Verdict: report.Invalid},
	})
}

func FuzzTF(f *testing.F) {
	f.Add(savedModel(graphDef([]PB{nodeDef("r", "ReadFile")}, nodeDef("w", "WriteFile"))), "saved_model.pb")
	f.Add(testutil.TFLite("", "FlexWriteFile", "Custom"), "m.tflite")
	f.Fuzz(func(t *testing.T, b []byte, name string) { scantest.Fuzz(t, b, name) })
}
