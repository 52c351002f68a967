// Package filehash computes the SHA-256 of many files in parallel, reading
// each byte once, front to back, and handing the same bytes to an optional
// observer (a row counter) so nothing is read twice.
//
// It is the BOM's stop-gap until the shared hashing engine lands; it only
// reads the files it is given through the os.Root it is given (so a link
// swapped in after the walk cannot lead it out of the tree), and never
// writes.
package filehash

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"
)

// Job is one file to hash.
type Job struct {
	Path string // relative to the root
	Size int64  // for scheduling: longest first
	// Observer, when set, receives every byte as it is hashed.
	Observer io.Writer
}

const bufSize = 256 << 10

// Hash returns the hex SHA-256 of each job, in job order. Workers <= 0
// means one per CPU. The first error stops the rest.
func Hash(ctx context.Context, root *os.Root, jobs []Job, workers int) ([]string, error) {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return jobs[order[a]].Size > jobs[order[b]].Size })
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]string, len(jobs))
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for w := 0; w < min(workers, len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, bufSize)
			for i := range next {
				sum, err := hashOne(ctx, root, jobs[i], buf)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("hashing %s: %w", jobs[i].Path, err); cancel() })
					continue
				}
				out[i] = sum
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
	return out, ctx.Err()
}

func hashOne(ctx context.Context, root *os.Root, j Job, buf []byte) (string, error) {
	f, err := root.Open(j.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	advise(f)
	h := sha256.New()
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			if j.Observer != nil {
				j.Observer.Write(buf[:n])
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
