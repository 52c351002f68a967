package analyzer

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Limits bound the work done on one walked file, including everything
// nested inside it. Hitting a limit makes the artifact inconclusive (or
// invalid), never clean.
type Limits struct {
	// MaxDepth is how deep containers may nest (zip in tar in gzip...).
	MaxDepth int
	// MaxExpanded is the total number of bytes that decompression may
	// produce for one walked file.
	MaxExpanded int64
	// MaxRatio is the largest expansion ratio a compressed stream may
	// reach once it has produced more than RatioFloor bytes.
	MaxRatio   int64
	RatioFloor int64
	// MaxEntries is the number of members read from one archive.
	MaxEntries int
	// MaxMemory is how much of a stream may be buffered in memory when an
	// analyser needs random access; beyond it the stream spills to a
	// temporary file, still within MaxExpanded.
	MaxMemory int64
	// NoSpill forbids that temporary file: a stream larger than MaxMemory
	// that needs random access is then not analysed (an error, so the
	// input is never clean). aigis image sets it: it writes nothing to
	// disk.
	NoSpill bool
	// Timeout bounds the wall time spent on one walked file.
	Timeout time.Duration
}

// DefaultLimits are generous for real models and tight for bombs.
func DefaultLimits() Limits {
	return Limits{
		MaxDepth:    8,
		MaxExpanded: 16 << 30,
		MaxRatio:    1100, // deflate cannot exceed ~1032:1; more is a crafted stream
		RatioFloor:  64 << 20,
		MaxEntries:  100_000,
		MaxMemory:   32 << 20,
		Timeout:     5 * time.Minute,
	}
}

// Budget is the per-walked-file account of Limits. It is safe for
// concurrent use.
type Budget struct {
	Limits
	// Weights asks analysers that can read tensor data to do so (weight
	// forensics, aigis scan --weights). Off, formats read headers only.
	Weights bool
	// CPU is the run's CPU budget; an analyser that parallelises its own
	// work (weight forensics) takes helpers from it. Nil: unbounded.
	CPU      *CPU
	expanded atomic.Int64
	cl       cleanups
}

// NewBudget starts an account.
func NewBudget(l Limits) *Budget { return &Budget{Limits: l} }

// LimitError says which limit was hit. It maps to verdict inconclusive.
type LimitError struct {
	What  string
	Limit int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s limit reached (%d)", e.What, e.Limit)
}

// IsLimit reports whether err is (or wraps) a LimitError.
func IsLimit(err error) bool {
	var le *LimitError
	return errors.As(err, &le)
}

// Expand wraps a decompressor so that its output counts against the
// budget and its ratio against compressed, the counter of bytes consumed
// from the compressed source (may be nil when unknown).
func (b *Budget) Expand(dec io.Reader, compressed *Counter) io.Reader {
	return &expandReader{r: dec, b: b, in: compressed}
}

type expandReader struct {
	r   io.Reader
	b   *Budget
	in  *Counter
	out int64
}

func (e *expandReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if n > 0 {
		e.out += int64(n)
		if total := e.b.expanded.Add(int64(n)); total > e.b.MaxExpanded {
			return n, &LimitError{What: "total decompressed bytes", Limit: e.b.MaxExpanded}
		}
		if e.in != nil && e.out > e.b.RatioFloor {
			if c := e.in.N.Load(); c > 0 && e.out/c > e.b.MaxRatio {
				return n, &LimitError{What: "decompression ratio", Limit: e.b.MaxRatio}
			}
		}
	}
	return n, err
}

// Counter counts bytes read through it.
type Counter struct {
	R io.Reader
	N atomic.Int64
}

func (c *Counter) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N.Add(int64(n))
	return n, err
}
