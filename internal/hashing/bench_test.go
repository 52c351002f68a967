package hashing

import (
	"context"
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkHash measures the engine on a 256 MiB file cut into 64 MiB
// shards: one worker is the single-core baseline (what model_signing does
// for one file), NumCPU workers shows the parallel gain. The file is read
// once before timing so the page cache is warm, as in scripts/bench-sign.sh.
func BenchmarkHash(b *testing.B) {
	const size, shard = 256 << 20, 64 << 20
	p := writeFile(b, b.TempDir(), "model.bin", randomBytes(b, size))
	var jobs []Job
	for off := int64(0); off < size; off += shard {
		jobs = append(jobs, Job{Path: p, Offset: off, Length: shard})
	}
	if _, err := Hash(context.Background(), jobs, Options{}); err != nil {
		b.Fatal(err)
	}
	for _, alg := range Algorithms() {
		for _, workers := range []int{1, runtime.NumCPU()} {
			b.Run(fmt.Sprintf("%s/workers=%d", alg, workers), func(b *testing.B) {
				b.SetBytes(size)
				for b.Loop() {
					if _, err := Hash(context.Background(), jobs, Options{Algorithm: alg, Workers: workers}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
