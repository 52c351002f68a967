// Package queue carries gate jobs from the server that accepted a push to
// the workers that gate it. Jobs are hints, not the record: the version's
// state lives in the MetaStore, a job may be delivered twice (the gate is
// idempotent), and a server that starts re-enqueues every pending version
// that has no gate result, so a job lost in a crash is never a version
// stuck unchecked. The embedded queue is in-process; the scale-out issue
// adds NATS JetStream behind the same interface.
package queue

import (
	"context"
	"errors"
	"sync"
)

// Job asks for one version to be gated.
type Job struct {
	Repo   string `json:"repo"`
	Digest string `json:"digest"`
}

// Queue delivers jobs to workers.
type Queue interface {
	// Enqueue adds a job; it never blocks for long.
	Enqueue(ctx context.Context, j Job) error
	// Dequeue waits for a job, until ctx ends or the queue closes.
	Dequeue(ctx context.Context) (Job, error)
	Close() error
}

// ErrClosed is returned by a closed queue.
var ErrClosed = errors.New("queue closed")

// Memory is an unbounded in-process queue that drops duplicates of jobs
// still waiting.
type Memory struct {
	mu      sync.Mutex
	jobs    []Job
	waiting map[Job]bool
	ready   chan struct{}
	closed  bool
}

// NewMemory returns an empty in-process queue.
func NewMemory() *Memory {
	return &Memory{waiting: map[Job]bool{}, ready: make(chan struct{}, 1)}
}

// Enqueue adds j unless it is already waiting.
func (m *Memory) Enqueue(_ context.Context, j Job) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.waiting[j] {
		return nil
	}
	m.waiting[j] = true
	m.jobs = append(m.jobs, j)
	select {
	case m.ready <- struct{}{}:
	default:
	}
	return nil
}

// Dequeue takes the oldest job.
func (m *Memory) Dequeue(ctx context.Context) (Job, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return Job{}, ErrClosed
		}
		if len(m.jobs) > 0 {
			j := m.jobs[0]
			m.jobs = m.jobs[1:]
			delete(m.waiting, j)
			if len(m.jobs) > 0 {
				select {
				case m.ready <- struct{}{}:
				default:
				}
			}
			m.mu.Unlock()
			return j, nil
		}
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return Job{}, ctx.Err()
		case <-m.ready:
		}
	}
}

// Close wakes every waiting Dequeue with ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		close(m.ready)
	}
	return nil
}
