package indexes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/report"
)

func TestFromRequirements_ExtraIndexURL(t *testing.T) {
	s, err := FromRequirements("# c\n--extra-index-url https://user:secret@pypi.internal.example.com/simple\ntorch==1.0\n-i https://pypi.org/simple\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 || s[0].Rule != rules.DepsExtraIndex || s[0].Line != 2 || s[0].Severity != report.SeverityMedium {
		t.Fatalf("%+v", s)
	}
	if strings.Contains(s[0].Message, "secret") {
		t.Errorf("credentials leaked: %s", s[0].Message)
	}
}

func TestFromPyproject(t *testing.T) {
	cases := []struct {
		name, toml string
		want       []report.Severity
	}{
		{"poetry supplemental", "[[tool.poetry.source]]\nname = \"corp\"\nurl = \"https://corp/simple\"\npriority = \"supplemental\"\n", []report.Severity{report.SeverityMedium}},
		{"poetry explicit is safe", "[[tool.poetry.source]]\nname = \"corp\"\nurl = \"https://corp/simple\"\npriority = \"explicit\"\n", nil},
		{"poetry legacy secondary", "[[tool.poetry.source]]\nname = \"corp\"\nurl = \"https://corp/simple\"\nsecondary = true\n", []report.Severity{report.SeverityMedium}},
		{"uv index first-index", "[[tool.uv.index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/cu121\"\n", []report.Severity{report.SeverityLow}},
		{"uv index unsafe strategy", "[tool.uv]\nindex-strategy = \"unsafe-best-match\"\n[[tool.uv.index]]\nname = \"corp\"\nurl = \"https://corp/simple\"\n", []report.Severity{report.SeverityHigh}},
		{"uv explicit index is safe", "[[tool.uv.index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/cu121\"\nexplicit = true\n", nil},
		{"nothing", "[project]\nname = \"x\"\n", nil},
	}
	for _, c := range cases {
		s, err := FromPyproject(c.toml)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []report.Severity
		for _, x := range s {
			got = append(got, x.Severity)
		}
		if len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
			t.Errorf("%s: %+v", c.name, s)
		}
	}
	if _, err := FromPyproject("[tool\n"); err == nil {
		t.Error("malformed pyproject accepted")
	}
}

func TestFromLocks_MixedRegistries(t *testing.T) {
	uv := "version = 1\n[[package]]\nname = \"a\"\nversion = \"1\"\nsource = { registry = \"https://pypi.org/simple\" }\n[[package]]\nname = \"corp-utils\"\nversion = \"1\"\nsource = { registry = \"https://corp.example/simple\" }\n"
	s, err := FromUVLock(uv)
	if err != nil || len(s) != 1 || !strings.Contains(s[0].Message, "corp-utils") || s[0].Line != 9 {
		t.Errorf("uv: %+v %v", s, err)
	}
	poetry := "[[package]]\nname = \"a\"\nversion = \"1\"\n[[package]]\nname = \"b\"\nversion = \"1\"\n[package.source]\ntype = \"legacy\"\nurl = \"https://corp.example/simple\"\nreference = \"corp\"\n"
	if s, err := FromPoetryLock(poetry); err != nil || len(s) != 1 {
		t.Errorf("poetry: %+v %v", s, err)
	}
	onlyCorp := "[[package]]\nname = \"b\"\nversion = \"1\"\n\n[package.source]\ntype = \"legacy\"\nurl = \"https://corp.example/simple\"\n\n[metadata]\nlock-version = \"2.0\"\n"
	if s, err := FromPoetryLock(onlyCorp); err != nil || len(s) != 0 {
		t.Errorf("one private index only is not mixed: %+v %v", s, err)
	}
	pipfile := `{"_meta":{"sources":[{"name":"pypi","url":"https://pypi.org/simple"},{"name":"corp","url":"https://corp.example/simple"}]}}`
	if s, err := FromPipfileLock(pipfile); err != nil || len(s) != 1 {
		t.Errorf("pipfile: %+v %v", s, err)
	}
}

// The real lockfiles resolve from PyPI only: no signal.
func TestSharedLockfilesHaveOneRegistry(t *testing.T) {
	root := testutil.Shared(t, "projects")
	for _, p := range []string{"modelaudit/uv.lock", "aibom-generator/uv.lock"} {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if s, err := FromUVLock(string(b)); err != nil || len(s) != 0 {
			t.Errorf("%s: %+v %v", p, s, err)
		}
	}
	for _, p := range []string{"modelscan/poetry.lock", "nannyml/poetry.lock"} {
		b, _ := os.ReadFile(filepath.Join(root, p))
		if s, err := FromPoetryLock(string(b)); err != nil || len(s) != 0 {
			t.Errorf("%s: %+v %v", p, s, err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(root, "vulnerable-ml/requirements.txt"))
	if s, _ := FromRequirements(string(b)); len(s) != 1 || s[0].Line != 2 {
		t.Errorf("vulnerable-ml: %+v", s)
	}
}

func FuzzFromText(f *testing.F) {
	f.Add("--extra-index-url https://x\n[[tool.poetry.source]]\n")
	f.Add("[[package]]\nname = \"a\"\nsource = { registry = \"https://x\" }\n")
	f.Add(`{"_meta":{"sources":[{"url":"a"},{"url":"b"}]}}`)
	f.Fuzz(func(t *testing.T, s string) {
		FromRequirements(s)
		FromPyproject(s)
		FromUVLock(s)
		FromPoetryLock(s)
		FromPipfileLock(s)
	})
}
