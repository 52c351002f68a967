package bom_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/bom"
	"github.com/aigis-dev/aigis/internal/osvdb"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/scan"
)

func build(t *testing.T, target string, opt bom.Options) *bom.Document {
	t.Helper()
	d, err := bom.Build(context.Background(), target, opt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// lockEntries reads a lockfile independently of the code under test and
// returns the purls it should produce.
func lockEntries(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	switch filepath.Base(path) {
	case "poetry.lock", "uv.lock":
		var name string
		inPkg := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "[[package]]":
				inPkg, name = true, ""
			case strings.HasPrefix(line, "["):
				inPkg = false
			case inPkg && strings.HasPrefix(line, "name = "):
				name = strings.Trim(strings.TrimPrefix(line, "name = "), `"`)
			case inPkg && strings.HasPrefix(line, "version = ") && name != "":
				v := strings.Trim(strings.TrimPrefix(line, "version = "), `"`)
				out["pkg:pypi/"+osvdb.NormalizeName("PyPI", name)+"@"+v] = true
				name = ""
			}
		}
	case "go.mod":
		req := regexp.MustCompile(`^\s*(?:require\s+)?([a-z0-9.\-/]+\.[a-z]+/\S+)\s+v(\S+)`)
		for sc.Scan() {
			if m := req.FindStringSubmatch(sc.Text()); m != nil && !strings.HasPrefix(strings.TrimSpace(sc.Text()), "module") {
				// The purl spec lowercases golang names.
				out["pkg:golang/"+strings.ToLower(m[1])+"@"+m[2]] = true
			}
		}
	case "requirements.txt":
		pin := regexp.MustCompile(`^([A-Za-z0-9._-]+)==([^\s;#]+)`)
		for sc.Scan() {
			if m := pin.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
				out["pkg:pypi/"+osvdb.NormalizeName("PyPI", m[1])+"@"+m[2]] = true
			}
		}
	}
	return out
}

// Every locked package of every shared project is a library component
// with the purl the lockfile implies, and nothing else is attributed to
// the lockfile.
func TestProjectsLibraries(t *testing.T) {
	root := testutil.Shared(t, "projects")
	entries, _ := os.ReadDir(root)
	checked := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		d := build(t, dir, bom.Options{NoHash: true})
		for _, lock := range []string{"poetry.lock", "uv.lock", "go.mod", "requirements.txt"} {
			p := filepath.Join(dir, lock)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			want := lockEntries(t, p)
			got := map[string]bool{}
			for _, c := range d.All() {
				if c.Library != nil && c.Version != "" && slices.Contains(c.Library.Manifests, lock) {
					got[c.PURL] = true
					if c.Kind != bom.KindLibrary {
						t.Errorf("%s: kind %s", c.PURL, c.Kind)
					}
				}
			}
			for p := range want {
				if !got[p] {
					t.Errorf("%s/%s: %s missing", e.Name(), lock, p)
				}
			}
			for p := range got {
				if !want[p] {
					t.Errorf("%s/%s: unexpected %s", e.Name(), lock, p)
				}
			}
			if len(want) == 0 {
				t.Errorf("%s/%s: the test read no entries", e.Name(), lock)
			}
			t.Logf("%s/%s: %d locked packages, %d library components", e.Name(), lock, len(want), len(got))
			checked++
		}
	}
	if checked < 6 {
		t.Errorf("only %d lockfiles checked", checked)
	}
}

func write(t *testing.T, dir, rel string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ggufHeader is a minimal GGUF v3 file: architecture, file type, one
// 4x4 tensor.
func ggufHeader(arch string, fileType uint32) []byte {
	le := func(b []byte, v uint64, n int) []byte {
		for i := 0; i < n; i++ {
			b = append(b, byte(v>>(8*i)))
		}
		return b
	}
	str := func(b []byte, s string) []byte { return append(le(b, uint64(len(s)), 8), s...) }
	b := []byte("GGUF")
	b = le(b, 3, 4)
	b = le(b, 1, 8)
	b = le(b, 2, 8)
	b = str(b, "general.architecture")
	b = le(b, 8, 4)
	b = str(b, arch)
	b = str(b, "general.file_type")
	b = le(b, 4, 4)
	b = le(b, uint64(fileType), 4)
	b = str(b, "w")
	b = le(b, 2, 4)
	b = le(b, 4, 8)
	b = le(b, 4, 8)
	b = le(b, 12, 4)
	b = le(b, 0, 8)
	return append(b, make([]byte, 64)...)
}

// A project: two quantisations of one model side by side, a dataset
// without a card, a requirements file and a hostile model card.
func TestProjectLayout(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "models/llama.Q4_K_M.gguf", ggufHeader("llama", 15))
	write(t, dir, "models/llama.Q8_0.gguf", ggufHeader("llama", 7))
	write(t, dir, "data/train.jsonl", []byte("{\"q\": \"a\"}\n{\"q\": \"b\"}\n"))
	write(t, dir, "requirements.txt", []byte("torch==2.6.0\nnumpy>=1.21\n"))
	write(t, dir, "bert/config.json", []byte(`{"model_type": "bert"}`))
	write(t, dir, "bert/README.md", []byte("---\na: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\nlicense: mit\n---\n"))
	d := build(t, dir, bom.Options{})
	if d.Subject.Kind != bom.KindProject {
		t.Fatalf("subject %s", d.Subject.Kind)
	}
	got := map[string]string{}
	for _, c := range d.All() {
		switch {
		case c.Model != nil && c.Local:
			got[c.Ref] = c.Model.Family + " " + c.Model.Quantization
		case c.Dataset != nil && c.Local:
			got[c.Ref] = strings.Join([]string{c.Dataset.Files[0].Facts.Schema()}, "")
			if c.Dataset.Rows != 2 {
				t.Errorf("rows %d", c.Dataset.Rows)
			}
		case c.Library != nil:
			got[c.Ref] = c.Version + " " + c.Library.Requirement
		}
	}
	want := map[string]string{
		"model:local/models/llama.Q4_K_M.gguf": "llama Q4_K_M",
		"model:local/models/llama.Q8_0.gguf":   "llama Q8_0",
		"model:local/bert":                     "bert ",
		"dataset:local/data":                   "q:string",
		"pkg:pypi/torch@2.6.0":                 "2.6.0 ",
		"library:pypi/numpy":                   " numpy>=1.21",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("components %v", got)
	}
	if !strings.Contains(strings.Join(d.Warnings, "\n"), "bert/README.md: front matter expands to more than") {
		t.Errorf("no warning for the anchor bomb: %v", d.Warnings)
	}
	if bert := d.Lookup("model:local/bert"); len(bert.Licenses) != 0 {
		t.Error("licence read from a rejected card")
	}
}

// The scan engine says what every weight file is, whatever its name: a
// safetensors file called pytorch_model.bin is counted as safetensors, a
// protocol-0 pickle is a pickle, and a GGUF file whose tensor table is
// malformed still gives its metadata, with a warning. With Scan, the same
// artifacts carry the findings: nothing is scanned twice.
func TestEngineDescribesWeights(t *testing.T) {
	dir := t.TempDir()
	st := testutil.SafetensorsModel(map[string]string{"format": "pt"}, testutil.STensor{Name: "w", Shape: []int64{3, 4}, Data: make([]byte, 48)})
	write(t, dir, "config.json", []byte(`{"model_type": "llama"}`))
	write(t, dir, "pytorch_model.bin", st)
	write(t, dir, "extra.pkl", []byte("(dp0\nS'a'\np1\nI1\ns."))
	bad := ggufHeader("mistral", 15)
	write(t, dir, "q.gguf", bad[:len(bad)-60])
	// The third round hands Build the artifacts of a scan made before
	// (Options.Scanned), as the registry gate does: the same document.
	pre, err := scan.New(scan.Options{}).Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	for i, opt := range []bom.Options{{NoHash: true}, {NoHash: true, Scan: true}, {NoHash: true, Scanned: pre.Artifacts}} {
		scan := i > 0
		d := build(t, dir, opt)
		m := d.Subject.Model
		if m == nil || m.Parameters != 12 || m.ParamSource != "safetensors headers" || strings.Join(m.Formats, ",") != "gguf,pickle,safetensors" ||
			m.Family != "llama" || m.Quantization != "Q4_K_M" {
			t.Fatalf("scan=%v: %+v", scan, m)
		}
		if !slices.Contains(m.HeaderFacts, bom.KV{Key: "safetensors_format", Value: "pt"}) {
			t.Errorf("header facts %v", m.HeaderFacts)
		}
		if w := strings.Join(d.Warnings, "\n"); !strings.Contains(w, "q.gguf: gguf header") || !strings.Contains(w, "parameters not counted") {
			t.Errorf("warnings %v", d.Warnings)
		}
		for _, f := range d.Subject.Files {
			switch {
			case !scan && f.Scan != nil:
				t.Errorf("%s: scanned without Scan", f.Path)
			case scan && f.Scan == nil:
				t.Errorf("%s: not scanned", f.Path)
			case scan && f.Weights && f.Scan.Format != f.Format:
				t.Errorf("%s: format %s, scan says %s", f.Path, f.Format, f.Scan.Format)
			}
		}
	}
}
