package weights

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/analyzer"
)

// concurrency is the most goroutines parallel ran work on at once.
func concurrency(t *testing.T, cpu *analyzer.CPU, n int) int {
	var now, peak atomic.Int32
	err := parallel(context.Background(), cpu, n, func() struct{} { return struct{}{} }, func(int, struct{}) error {
		c := now.Add(1)
		for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		now.Add(-1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(peak.Load())
}

// The pool is as wide as the run's CPU budget allows: every core with
// no budget, only the idle tokens with one (a scan worker holds its own
// token, so a busy budget leaves the work on one goroutine), and never
// wider than the work.
func TestParallel_TakesItsWidthFromTheCPUBudget(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	if got := concurrency(t, nil, 64); got > procs {
		t.Errorf("no budget: %d goroutines, more than %d cores", got, procs)
	}
	if got := concurrency(t, nil, 1); got != 1 {
		t.Errorf("one task: %d goroutines", got)
	}
	cpu := analyzer.NewCPU(procs)
	for range procs {
		if !cpu.TryAcquire() {
			t.Fatal("token")
		}
	}
	if got := concurrency(t, cpu, 64); got != 1 {
		t.Errorf("every token held: %d goroutines, want 1", got)
	}
	cpu.Release()
	if got := concurrency(t, cpu, 64); got > 2 {
		t.Errorf("one idle token: %d goroutines, want at most 2", got)
	}
	// The tokens taken are given back.
	if !cpu.TryAcquire() {
		t.Error("the pool kept a token")
	}
}
