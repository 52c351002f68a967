package archive

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Fuzz7zHeader checks the 7z header validator directly: it must never
// panic or allocate in proportion to a claimed count.
func Fuzz7zHeader(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.7z")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check7z(bytes.NewReader(b), int64(len(b)), 1000)
	})
}
