package jinja

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkAnalyze_Real analyses every real template of testdata/real.
func BenchmarkAnalyze_Real(b *testing.B) {
	files, _ := filepath.Glob("testdata/real/*.jinja")
	var srcs []string
	n := 0
	for _, f := range files {
		x, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, string(x))
		n += len(x)
	}
	b.SetBytes(int64(n))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range srcs {
			Analyze(s)
		}
	}
}
