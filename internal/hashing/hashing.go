// Package hashing is the digest engine behind OMS signing and verification:
// it hashes whole files and byte ranges of files in parallel on every core,
// with bounded memory and one sequential pass over each byte.
//
// It is a library for any caller that must digest large models quickly (the
// sign, verify, digest and bom verbs today, a registry that re-verifies
// models on every push and pull later). A caller that needs something else
// from the same bytes (the BOM counts dataset rows) observes them as they
// are hashed instead of reading the file again. It only reads the paths it
// is given: it never walks directories, never follows a policy of its own
// about links (callers pass an Open function for that) and never writes.
package hashing

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/blake2b"
)

// Algorithm names a content hash by its OMS identifier.
type Algorithm string

// The algorithms of the OMS algorithm registry.
const (
	SHA256  Algorithm = "sha256"
	BLAKE2b Algorithm = "blake2b" // 512-bit BLAKE2b, as Python's hashlib.blake2b()
	BLAKE3  Algorithm = "blake3"  // 256-bit BLAKE3
)

// Algorithms lists the supported algorithms, default first.
func Algorithms() []Algorithm { return []Algorithm{SHA256, BLAKE2b, BLAKE3} }

// ParseAlgorithm accepts an OMS identifier. "blake2" is accepted as an alias
// of blake2b because model_signing's Python API spells it that way.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch s {
	case "sha256", "blake2b", "blake3":
		return Algorithm(s), nil
	case "blake2":
		return BLAKE2b, nil
	}
	return "", fmt.Errorf("unknown hash algorithm %q (want sha256, blake2b or blake3)", s)
}

// Valid reports whether a is one of Algorithms.
func (a Algorithm) Valid() bool { return a.Size() != 0 }

// New returns a fresh hash.Hash for a, or nil when a is not Valid.
func (a Algorithm) New() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New()
	case BLAKE2b:
		h, _ := blake2b.New512(nil)
		return h
	case BLAKE3:
		return blake3.New()
	}
	return nil
}

// Size is the digest length in bytes (0 for an invalid algorithm).
func (a Algorithm) Size() int {
	switch a {
	case SHA256, BLAKE3:
		return 32
	case BLAKE2b:
		return 64
	}
	return 0
}

// Job is one digest to compute: the byte range [Offset, Offset+Length) of
// the file at Path, or, when Whole is set, everything from Offset to the end
// of the file (Length is then only a size hint for scheduling and progress).
type Job struct {
	Path   string
	Offset int64
	Length int64
	Whole  bool
}

// Result is the digest of one Job and the number of bytes it covered, or,
// with Options.ContinueOnError, the error that stopped it.
type Result struct {
	Digest []byte
	Size   int64
	Err    error
}

// DefaultBufferSize is the read size per worker. Reads of this size from the
// page cache stay in the CPU's L2 cache until the hash consumes them, which
// measured faster than both larger reads and mmap on large models.
const DefaultBufferSize = 256 << 10

// Options configure Hash. The zero value hashes with SHA-256 on every core.
type Options struct {
	Algorithm Algorithm
	// Workers is the number of files or ranges hashed at once (default: the
	// number of CPUs). Memory use is Workers × BufferSize.
	Workers    int
	BufferSize int
	// Open opens a path for reading (default os.Open). Callers enforce their
	// link and special-file policy here, at the moment of reading.
	Open func(path string) (*os.File, error)
	// Progress, when set, is called with the number of bytes just hashed.
	// It may be called from several goroutines at once.
	Progress func(n int64)
	// Observe, when set, sees the bytes of every Whole job as they are
	// hashed: it is called with the job's index in jobs and each piece
	// read, in file order, so a caller can compute something else from
	// the same single read (the BOM counts dataset rows this way). p is
	// only valid during the call. Calls for one job come from one
	// goroutine; different jobs are observed concurrently. Range jobs are
	// not observed. A job that fails may have been observed in part.
	Observe func(job int, p []byte)
	// ContinueOnError records a job's error in its Result and goes on with
	// the other jobs, for callers that report on every file (a verifier).
	// By default the first error cancels the rest and is returned.
	ContinueOnError bool
}

// JobError is an error while hashing one job; Index is its position in
// the jobs given to Hash.
type JobError struct {
	Index int
	Path  string
	Err   error
}

func (e *JobError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *JobError) Unwrap() error { return e.Err }

// ErrShortRead reports a file that ended before a range it was expected to
// hold: it was truncated after it was listed.
var ErrShortRead = errors.New("file is shorter than expected (changed while hashing?)")

// Hash computes the digests of jobs, returned in the order of jobs. Jobs run
// longest first on Workers goroutines; each reads its range once, in
// BufferSize pieces, from its own file descriptor. The first error (a
// *JobError) cancels the rest, unless Options.ContinueOnError is set.
func Hash(ctx context.Context, jobs []Job, opts Options) ([]Result, error) {
	if opts.Algorithm == "" {
		opts.Algorithm = SHA256
	}
	if !opts.Algorithm.Valid() {
		return nil, fmt.Errorf("hashing: unknown algorithm %q", opts.Algorithm)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = DefaultBufferSize
	}
	if opts.Open == nil {
		opts.Open = os.Open
	}
	for i, j := range jobs {
		if j.Offset < 0 || (!j.Whole && j.Length < 0) {
			return nil, fmt.Errorf("hashing: job %d (%s): negative offset or length", i, j.Path)
		}
	}
	// Longest first: a big shard started last would leave the other cores
	// idle while it finishes.
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return jobs[order[a]].Length > jobs[order[b]].Length })

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]Result, len(jobs))
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	workers := min(opts.Workers, len(jobs))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, opts.BufferSize)
			h := opts.Algorithm.New()
			for i := range next {
				r, err := hashJob(ctx, i, jobs[i], h, buf, &opts)
				if err != nil && ctx.Err() == nil {
					err = &JobError{Index: i, Path: jobs[i].Path, Err: err}
					if opts.ContinueOnError {
						results[i] = Result{Err: err}
						continue
					}
					fail(err)
				}
				if err != nil {
					continue
				}
				results[i] = r
			}
		}()
	}
feed:
	for _, i := range order {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return results, nil
}

func hashJob(ctx context.Context, index int, j Job, h hash.Hash, buf []byte, opts *Options) (Result, error) {
	f, err := opts.Open(j.Path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	advise(f, j.Offset, j.Length)
	h.Reset()
	observe := opts.Observe
	if !j.Whole {
		observe = nil
	}
	off, left := j.Offset, j.Length
	for {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		want := len(buf)
		if !j.Whole {
			if left == 0 {
				break
			}
			want = int(min(int64(want), left))
		}
		n, err := f.ReadAt(buf[:want], off)
		if n > 0 {
			h.Write(buf[:n])
			if observe != nil {
				observe(index, buf[:n])
			}
			off += int64(n)
			left -= int64(n)
			if opts.Progress != nil {
				opts.Progress(int64(n))
			}
		}
		if err == io.EOF {
			if !j.Whole && left > 0 {
				return Result{}, ErrShortRead
			}
			break
		}
		if err != nil {
			return Result{}, err
		}
	}
	return Result{Digest: h.Sum(nil), Size: off - j.Offset}, nil
}

// Sum hashes everything r yields; it is the one-stream form of Hash for
// payloads already in memory or arriving over a network.
func Sum(a Algorithm, r io.Reader) ([]byte, error) {
	h := a.New()
	if h == nil {
		return nil, fmt.Errorf("hashing: unknown algorithm %q", a)
	}
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
