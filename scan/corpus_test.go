package scan_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

type label struct {
	Verdict   string `json:"verdict"`
	Loader    string `json:"loader"`
	Technique string `json:"technique"`
}

// TestCorpus scans ../shared/corpus and asserts every label exactly as
// labels.json states it, for every loader: files are scanned on their
// own, directories (repositories, datasets) as scan targets, whose
// directory artifact must carry the label and, when benign, every file in
// them must be clean too.
func TestCorpus(t *testing.T) {
	root := testutil.Shared(t, "corpus")
	raw, err := os.ReadFile(filepath.Join(root, "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	var labels map[string]label
	if err := json.Unmarshal(raw, &labels); err != nil {
		t.Fatal(err)
	}
	s := scan.New(scan.Options{})
	withWeights := scan.New(scan.Options{Weights: true})
	var paths []string
	for p := range labels {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	checked := 0
	for _, p := range paths {
		l := labels[p]
		checked++
		t.Run(p, func(t *testing.T) {
			full := filepath.Join(root, p)
			var a report.Artifact
			if st, err := os.Stat(full); err == nil && st.IsDir() {
				rep, err := s.Scan(context.Background(), []string{full})
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, x := range rep.Artifacts {
					if x.Path == filepath.Clean(full) {
						a, found = x, true
					} else if l.Verdict == "benign" && x.Verdict != report.Clean {
						t.Errorf("benign %s: %s is %s: %+v", p, x.Path, x.Verdict, x.Findings)
					}
				}
				if !found {
					t.Fatalf("no artifact for the directory %s", p)
				}
			} else {
				a = s.ScanFile(context.Background(), full, p)
			}
			ok := false
			switch l.Verdict {
			case "benign":
				ok = a.Verdict == report.Clean
			case "malicious":
				ok = a.Verdict == report.Malicious
			case "suspicious":
				ok = a.Verdict == report.Suspicious
			case "invalid":
				ok = a.Verdict != report.Clean
			case "stress":
				ok = true
			default:
				t.Fatalf("unknown label verdict %q", l.Verdict)
			}
			if !ok {
				t.Errorf("%s (%s): label %s, got %s (%s): %+v", p, l.Technique, l.Verdict, a.Verdict, a.Format, a.Findings)
			}
			// Weight forensics must not flag benign models either.
			if l.Verdict == "benign" {
				if st, err := os.Stat(full); err == nil && !st.IsDir() {
					if w := withWeights.ScanFile(context.Background(), full, p); w.Verdict != report.Clean {
						t.Errorf("%s with --weights: %s %+v", p, w.Verdict, w.Findings)
					}
				}
			}
		})
	}
	if checked < 30 {
		t.Errorf("only %d labels checked; labels.json changed?", checked)
	}
}
