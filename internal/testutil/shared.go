// Package testutil finds the shared test material that sits beside the
// checkout (../shared). Tests that need it skip with a clear message when
// it is absent, as it is in a user's fresh clone; with
// AIGIS_REQUIRE_SHARED=1 (which .ci/run sets) they fail instead, so CI
// cannot pass with the security tests skipped.
package testutil

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Shared returns the absolute path of ../shared/<elem...> relative to the
// module root, or skips the test when it does not exist.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	p, ok := SharedPath(elem...)
	if !ok && os.Getenv(RequireShared) == "1" {
		t.Fatalf("shared test material %s not found beside the checkout, and %s=1 requires it", filepath.Join(append([]string{"../shared"}, elem...)...), RequireShared)
	}
	if !ok {
		t.Skipf("shared test material %s not found beside the checkout; skipping (CI provides it)", filepath.Join(append([]string{"../shared"}, elem...)...))
	}
	return p
}

// RequireShared names the variable that turns a missing ../shared from a
// skip into a failure.
const RequireShared = "AIGIS_REQUIRE_SHARED"

// SharedPath is Shared without the test: it reports whether the path
// exists. Benchmarks and tools use it.
func SharedPath(elem ...string) (string, bool) {
	root := ModuleRoot()
	if root == "" {
		return "", false
	}
	p := filepath.Join(append([]string{filepath.Dir(root), "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}

// ModuleRoot walks up from the working directory to the directory holding
// go.mod ("" if none).
func ModuleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// SHA256File is the hex SHA-256 of a file, computed the plain way, for
// checking hashes that code under test computed.
func SHA256File(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// Golden compares got with the file at path; with update it rewrites the
// file first. Golden files are the code's own reviewed output.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run the test with -update to accept, then review the diff)", path)
	}
}
