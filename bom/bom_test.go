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

	"github.com/aigis-dev/aigis/bom"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/osvdb"
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
