package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
)

func TestMonitorAnalyze_SharedSample(t *testing.T) {
	dir := testutil.Shared(t, "monitor", "digits")
	base := filepath.Join(dir, "baseline.jsonl")
	r := runCLI(t, nil, "--config", "none", "monitor", "analyze", base, filepath.Join(dir, "attack_traffic.jsonl"))
	if r.code != ExitFindings || !strings.Contains(r.stdout, "possible backdoor trigger") {
		t.Errorf("attack traffic: exit %d, want 1 with a trigger alert\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, nil, "--config", "none", "monitor", "analyze", base, filepath.Join(dir, "clean_traffic.jsonl"))
	if r.code != ExitOK || !strings.Contains(r.stdout, "no alerts") {
		t.Errorf("clean traffic: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, nil, "--config", "none", "monitor", "analyze", "-o", "json", base, filepath.Join(dir, "swap_traffic.jsonl"))
	var got struct {
		Alerts []struct{ Kind string } `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != ExitFindings {
		t.Fatalf("swap traffic -o json: exit %d, %v\n%s", r.code, err, r.stderr)
	}
	swap := false
	for _, a := range got.Alerts {
		swap = swap || a.Kind == "swap"
	}
	if !swap {
		t.Errorf("swap traffic: no swap alert in %s", r.stdout)
	}
	out := filepath.Join(t.TempDir(), "report.html")
	r = runCLI(t, nil, "--config", "none", "monitor", "analyze", "-o", "html", "--file", out, base, filepath.Join(dir, "attack_traffic.jsonl"))
	if b, err := os.ReadFile(out); err != nil || r.code != ExitFindings || !strings.Contains(string(b), "<svg") {
		t.Errorf("-o html --file: exit %d, %v", r.code, err)
	}
}

func TestMonitor_UsageErrors(t *testing.T) {
	log := filepath.Join(t.TempDir(), "b.jsonl")
	os.WriteFile(log, []byte(`{"label": 1}`+"\n"), 0o644)
	for _, args := range [][]string{
		{"monitor", "analyze", log},
		{"monitor", "analyze", "-o", "sarif", log, log},
		{"monitor", "analyze", log, "/no/such/log"},
		{"monitor", "analyze", "--alpha", "2", log, log},
		{"monitor", "analyze", "--window", "3", log, log},
		{"monitor", "analyze", log, log}, // a baseline of one request
		{"monitor", "proxy"},
		{"monitor", "proxy", "--upstream", "ftp://x"},
		{"monitor", "proxy", "--upstream", "http://127.0.0.1:1", "--block", "everything"},
		{"monitor", "proxy", "--upstream", "http://127.0.0.1:1", "--protocol", "grpc"},
		{"monitor", "proxy", "--upstream", "http://127.0.0.1:1", "--public-key", "k.pub"},
	} {
		if r := runCLI(t, nil, append([]string{"--config", "none"}, args...)...); r.code != ExitError {
			t.Errorf("%v: exit %d, want 2\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}
