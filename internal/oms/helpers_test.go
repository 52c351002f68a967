package oms

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var sprintf = fmt.Sprintf

// writeTree creates a model called name in a fresh temporary directory.
// The key "" makes the model a single file with that content; otherwise
// keys are "/"-separated relative paths.
func writeTree(t testing.TB, name string, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), name)
	if content, ok := files[""]; ok {
		if err := os.WriteFile(root, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return root
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}
