package torch_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
)

// FuzzTorch mutates torch zips and legacy checkpoints through the engine.
func FuzzTorch(f *testing.F) {
	f.Add(testutil.TorchZip(f, "m", testutil.TorchStateDict(2, 2), 2, 2))
	f.Add(testutil.TorchZip(f, "archive", evilPkl, 0, 0))
	f.Add(legacyFile(magicPkl, protoPkl, infoPkl, testutil.TorchStateDict(1, 2), keysPkl, storage(2)))
	// TorchScript and torch.package archives written by torch 1.13
	files, _ := filepath.Glob("testdata/*.pt")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { scantest.Fuzz(t, b, "model.pt") })
}
