package scan_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/aigis-dev/aigis/analyzer/list"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

type label struct {
	Verdict   string `json:"verdict"`
	Loader    string `json:"loader"`
	Technique string `json:"technique"`
}

// pickleFamily are the loaders whose labels the pickle-family analysers
// (pickle, torch, numpy, joblib, archives) must meet exactly.
var pickleFamily = map[string]bool{"torch": true, "torchscript": true, "pickle": true, "numpy": true, "joblib": true, "archive": true}

// TestCorpusPickleFamily scans ../shared/corpus and asserts every
// pickle-family label exactly as labels.json states it.
func TestCorpusPickleFamily(t *testing.T) {
	root := testutil.Shared(t, "corpus")
	raw, err := os.ReadFile(filepath.Join(root, "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	var labels map[string]label
	if err := json.Unmarshal(raw, &labels); err != nil {
		t.Fatal(err)
	}
	s := scan.New(scan.Options{Analyzers: list.All()})
	var paths []string
	for p := range labels {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	checked := 0
	for _, p := range paths {
		l := labels[p]
		if !pickleFamily[l.Loader] {
			continue
		}
		checked++
		t.Run(p, func(t *testing.T) {
			a := s.ScanFile(context.Background(), filepath.Join(root, p), p)
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
		})
	}
	if checked < 15 {
		t.Errorf("only %d pickle-family labels checked; labels.json changed?", checked)
	}
}
