package pyreq

import (
	"strings"
	"testing"
)

func TestParse_PinnedAndUnlocked(t *testing.T) {
	cases := []struct {
		line, name, pin string
		pinned          bool
	}{
		{"torch==2.5.1", "torch", "2.5.1", true},
		{"torch == 2.5.1+cu121 ; python_version >= '3.9'", "torch", "2.5.1+cu121", true},
		{"pandas[parquet]==1.3.5", "pandas", "1.3.5", true},
		{"foo===1.0-local", "foo", "1.0-local", true},
		{"numpy>=1.21", "numpy", "", false},
		{"numpy==1.*", "numpy", "", false},
		{"keras~=3.8", "keras", "", false},
		{"scipy>=1.10,<2", "scipy", "", false},
		{"requests", "requests", "", false},
		{"Django (==4.2)", "Django", "4.2", true},
		{"pkg @ https://example.com/pkg-1.0.tar.gz", "pkg", "", false},
		{"litellm==1.82.7  # pinned by pip freeze", "litellm", "1.82.7", true},
	}
	for _, c := range cases {
		r, err := Parse(c.line)
		if err != nil {
			t.Errorf("%q: %v", c.line, err)
			continue
		}
		v, ok := r.Pinned()
		if r.Name != c.name || v != c.pin || ok != c.pinned {
			t.Errorf("%q: name %q pin %q %v", c.line, r.Name, v, ok)
		}
	}
}

func TestParse_RejectsMalformed(t *testing.T) {
	for _, l := range []string{"", "   # only a comment", "--extra-index-url x", "==1.0", "pkg[extra", "pkg >>1.0", strings.Repeat("a", MaxLine+1)} {
		if _, err := Parse(l); err == nil {
			t.Errorf("%q accepted", l)
		}
	}
}

func TestParseOption(t *testing.T) {
	cases := map[string]Option{
		"--extra-index-url https://x/simple": {"--extra-index-url", "https://x/simple"},
		"--extra-index-url=https://x/simple": {"--extra-index-url", "https://x/simple"},
		"-i https://x/simple # internal":     {"--index-url", "https://x/simple"},
		"-rother.txt":                        {"--requirement", "other.txt"},
		"--find-links /wheels":               {"--find-links", "/wheels"},
	}
	for l, want := range cases {
		got, ok := ParseOption(l)
		if !ok || got != want {
			t.Errorf("%q: %+v %v", l, got, ok)
		}
	}
	if _, ok := ParseOption("torch==1.0"); ok {
		t.Error("requirement taken for an option")
	}
}

func TestLines_JoinsContinuations(t *testing.T) {
	ls, err := Lines("a==1 \\\n  --hash=sha256:x\nb==2\r\n", 10)
	if err != nil || len(ls) != 3 || ls[0].N != 1 || ls[1].N != 3 || ls[1].Text != "b==2" {
		t.Errorf("%+v %v", ls, err)
	}
	if _, err := Lines(strings.Repeat("x\n", 11), 10); err == nil {
		t.Error("line bound not enforced")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"torch==2.5.1", "a[b,c]>=1,<2; python_version<'3'", "p @ file:///x", "Django (==4.2)", "-r x.txt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := Parse(s); err == nil {
			r.Pinned()
			_ = r.String()
		}
		ParseOption(s)
		Lines(s, 1000)
	})
}
