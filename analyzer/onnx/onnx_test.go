package onnx_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"

	"context"
)

type PB = testutil.PB

func subgraphAttr(nodes ...PB) PB {
	g := PB(nil)
	for _, n := range nodes {
		g = g.Msg(1, n)
	}
	return PB(nil).String(1, "then_branch").Msg(6, g).Varint(20, 5)
}

func TestONNX(t *testing.T) {
	relu := testutil.ONNXNode("Relu", "")
	scantest.Run(t, []scantest.Case{
		{Name: "Standard", File: "m.onnx", Data: testutil.ONNXModel([]PB{relu, testutil.ONNXNode("FusedMatMul", "com.microsoft")}, nil), Verdict: report.Clean, Format: "onnx"},
		{Name: "CustomDomain", File: "m.onnx", Data: testutil.ONNXModel([]PB{testutil.ONNXNode("Evil", "com.attacker")}, nil), Verdict: report.Suspicious, Rules: []string{"onnx-custom-domain"}},
		{Name: "CustomDomainInNestedSubgraph", File: "m.onnx", Data: testutil.ONNXModel([]PB{testutil.ONNXNode("If", "", subgraphAttr(testutil.ONNXNode("Loop", "", subgraphAttr(testutil.ONNXNode("Evil", "custom.ops")))))}, nil), Verdict: report.Suspicious, InMsg: "custom.ops"},
		{Name: "ModelLocalFunctionDomain", File: "m.onnx", Data: testutil.ONNXModel([]PB{testutil.ONNXNode("MyFn", "local")}, nil, PB(nil).Msg(25, PB(nil).String(1, "MyFn").String(10, "local").Msg(7, relu))), Verdict: report.Clean},
		{Name: "TraversalRelative", File: "m.onnx", Data: testutil.ONNXModel([]PB{relu}, []PB{testutil.ONNXExternalTensor("w", "../../../etc/passwd", 0, 16)}), Verdict: report.Malicious, Rules: []string{"onnx-external-data-traversal"}},
		{Name: "TraversalAbsolute", File: "m.onnx", Data: testutil.ONNXModel([]PB{relu}, []PB{testutil.ONNXExternalTensor("w", "/etc/shadow", 0, 16)}), Verdict: report.Malicious},
		{Name: "TraversalWindows", File: "m.onnx", Data: testutil.ONNXModel([]PB{relu}, []PB{testutil.ONNXExternalTensor("w", `..\..\secret`, 0, 16)}), Verdict: report.Malicious},
		{Name: "TraversalInSubgraphAttributeTensor", File: "m.onnx", Data: testutil.ONNXModel([]PB{testutil.ONNXNode("Constant", "", PB(nil).String(1, "value").Msg(5, testutil.ONNXExternalTensor("c", "a/../../x", 0, 4)))}, nil), Verdict: report.Malicious},
		{Name: "ExternalWithoutLocation", File: "m.onnx", Data: testutil.ONNXModel([]PB{relu}, []PB{PB(nil).Varint(1, 4).Varint(2, 1).String(8, "w").Varint(14, 1)}), Verdict: report.Invalid},
		{Name: "TraversalGraphFirst", File: "m.onnx", Data: PB(nil).Msg(7, PB(nil).Msg(5, testutil.ONNXExternalTensor("w", "/etc/passwd", 0, 16))).Varint(1, 8), Verdict: report.Malicious},
		{Name: "ExternalMissing", File: "m.onnx", Data: testutil.ONNXModel([]PB{relu}, []PB{testutil.ONNXExternalTensor("w", "weights.bin", 0, 16)}), Verdict: report.Invalid, Rules: []string{"onnx-external-data-missing"}},
		{Name: "TruncatedGraph", File: "m.onnx", Data: testutil.ONNXModel([]PB{relu}, nil)[:20], Verdict: report.Invalid},
		{Name: "GarbageNamedOnnx", File: "m.onnx", Data: []byte("garbage garbage"), Verdict: report.Invalid},
	})
}

func TestONNX_ExternalDataBesideModel(t *testing.T) {
	dir := t.TempDir()
	model := testutil.ONNXModel([]PB{testutil.ONNXNode("Relu", "")}, []PB{testutil.ONNXExternalTensor("w", "model.onnx.data", 16, 16)})
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("model.onnx", model)
	s := scan.New(scan.Options{})
	if a := s.ScanFile(context.Background(), filepath.Join(dir, "model.onnx"), "model.onnx"); a.Verdict != report.Invalid {
		t.Errorf("missing data: %s", scantest.Dump(a))
	}
	write("model.onnx.data", make([]byte, 20))
	if a := s.ScanFile(context.Background(), filepath.Join(dir, "model.onnx"), "model.onnx"); a.Verdict != report.Invalid {
		t.Errorf("short data: %s", scantest.Dump(a))
	}
	write("model.onnx.data", make([]byte, 32))
	if a := s.ScanFile(context.Background(), filepath.Join(dir, "model.onnx"), "model.onnx"); a.Verdict != report.Clean {
		t.Errorf("complete data: %s", scantest.Dump(a))
	}
	// A link to a file outside the model directory.
	os.Remove(filepath.Join(dir, "model.onnx.data"))
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "model.onnx.data")); err != nil {
		t.Skip(err)
	}
	if a := s.ScanFile(context.Background(), filepath.Join(dir, "model.onnx"), "model.onnx"); a.Verdict == report.Clean || scantest.Has(a, "onnx-external-data-symlink") == nil {
		t.Errorf("symlinked data: %s", scantest.Dump(a))
	}
	// In a zip bundle, the data is looked up among the members.
	z := testutil.Zip(t, testutil.ZipEntry{Name: "m/model.onnx", Data: model}, testutil.ZipEntry{Name: "m/model.onnx.data", Data: make([]byte, 32)})
	if a := scantest.Bytes(t, "bundle.zip", z); a.Verdict != report.Clean {
		t.Errorf("in a zip with its data: %s", scantest.Dump(a))
	}
	z = testutil.Zip(t, testutil.ZipEntry{Name: "m/model.onnx", Data: model, Deflate: true})
	if a := scantest.Bytes(t, "bundle.zip", z); a.Verdict != report.Invalid {
		t.Errorf("in a zip without its data: %s", scantest.Dump(a))
	}
	// In a tar (a stream of members) it cannot be checked: never clean.
	tr := testutil.Tar(t, testutil.TarEntry{Name: "m/model.onnx", Data: model}, testutil.TarEntry{Name: "m/model.onnx.data", Data: make([]byte, 32)})
	if a := scantest.Bytes(t, "bundle.tar", tr); a.Verdict != report.Inconclusive {
		t.Errorf("in a tar: %s", scantest.Dump(a))
	}
}

// TestONNX_ExternalDataFile: the file a sibling model keeps its tensors
// in is recognised as onnx-external-data (clean when every range is
// inside it) instead of unknown bytes, on disk and in a zip bundle.
func TestONNX_ExternalDataFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	model := testutil.ONNXModel([]PB{testutil.ONNXNode("Relu", "")}, []PB{
		testutil.ONNXExternalTensor("w", "weights.bin", 0, 16),
		testutil.ONNXExternalTensor("b", "weights.bin", 16, 8),
		testutil.ONNXExternalTensor("c", "bias.data", 0, 4),
	})
	write("model.onnx", model)
	write("weights.bin", make([]byte, 24))
	write("bias.data", make([]byte, 2)) // too short for c
	write("unrelated.bin", make([]byte, 24))
	rep, err := scan.New(scan.Options{}).Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]report.Artifact{}
	for _, a := range rep.Artifacts {
		got[filepath.Base(a.Path)] = a
	}
	if a := got["weights.bin"]; a.Format != "onnx-external-data" || a.Verdict != report.Clean || a.Properties["onnx.external_data_of"] != "model.onnx" {
		t.Errorf("weights.bin: %+v%s", a.Properties, scantest.Dump(a))
	}
	if a := got["bias.data"]; a.Format != "onnx-external-data" || a.Verdict != report.Invalid || scantest.Has(a, "onnx-external-data-missing") == nil {
		t.Errorf("bias.data: %s", scantest.Dump(a))
	}
	if a := got["unrelated.bin"]; a.Format != "other" || a.Verdict != report.Unsupported {
		t.Errorf("unrelated.bin: %s", scantest.Dump(a))
	}
	if a := got["model.onnx"]; a.Verdict != report.Invalid {
		t.Errorf("model.onnx: %s", scantest.Dump(a))
	}
	// Named on the command line, the file still finds its model.
	if a := scan.New(scan.Options{}).ScanFile(context.Background(), filepath.Join(dir, "weights.bin"), "weights.bin"); a.Format != "onnx-external-data" || a.Verdict != report.Clean {
		t.Errorf("weights.bin alone: %s", scantest.Dump(a))
	}
	// In a zip bundle.
	z := testutil.Zip(t, testutil.ZipEntry{Name: "m/model.onnx", Data: model}, testutil.ZipEntry{Name: "m/weights.bin", Data: make([]byte, 24), Deflate: true},
		testutil.ZipEntry{Name: "m/bias.data", Data: make([]byte, 4)})
	if a := scantest.Bytes(t, "bundle.zip", z); a.Verdict != report.Clean || !strings.Contains(a.Properties["contains"], "onnx-external-data") {
		t.Errorf("bundle: %+v%s", a.Properties, scantest.Dump(a))
	}
}

func FuzzONNX(f *testing.F) {
	f.Add(testutil.ONNXModel([]PB{testutil.ONNXNode("If", "", subgraphAttr(testutil.ONNXNode("Evil", "x")))}, []PB{testutil.ONNXExternalTensor("w", "d.bin", 0, 4)}))
	f.Fuzz(func(t *testing.T, b []byte) { scantest.Fuzz(t, b, "m.onnx") })
}
