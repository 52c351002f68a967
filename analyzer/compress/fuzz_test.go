package compress_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil/scantest"
)

// FuzzCompressed feeds compressed streams (and their sniffers' weak
// magics) through the engine.
func FuzzCompressed(f *testing.F) {
	for _, c := range []string{"gzip", "zlib", "xz", "lzma", "zstd", "lz4", "zf"} {
		f.Add(enc(nil, c, evil))
	}
	files, _ := filepath.Glob("testdata/*.bz2")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { scantest.Fuzz(t, b, "x.gz") })
}
