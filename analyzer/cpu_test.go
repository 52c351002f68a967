package analyzer

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// Nested pools never run more goroutines than the budget: every outer
// worker holds a token, and inner helpers get only idle ones.
func TestCPU_NestedPoolsShareOneBudget(t *testing.T) {
	cpu := NewCPU(4)
	var running, peak atomic.Int64
	enter := func() {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
	}
	var wg sync.WaitGroup
	for range 16 { // 16 outer jobs on a 4-token budget
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cpu.Acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			defer cpu.Release()
			n, release := cpu.Helpers(8)
			defer release()
			var inner sync.WaitGroup
			for range n {
				inner.Add(1)
				go func() {
					defer inner.Done()
					enter()
					defer running.Add(-1)
					for i := 0; i < 1000; i++ {
						_ = i * i
					}
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 4 {
		t.Fatalf("%d goroutines ran at once on a budget of 4", p)
	}
	// Alone, one holder gets every idle token.
	if err := cpu.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, release := cpu.Helpers(8)
	if n != 4 {
		t.Errorf("alone: %d goroutines, want 4", n)
	}
	release()
	cpu.Release()
	var nilCPU *CPU
	if n, _ := nilCPU.Helpers(3); n != 3 {
		t.Errorf("nil budget: %d", n)
	}
}
