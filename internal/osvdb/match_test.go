package osvdb

import (
	"archive/zip"
	"io"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
)

// rec builds a one-package PyPI record from its affected entry.
func rec(t *testing.T, js string) *Record {
	t.Helper()
	r, err := ParseRecord([]byte(js))
	if err != nil {
		t.Fatalf("ParseRecord: %v\n%s", err, js)
	}
	return r
}

func TestAffects_RangeRules(t *testing.T) {
	cases := []struct {
		name     string
		affected string
		version  string
		want     bool
	}{
		{"introduced zero, below fix", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.6.0"}]}]`, "2.5.1", true},
		{"fixed version itself is safe", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.6.0"}]}]`, "2.6.0", false},
		{"before introduced is safe", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.5"},{"fixed":"2.0"}]}]`, "1.4.9", false},
		{"introduced is inclusive", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.5"},{"fixed":"2.0"}]}]`, "1.5", true},
		{"pre-release of fix is still affected", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]`, "2.0rc1", true},
		{"post-release of fix is safe", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]`, "2.0.post1", false},
		{"epoch outranks release", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]`, "1!0.1", false},
		{"last_affected is inclusive", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"1.11.0"}]}]`, "1.11.0", true},
		{"after last_affected is safe", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"1.11.0"}]}]`, "1.11.1", false},
		{"two intervals, gap is safe", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"4.0"},{"fixed":"4.6.3"},{"introduced":"5.0"},{"fixed":"5.3"}]}]`, "4.9", false},
		{"two intervals, second hit", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"4.0"},{"fixed":"4.6.3"},{"introduced":"5.0"},{"fixed":"5.3"}]}]`, "5.2.1", true},
		{"events out of order are sorted", `"ranges":[{"type":"ECOSYSTEM","events":[{"fixed":"5.3"},{"introduced":"5.0"},{"fixed":"4.6.3"},{"introduced":"4.0"}]}]`, "4.9", false},
		{"open-ended introduced", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0.0"}]}]`, "99.0", true},
		{"limit caps the range", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"3.0"}]}]`, "3.1", false},
		{"below limit is affected", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"3.0"}]}]`, "2.9", true},
		{"GIT range first does not stop matching", `"ranges":[{"type":"GIT","repo":"https://x/y","events":[{"introduced":"0"},{"fixed":"abcdef"}]},{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.13.1"}]}]`, "1.13.0", true},
		{"GIT-only range never matches a version", `"ranges":[{"type":"GIT","repo":"https://x/y","events":[{"introduced":"0"},{"fixed":"abcdef"}]}]`, "1.0", false},
		{"SEMVER range", `"ranges":[{"type":"SEMVER","events":[{"introduced":"1.2.0"},{"fixed":"1.2.5"}]}]`, "1.2.4", true},
		{"versions list exact", `"versions":["1.82.7","1.82.8"]`, "1.82.7", true},
		{"versions list miss", `"versions":["1.82.7","1.82.8"]`, "1.82.6", false},
		{"versions list PEP 440 equality", `"versions":["4.0"]`, "4.0.0", true},
		{"local version matches versions list", `"versions":["2.0.0"]`, "2.0.0+cu121", true},
		{"local version inside range", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.6.0"}]}]`, "2.5.1+cu121", true},
		{"local build of the fix is safe", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.6.0"}]}]`, "2.6.0+cu124", false},
		{"local build of last_affected is affected", `"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"2.5.1"}]}]`, "2.5.1+cpu", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rec(t, `{"id":"TEST-1","affected":[{"package":{"ecosystem":"PyPI","name":"pkg"},`+c.affected+`}]}`)
			got, err := r.Affected[0].Affects(c.version)
			if err != nil {
				t.Fatalf("Affects(%q): %v", c.version, err)
			}
			if got != c.want {
				t.Errorf("Affects(%q) = %v, want %v", c.version, got, c.want)
			}
		})
	}
}

func TestMatch_NamesArePEP503Normalised(t *testing.T) {
	r := rec(t, `{"id":"TEST-2","affected":[{"package":{"ecosystem":"PyPI","name":"Py_YAML"},"versions":["5.3"]}]}`)
	for _, n := range []string{"py-yaml", "PY.YAML", "py__yaml", "Py_YAML", "py-_.yaml"} {
		if h, _ := r.Match("PyPI", n, "5.3"); len(h) != 1 {
			t.Errorf("%s did not match Py_YAML", n)
		}
	}
	// PEP 503 folds separators and case, never drops them.
	if h, _ := r.Match("PyPI", "pyyaml", "5.3"); len(h) != 0 {
		t.Error("pyyaml matched Py_YAML")
	}
	if h, _ := r.Match("npm", "py-yaml", "5.3"); len(h) != 0 {
		t.Error("a PyPI record matched an npm package")
	}
}

func TestMatch_WithdrawnRecordMatchesNothing(t *testing.T) {
	r := rec(t, `{"id":"TEST-3","withdrawn":"2023-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"pkg"},"versions":["1.0"]}]}`)
	if h, _ := r.Match("PyPI", "pkg", "1.0"); len(h) != 0 {
		t.Error("withdrawn record matched")
	}
}

func TestParseRecord_RejectsHostileInput(t *testing.T) {
	cases := map[string]string{
		"not json":          `{"id":`,
		"no id":             `{"affected":[]}`,
		"event with 2 keys": `{"id":"X","affected":[{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0","fixed":"1"}]}]}]}`,
		"unknown event":     `{"id":"X","affected":[{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"broken":"1"}]}]}]}`,
		"non-string event":  `{"id":"X","affected":[{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"fixed":1}]}]}]}`,
		"huge id":           `{"id":"` + strings.Repeat("A", maxStringBytes+1) + `"}`,
		"oversized":         `{"id":"X","details":"` + strings.Repeat("a", MaxRecordBytes) + `"}`,
	}
	for name, js := range cases {
		if _, err := ParseRecord([]byte(js)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseRecord_SummaryFallsBackToDetails(t *testing.T) {
	r := rec(t, `{"id":"X","details":"First line.\nSecond line.","affected":[]}`)
	if r.Summary != "First line." {
		t.Errorf("summary %q", r.Summary)
	}
}

// sharedRecord reads one record from the shared PyPI export.
func sharedRecord(t *testing.T, id string) *Record {
	t.Helper()
	p := testutil.Shared(t, "osv", "osv-scanner", "PyPI", "all.zip")
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open(id + ".json")
	if err != nil {
		t.Fatalf("%s not in %s: %v", id, p, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecord(b)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return r
}

func TestMatch_RealRecords(t *testing.T) {
	cases := []struct {
		id, pkg, version string
		want             bool
	}{
		// MAL record: versions[] only.
		{"MAL-2026-2144", "litellm", "1.82.7", true},
		{"MAL-2026-2144", "litellm", "1.82.8", true},
		{"MAL-2026-2144", "litellm", "1.82.6", false},
		// torch: GIT range listed before the ECOSYSTEM range; local CUDA builds.
		{"PYSEC-2022-43015", "torch", "1.13.0", true},
		{"PYSEC-2022-43015", "torch", "1.13.0+cu117", true},
		{"PYSEC-2022-43015", "torch", "1.13.1+cu117", false},
		{"PYSEC-2022-43015", "torch", "1.13.1", false},
		// zope: GIT first, two ECOSYSTEM intervals; 4.6.2.post1 is in range
		// but not in versions[].
		{"PYSEC-2021-368", "zope", "4.6.2.post1", true},
		{"PYSEC-2021-368", "zope", "4.6.3", false},
		{"PYSEC-2021-368", "Zope", "5.2.1", true},
		{"PYSEC-2021-368", "zope", "5.3", false},
		// last_affected.
		{"PYSEC-2022-42969", "py", "1.11.0", true},
		{"PYSEC-2022-42969", "py", "1.11.1", false},
		// withdrawn: never matches, although 1.10.0 is in its range.
		{"PYSEC-2021-13", "flask-caching", "1.10.0", false},
		{"PYSEC-2023-38", "onnx", "1.12.0", true},
		{"PYSEC-2023-38", "onnx", "1.13.0", false},
	}
	for _, c := range cases {
		r := sharedRecord(t, c.id)
		h, err := r.Match("PyPI", c.pkg, c.version)
		if err != nil {
			t.Errorf("%s %s %s: %v", c.id, c.pkg, c.version, err)
		}
		if got := len(h) > 0; got != c.want {
			t.Errorf("%s: %s %s affected = %v, want %v", c.id, c.pkg, c.version, got, c.want)
		}
	}
}

func TestRealRecords_AliasesAndFixes(t *testing.T) {
	r := sharedRecord(t, "MAL-2026-2144")
	if !r.IsMalicious() || len(r.Aliases) != 1 || r.Aliases[0] != "PYSEC-2026-2" {
		t.Errorf("MAL-2026-2144: malicious=%v aliases=%v", r.IsMalicious(), r.Aliases)
	}
	z := sharedRecord(t, "PYSEC-2021-368")
	if got := strings.Join(z.Affected[0].FixedVersions(), ","); got != "4.6.3,5.3" {
		t.Errorf("zope fixed versions %q, want 4.6.3,5.3 (GIT commit hashes are not versions)", got)
	}
	if !strings.Contains(strings.Join(z.Aliases, ","), "CVE-2021-32811") {
		t.Errorf("zope aliases %v", z.Aliases)
	}
}
