package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/report"
)

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	code := run(e, args)
	return result{code, out.String(), errb.String()}
}

// corruptModel writes a file whose name promises a pickle-family format
// but whose content is nothing aigis recognises: it must never be clean.
func corruptModel(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.pt"), []byte("this is not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExitCodes(t *testing.T) {
	dir := corruptModel(t)
	if r := runCLI(t, nil, "scan", dir); r.code != ExitFindings {
		t.Errorf("corrupt .pt with default --fail-on: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	// An invalid file fails the gate whatever the threshold, unless the
	// user allows incomplete analysis by name.
	if r := runCLI(t, nil, "scan", "--fail-on", "high", dir); r.code != ExitFindings {
		t.Errorf("--fail-on high: exit %d, want 1", r.code)
	}
	if r := runCLI(t, nil, "scan", "--fail-on", "high", "--allow-incomplete", dir); r.code != ExitOK {
		t.Errorf("--fail-on high --allow-incomplete: exit %d, want 0", r.code)
	}
	if r := runCLI(t, nil, "scan", "--fail-on", "none", "--allow-incomplete", dir); r.code != ExitOK {
		t.Errorf("--fail-on none --allow-incomplete: exit %d, want 0", r.code)
	}
	if r := runCLI(t, nil, "scan", "--fail-on", "bogus", dir); r.code != ExitError {
		t.Errorf("bad --fail-on: exit %d, want 2", r.code)
	}
	if r := runCLI(t, nil, "scan", "--no-such-flag", dir); r.code != ExitError {
		t.Errorf("unknown flag: exit %d, want 2", r.code)
	}
	if r := runCLI(t, nil, "scan", filepath.Join(dir, "missing")); r.code != ExitError || !strings.Contains(r.stderr, "missing") {
		t.Errorf("missing target: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, nil, "scan", "-o", "xml", dir); r.code != ExitError {
		t.Errorf("bad -o: exit %d, want 2", r.code)
	}
	if r := runCLI(t, nil, "scan"); r.code != ExitError {
		t.Errorf("no target: exit %d, want 2", r.code)
	}
}

func TestJSONContract(t *testing.T) {
	dir := corruptModel(t)
	r := runCLI(t, nil, "scan", "-o", "json", "--fail-on", "none", dir)
	rep, err := report.Decode([]byte(r.stdout))
	if err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(rep.Artifacts) != 2 {
		t.Fatalf("want one artifact per regular file, got %d", len(rep.Artifacts))
	}
	byPath := map[string]report.Artifact{}
	for _, a := range rep.Artifacts {
		byPath[a.Path] = a
	}
	if a := byPath[filepath.Join(dir, "model.pt")]; a.Verdict != report.Invalid {
		t.Errorf("model.pt: %+v", a)
	}
	if a := byPath[filepath.Join(dir, "notes.txt")]; a.Verdict != report.Clean || a.Format != "other" {
		t.Errorf("notes.txt: %+v", a)
	}
}

func TestEnvAndConfig(t *testing.T) {
	dir := corruptModel(t)
	if r := runCLI(t, map[string]string{"AIGIS_FAIL_ON": "high", "AIGIS_ALLOW_INCOMPLETE": "true"}, "scan", dir); r.code != ExitOK {
		t.Errorf("AIGIS_FAIL_ON=high: exit %d", r.code)
	}
	if r := runCLI(t, map[string]string{"AIGIS_FAIL_ON": "high", "AIGIS_SCAN_FAIL_ON": "low", "AIGIS_ALLOW_INCOMPLETE": "true"}, "scan", dir); r.code != ExitFindings {
		t.Errorf("verb-specific variable must win: exit %d", r.code)
	}
	if r := runCLI(t, map[string]string{"AIGIS_FAIL_ON": "high", "AIGIS_ALLOW_INCOMPLETE": "true"}, "scan", "--fail-on", "medium", dir); r.code != ExitFindings {
		t.Errorf("flag must beat the environment: exit %d", r.code)
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("scan:\n  fail-on: critical\n  output: json\nallow-incomplete: true\n"), 0o644)
	r := runCLI(t, nil, "--config", cfg, "scan", dir)
	if r.code != ExitOK || !strings.HasPrefix(strings.TrimSpace(r.stdout), "{") {
		t.Errorf("config file not applied: exit %d, %q", r.code, r.stdout)
	}
	if r := runCLI(t, map[string]string{"AIGIS_CONFIG": filepath.Join(dir, "nope.yaml")}, "scan", dir); r.code != ExitError {
		t.Errorf("an explicit config that is missing must fail: exit %d", r.code)
	}
	if r := runCLI(t, map[string]string{"AIGIS_WORKERS": "many"}, "scan", dir); r.code != ExitError {
		t.Errorf("bad env value must be a usage error: exit %d", r.code)
	}
}

func TestSymlinkEscapeReported(t *testing.T) {
	dir := corruptModel(t)
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("x"), 0o600)
	if err := os.Symlink(outside, filepath.Join(dir, "weights.bin")); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	os.Symlink("notes.txt", filepath.Join(dir, "inside-link"))
	r := runCLI(t, nil, "scan", "-o", "json", "--fail-on", "none", dir)
	rep, err := report.Decode([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	var escape, inside *report.Artifact
	for i := range rep.Artifacts {
		switch filepath.Base(rep.Artifacts[i].Path) {
		case "weights.bin":
			escape = &rep.Artifacts[i]
		case "inside-link":
			inside = &rep.Artifacts[i]
		}
	}
	if escape == nil || escape.Verdict != report.Suspicious || escape.Findings[0].Rule != "symlink-escape" {
		t.Errorf("escaping link: %+v", escape)
	}
	if inside == nil || inside.Verdict != report.Clean || inside.Properties["link_resolves_to"] != "notes.txt" {
		t.Errorf("inside link: %+v", inside)
	}
}
