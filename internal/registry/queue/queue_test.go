package queue

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	q := NewMemory()
	ctx := context.Background()
	a, b := Job{"r", "sha256:a"}, Job{"r", "sha256:b"}
	q.Enqueue(ctx, a)
	q.Enqueue(ctx, a) // a duplicate of a waiting job is dropped
	q.Enqueue(ctx, b)
	for _, want := range []Job{a, b} {
		got, err := q.Dequeue(ctx)
		if err != nil || got != want {
			t.Fatalf("got %v %v, want %v", got, err, want)
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := q.Dequeue(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("empty queue: %v", err)
	}
	done := make(chan error)
	go func() { _, err := q.Dequeue(ctx); done <- err }()
	q.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("closed queue: %v", err)
	}
}
