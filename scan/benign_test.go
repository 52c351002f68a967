package scan_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

// benignManifest is the manifest internal/gen/benign/gen.py writes.
type benignManifest struct {
	Versions map[string]string `json:"versions"`
	Files    []struct {
		Path    string `json:"path"`
		SHA256  string `json:"sha256"`
		Kind    string `json:"kind"`
		What    string `json:"what"`
		Loader  string `json:"loader"`
		LoadsOK bool   `json:"loads_ok"`
	} `json:"files"`
}

func readBenignManifest(t *testing.T, dir string) benignManifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m benignManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkBenign scans dir as a scan target and requires every file the
// manifest lists to be clean with no finding above info.
func checkBenign(t *testing.T, dir string, min int) {
	m := readBenignManifest(t, dir)
	if len(m.Files) < min {
		t.Fatalf("%s lists %d files, want at least %d", dir, len(m.Files), min)
	}
	rep, err := scan.New(scan.Options{}).Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]report.Artifact{}
	for _, a := range rep.Artifacts {
		if rel, err := filepath.Rel(dir, a.Path); err == nil {
			byPath[filepath.ToSlash(rel)] = a
		}
	}
	bad := map[string]int{}
	var failed []string
	for _, f := range m.Files {
		if !f.LoadsOK {
			continue
		}
		a, ok := byPath[f.Path]
		if !ok {
			t.Errorf("%s: not scanned", f.Path)
			continue
		}
		var above []string
		for _, x := range a.Findings {
			if x.Severity > report.SeverityInfo {
				above = append(above, x.Rule+": "+x.Message)
			}
		}
		if a.Verdict != report.Clean || len(above) > 0 {
			failed = append(failed, f.Path)
			bad[f.Kind]++
			if len(failed) <= 40 {
				t.Errorf("%s (%s, read by %s): %s %s", f.Path, f.What, f.Loader, a.Verdict, strings.Join(above, "; "))
			}
		}
	}
	if len(failed) > 0 {
		kinds := make([]string, 0, len(bad))
		for k, n := range bad {
			kinds = append(kinds, k+"="+strconv.Itoa(n))
		}
		sort.Strings(kinds)
		t.Errorf("%d of %d genuine files flagged (%s)", len(failed), len(m.Files), strings.Join(kinds, " "))
	}
}

// TestBenignSubset scans the shippable part of the benign corpus: genuine
// files written by torch 1.13, scikit-learn 1.2, numpy, scipy, joblib and
// onnx (internal/gen/benign), one or more for each class of false
// positive aigis once had on library output.
func TestBenignSubset(t *testing.T) {
	checkBenign(t, filepath.Join("testdata", "benign"), 40)
}

// TestBenignCorpus scans the whole benign corpus when
// $AIGIS_BENIGN_CORPUS names it (internal/gen/benign/gen.py makes it,
// about 2,650 files); it skips otherwise.
func TestBenignCorpus(t *testing.T) {
	dir := os.Getenv("AIGIS_BENIGN_CORPUS")
	if dir == "" {
		t.Skip("set AIGIS_BENIGN_CORPUS to the output of internal/gen/benign/gen.py")
	}
	checkBenign(t, dir, 500)
}
