package typosquat

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
)

func TestCheck_CatchesImitations(t *testing.T) {
	cases := []struct {
		name   string
		kind   Kind
		target string
	}{
		{"deepseeek", Typosquat, "deepseek"},      // MAL-2025-1970, but found without the DB
		{"deepseekai", Impersonation, "deepseek"}, // brand + affix
		{"pytorch-mutex", Impersonation, ""},      // conda-only name asked of PyPI
		{"torchtriton", Impersonation, ""},        // the 2022 dependency confusion
		{"pytroch-lightning", Typosquat, "pytorch-lightning"},
		{"tensorflaw", Typosquat, "tensorflow"},
		{"t0rchvision", Typosquat, "torchvision"},
		{"transfomers", Typosquat, "transformers"},
		{"Request-s", Typosquat, "requests"},
		{"numpyy", Typosquat, "numpy"},
		{"llama_cpp_pyhton", Typosquat, "llama-cpp-python"},
		{"openai-sdk", Impersonation, "openai"},
	}
	for _, c := range cases {
		v, ok := Check(c.name)
		if !ok || v.Kind != c.kind || v.Target != c.target {
			t.Errorf("%s: got %+v %v, want %s of %q", c.name, v, ok, c.kind, c.target)
		}
		if ok && v.Reason == "" {
			t.Errorf("%s: no reason", c.name)
		}
	}
}

func TestCheck_LeavesLegitimateNamesAlone(t *testing.T) {
	for _, n := range []string{
		"torch", "PyTorch", "scapy", "sympy", "panda", "pandas", "Pillow", "tensorflow-gpu",
		"pytorch-lightning", "torch-geometric", "mistralai", "huggingface_hub", "jax", "trio",
		"sentence-transformers", "llama-index", "onnxruntime", "tf-keras", "tokenizers",
	} {
		if v, ok := Check(n); ok {
			t.Errorf("%s flagged: %+v", n, v)
		}
	}
}

// TestCheck_NoFalsePositivesOnRealProjects runs every dependency name of
// the shared real projects through the checker: only the planted typosquat
// (deepseeek in vulnerable-ml) may be reported.
func TestCheck_NoFalsePositivesOnRealProjects(t *testing.T) {
	root := testutil.Shared(t, "projects")
	reName := regexp.MustCompile(`^name = "([^"]+)"`)
	reReq := regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)`)
	names := map[string]string{}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		s.Buffer(nil, 1<<20)
		base := filepath.Base(p)
		for s.Scan() {
			line := s.Text()
			var m []string
			switch {
			case strings.HasSuffix(base, ".lock"):
				m = reName.FindStringSubmatch(line)
			case strings.HasSuffix(base, ".txt"):
				m = reReq.FindStringSubmatch(line)
			}
			if len(m) > 1 {
				names[m[1]] = p
			}
		}
		return nil
	})
	if len(names) < 300 {
		t.Fatalf("only %d names read from %s", len(names), root)
	}
	for n, p := range names {
		v, ok := Check(n)
		if n == "deepseeek" {
			if !ok {
				t.Errorf("deepseeek in %s not caught", p)
			}
			continue
		}
		if ok {
			t.Errorf("false positive: %s (%s): %s", n, p, v.Reason)
		}
	}
}

func TestDistance(t *testing.T) {
	cases := []struct {
		a, b string
		d    int
	}{{"torch", "torch", 0}, {"pytroch", "pytorch", 1}, {"numpyy", "numpy", 1}, {"abc", "", 3}, {"kitten", "sitting", 3}}
	for _, c := range cases {
		if got := distance(c.a, c.b); got != c.d {
			t.Errorf("distance(%q,%q)=%d want %d", c.a, c.b, got, c.d)
		}
	}
}
