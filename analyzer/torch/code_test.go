package torch_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

// tsZip is a minimal TorchScript archive: a data.pkl that builds
// __torch__.<class>, constants.pkl, and the given code/ source.
func tsZip(t *testing.T, code string) []byte {
	return testutil.Zip(t,
		testutil.ZipEntry{Name: "m/data.pkl", Data: pkl.New(2).Global("__torch__", "M").EmptyTuple().NewObj().Stop().Bytes()},
		testutil.ZipEntry{Name: "m/code/__torch__.py", Data: []byte(code)},
		testutil.ZipEntry{Name: "m/constants.pkl", Data: pkl.New(2).EmptyTuple().Stop().Bytes()},
		testutil.ZipEntry{Name: "m/version", Data: []byte("3\n")},
	)
}

const tsPlain = `class M(Module):
  __parameters__ = []
  training : bool
  def forward(self: __torch__.M,
    x: Tensor) -> Tensor:
    if torch.ne(torch.dim(x), 2):
      ops.prim.RaiseException("expected 2D input", "builtins.ValueError")
    return torch.relu(x)
`

func TestTorchScriptCode(t *testing.T) {
	scantest.Run(t, []scantest.Case{
		{Name: "Plain", File: "m.pt", Data: tsZip(t, tsPlain), Verdict: report.Clean, Format: "torchscript"},
		{Name: "FromFileInSetstate", File: "m.pt", Data: tsZip(t, `class M(Module):
  def __setstate__(self: __torch__.M,
    state: Tuple[Tensor, bool]) -> NoneType:
    _0 = torch.from_file("/root/.ssh/id_rsa", False, 64, dtype=0)
    return None
`), Verdict: report.Malicious, Rules: []string{"python-sink-on-load"}, InMsg: "m/code/__torch__.py:4"},
		{Name: "SharedFromFileInForward", File: "m.pt", Data: tsZip(t, `class M(Module):
  def forward(self: __torch__.M, x: Tensor) -> Tensor:
    return torch.add(x, ops.aten.from_file("/home/u/.bashrc", True, 64))
`), Verdict: report.Suspicious, Rules: []string{"python-sink-in-function"}},
		{Name: "CustomOp", File: "m.pt", Data: tsZip(t, `class M(Module):
  def forward(self: __torch__.M, x: Tensor) -> Tensor:
    return ops.evilns.run(x)
`), Verdict: report.Suspicious, Rules: []string{"torchscript-custom-op"}, InMsg: "evilns::run"},
		{Name: "CustomClass", File: "m.pt", Data: tsZip(t, `class M(Module):
  ctx : __torch__.torch.classes.evilns.Ctx
  def forward(self: __torch__.M, x: Tensor) -> Tensor:
    return x
`), Verdict: report.Suspicious, Rules: []string{"torchscript-custom-class"}},
		{Name: "TorchvisionOps", File: "m.pt", Data: tsZip(t, `def f(b: Tensor, s: Tensor) -> Tensor:
  return ops.torchvision.nms(b, s, 0.5)
`), Verdict: report.Clean},
	})
}

// pkgZip is a minimal torch.package archive.
func pkgZip(t *testing.T, externs string, extra ...testutil.ZipEntry) []byte {
	es := []testutil.ZipEntry{
		{Name: "p/.data/version", Data: []byte("6\n")},
		{Name: "p/.data/extern_modules", Data: []byte(externs)},
	}
	return testutil.Zip(t, append(es, extra...)...)
}

const pkgModel = "import torch\n\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.l = torch.nn.Linear(2, 2)\n"

func TestTorchPackage(t *testing.T) {
	netPkl := pkl.New(3).Global("mypkg.model", "Net").EmptyTuple().NewObj().Stop().Bytes()
	scantest.Run(t, []scantest.Case{
		{Name: "ExternOnly", File: "p.pt", Data: pkgZip(t, "collections\n", testutil.ZipEntry{Name: "p/model/m.pkl", Data: pkl.New(3).Global("collections", "OrderedDict").EmptyTuple().Reduce().Stop().Bytes()}),
			Verdict: report.Clean, Format: "torch-package"},
		{Name: "PackagedModel", File: "p.pt", Data: pkgZip(t, "torch\n",
			testutil.ZipEntry{Name: "p/mypkg/model.py", Data: []byte(pkgModel)},
			testutil.ZipEntry{Name: "p/model/m.pkl", Data: netPkl}),
			Verdict: report.Suspicious, Rules: []string{"torch-package-code"}},
		{Name: "SinkOnImport", File: "p.pt", Data: pkgZip(t, "torch\nos\n",
			testutil.ZipEntry{Name: "p/mypkg/model.py", Data: []byte("import os\nos.system('id')\n" + pkgModel)},
			testutil.ZipEntry{Name: "p/model/m.pkl", Data: netPkl}),
			Verdict: report.Malicious, Rules: []string{"python-sink-on-load"}, InMsg: "p/mypkg/model.py:2"},
		{Name: "SinkInPackageInit", File: "p.pt", Data: pkgZip(t, "torch\n",
			testutil.ZipEntry{Name: "p/mypkg/__init__.py", Data: []byte("__import__('subprocess').Popen(['sh'])\n")},
			testutil.ZipEntry{Name: "p/mypkg/model.py", Data: []byte(pkgModel)},
			testutil.ZipEntry{Name: "p/model/m.pkl", Data: netPkl}),
			Verdict: report.Malicious, Rules: []string{"python-sink-on-load"}, InMsg: "mypkg/__init__.py"},
		{Name: "FunctionCalledByPickle", File: "p.pt", Data: pkgZip(t, "subprocess\n",
			testutil.ZipEntry{Name: "p/mypkg/util.py", Data: []byte("import subprocess\n\ndef make(n):\n    subprocess.run(['id'])\n    return n\n")},
			testutil.ZipEntry{Name: "p/model/m.pkl", Data: pkl.New(3).Global("mypkg.util", "make").Int(3).Tuple1().Reduce().Stop().Bytes()}),
			Verdict: report.Malicious, Rules: []string{"python-sink-on-load", "torch-package-code"}},
		{Name: "HelperNobodyCalls", File: "p.pt", Data: pkgZip(t, "torch\nsubprocess\n",
			testutil.ZipEntry{Name: "p/mypkg/model.py", Data: []byte(pkgModel + "\ndef export(x):\n    import subprocess\n    subprocess.run(['tar', 'cf', x])\n")},
			testutil.ZipEntry{Name: "p/model/m.pkl", Data: netPkl}),
			Verdict: report.Suspicious, Rules: []string{"python-sink-in-function"}},
		{Name: "ShadowsTorch", File: "p.pt", Data: pkgZip(t, "collections\n",
			testutil.ZipEntry{Name: "p/torch/__init__.py", Data: []byte("")},
			testutil.ZipEntry{Name: "p/torch/_utils.py", Data: []byte("def _rebuild_tensor_v2(*a):\n    return a\n")},
			testutil.ZipEntry{Name: "p/model/m.pkl", Data: pkl.New(3).Global("torch._utils", "_rebuild_tensor_v2").EmptyTuple().Reduce().Stop().Bytes()}),
			Verdict: report.Malicious, Rules: []string{"torch-package-shadow"}},
		{Name: "ExternedTorchIsNotShadowed", File: "p.pt", Data: pkgZip(t, "torch\n",
			testutil.ZipEntry{Name: "p/model/m.pkl", Data: pkl.New(3).Global("torch._utils", "_rebuild_tensor_v2").EmptyTuple().Reduce().Stop().Bytes()}),
			Verdict: report.Clean},
		{Name: "PayloadPickle", File: "p.pt", Data: pkgZip(t, "os\n", testutil.ZipEntry{Name: "p/model/m.pkl", Data: evilPkl}),
			Verdict: report.Malicious, Rules: []string{"pickle-process-exec"}},
	})
}

// TestGeneratedFixtures scans what internal/gen/torchgen/gen.py made with
// torch 1.13 (testdata/MANIFEST.tsv records that torch loads each file
// and whether its harmless payload ran).
func TestGeneratedFixtures(t *testing.T) {
	want := map[string]report.Verdict{
		"ts_scripted.pt":          report.Clean,
		"ts_traced.pt":            report.Clean,
		"ts_setstate.pt":          report.Clean,
		"ts_fromfile_setstate.pt": report.Malicious,
		"ts_fromfile_forward.pt":  report.Suspicious,
		"ts_customop.pt":          report.Suspicious,
		"pkg_model.pt":            report.Suspicious,
		"pkg_extern_only.pt":      report.Clean,
		"pkg_sink_on_import.pt":   report.Malicious,
		"pkg_reduce_function.pt":  report.Malicious,
		"pkg_shadow_torch.pt":     report.Malicious,
	}
	manifest, err := os.ReadFile("testdata/MANIFEST.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range want {
		if !strings.Contains(string(manifest), name+"\t") {
			t.Errorf("%s is not in MANIFEST.tsv", name)
		}
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		a := scantest.Bytes(t, name, b)
		if a.Verdict != v {
			t.Errorf("%s: verdict %s, want %s%s", name, a.Verdict, v, scantest.Dump(a))
		}
	}
}
