package scan_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

// TestAttackCorpus scans the adversarial corpus internal/gen/attacks/gen.py
// makes (every file proven to run its payload when its real loader reads
// it) when $AIGIS_ATTACK_CORPUS names it, and requires that none is
// clean. How many are malicious rather than suspicious is measured by
// internal/gen/attacks/measure.py and recorded in results.tsv there.
func TestAttackCorpus(t *testing.T) {
	dir := os.Getenv("AIGIS_ATTACK_CORPUS")
	if dir == "" {
		t.Skip("set AIGIS_ATTACK_CORPUS to the output of internal/gen/attacks/gen.py")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Files []struct {
			Path      string `json:"path"`
			Technique string `json:"technique"`
		} `json:"files"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Files) < 100 {
		t.Fatalf("only %d attack files", len(m.Files))
	}
	s := scan.New(scan.Options{})
	for _, f := range m.Files {
		a := s.ScanFile(context.Background(), filepath.Join(dir, f.Path), f.Path)
		if a.Verdict == report.Clean {
			t.Errorf("%s (%s) is clean", f.Path, f.Technique)
		}
	}
}
