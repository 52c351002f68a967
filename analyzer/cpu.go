package analyzer

import (
	"context"
	"runtime"
)

// CPU is the one CPU budget of a run: a token per core that every pool
// draws from, so that pools nested inside each other (the scan's file
// workers, the weight readers of one file, the hashers of a BOM) never
// run more goroutines than there are cores between them. A worker that
// holds a token may ask for more to parallelise its own work; it gets
// only what is idle, and always runs at least on its own goroutine.
type CPU struct {
	tokens chan struct{}
}

// NewCPU makes a budget of n tokens (all cores when n <= 0).
func NewCPU(n int) *CPU {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &CPU{tokens: make(chan struct{}, n)}
}

// Size is the number of tokens.
func (c *CPU) Size() int { return cap(c.tokens) }

// Acquire waits for a token; it fails only when ctx is done.
func (c *CPU) Acquire(ctx context.Context) error {
	select {
	case c.tokens <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TryAcquire takes a token if one is idle.
func (c *CPU) TryAcquire() bool {
	select {
	case c.tokens <- struct{}{}:
		return true
	default:
		return false
	}
}

// Release returns a token.
func (c *CPU) Release() { <-c.tokens }

// Helpers takes up to want-1 idle tokens for a caller that already holds
// one (or runs outside any pool) and wants to split its work want ways.
// It returns how many goroutines to run in all (at least 1) and a
// function that gives the extra tokens back. A nil CPU grants want.
func (c *CPU) Helpers(want int) (n int, release func()) {
	if want < 1 {
		want = 1
	}
	if c == nil {
		return want, func() {}
	}
	extra := 0
	for extra < want-1 && c.TryAcquire() {
		extra++
	}
	return extra + 1, func() {
		for range extra {
			c.Release()
		}
	}
}
