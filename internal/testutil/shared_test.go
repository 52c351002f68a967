package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSharedChild is run by TestShared_RequiredFailsNotSkips in a module
// with no ../shared beside it.
func TestSharedChild(t *testing.T) {
	if os.Getenv("AIGIS_SHARED_CHILD") != "1" {
		t.Skip("run by TestShared_RequiredFailsNotSkips")
	}
	Shared(t, "corpus")
}

// CI must not pass with the shared-data tests skipped: under
// AIGIS_REQUIRE_SHARED=1 a missing ../shared fails the test.
func TestShared_RequiredFailsNotSkips(t *testing.T) {
	mod := filepath.Join(t.TempDir(), "checkout")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module x\n"), 0o644)
	run := func(require string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSharedChild$", "-test.v")
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "AIGIS_SHARED_CHILD=1", RequireShared+"="+require)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("1")
	if err == nil || !strings.Contains(out, "requires it") {
		t.Errorf("with %s=1: err %v\n%s", RequireShared, err, out)
	}
	out, err = run("")
	if err != nil || !strings.Contains(out, "SKIP") {
		t.Errorf("without it: err %v\n%s", err, out)
	}
}
