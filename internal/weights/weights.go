// Package weights is weight forensics: it streams the tensor data of a
// model (located by the format analysers) and looks for what a backdoored
// or payload-carrying model shows: NaN and Inf values, extreme outliers,
// executable or archive magic inside tensor bytes, and data hidden in the
// low mantissa bits or bytes of float32, float16 and bfloat16 weights
// (EvilModel and its variants), found by the file it spells once the low
// bytes of consecutive elements are put back together or by what it does
// to the statistics of those bytes. Compare diffs two models tensor by
// tensor.
//
// It reads tensor bytes as numbers only; it never interprets them as code
// and never loads a framework. Work is chunked, bounded in memory
// (a few MiB per worker) and checks the context between chunks.
package weights

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
)

// chunkSize is the unit of work; a multiple of the LSB window.
const chunkSize = 4 << 20

// windowBytes is the span of one LSB window; window is the number of
// float32 elements in one (16-bit tensors have twice as many).
const (
	windowBytes = 64 << 10
	window      = windowBytes / 4
)

// Stats is what Scan learns about one tensor.
type Stats struct {
	Tensor         analyzer.Tensor
	N              int64 // elements decoded
	NaN, Inf, Zero int64
	Min, Max       float64
	Sum, SumSq     float64
	windows        []win
	hits           []hit
	lsbRuns        []run
	absOnly        bool // Min/Max are -max|x| and max|x|
	// unchecked is the tensor offset of the first chunk whose signature
	// checks ran out (-1: none did).
	unchecked int64
}

// Mean and Std over finite elements.
func (s *Stats) Mean() float64 {
	n := float64(s.N - s.NaN - s.Inf)
	if n == 0 {
		return 0
	}
	return s.Sum / n
}

func (s *Stats) Std() float64 {
	n := float64(s.N - s.NaN - s.Inf)
	if n < 2 {
		return 0
	}
	m := s.Sum / n
	v := s.SumSq/n - m*m
	if v < 0 {
		v = 0
	}
	return math.Sqrt(v)
}

// MaxZ is how many standard deviations the most extreme element lies from
// the mean.
func (s *Stats) MaxZ() float64 {
	sd := s.Std()
	if sd == 0 || s.N-s.NaN-s.Inf == 0 {
		return 0
	}
	m := s.Mean()
	if s.absOnly {
		return (s.Max + math.Abs(m)) / sd
	}
	return math.Max(math.Abs(s.Max-m), math.Abs(s.Min-m)) / sd
}

type task struct {
	t     int   // tensor index
	off   int64 // offset inside the tensor
	n     int64
	first int // index of the first window in the tensor
}

type part struct {
	task
	s   Stats
	err error
}

// Scan reads every tensor and reports findings and properties to out. It
// parallelises over the cores the run's CPU budget has idle (see
// Measure).
func Scan(ctx context.Context, cpu *analyzer.CPU, ra io.ReaderAt, ts []analyzer.Tensor, out *analyzer.Result) error {
	stats, err := Measure(ctx, cpu, ra, ts)
	if err != nil {
		return err
	}
	Report(stats, out)
	return nil
}

// Measure computes Stats for every tensor, in parallel over chunks: on
// the caller's goroutine and one more per token of cpu that is idle (a
// scan worker holds a token already; a nil cpu grants every core).
func Measure(ctx context.Context, cpu *analyzer.CPU, ra io.ReaderAt, ts []analyzer.Tensor) ([]*Stats, error) {
	stats := make([]*Stats, len(ts))
	var tasks []task
	for i, t := range ts {
		stats[i] = &Stats{Tensor: t, Min: math.Inf(1), Max: math.Inf(-1), unchecked: -1}
		if windowed(t.DType) {
			// Windows are written in place by the chunks that measure them.
			stats[i].windows = make([]win, (t.Size+windowBytes-1)/windowBytes)
		}
		for off := int64(0); off < t.Size; off += chunkSize {
			n := min(int64(chunkSize), t.Size-off)
			tasks = append(tasks, task{t: i, off: off, n: n, first: int(off / windowBytes)})
		}
	}
	parts := make([]*part, len(tasks))
	err := parallel(ctx, cpu, len(tasks), newScratch, func(k int, sc *scratch) error {
		tk := tasks[k]
		t := ts[tk.t]
		// Read a few bytes past the chunk (within the tensor) so magic
		// that straddles two chunks is still seen.
		n := min(tk.n+overlap, t.Size-tk.off)
		r := &chunkReader{ra: t.Source(ra), off: t.Offset + tk.off, buf: sc.buf[:n]}
		p := &part{task: tk, s: Stats{Min: math.Inf(1), Max: math.Inf(-1), unchecked: -1}}
		var wins []win
		if ws := stats[tk.t].windows; tk.first < len(ws) {
			wins = ws[tk.first:]
		}
		measureChunk(&p.s, wins, t.DType, r, tk.n, tk.off, sc)
		if r.err != nil {
			return fmt.Errorf("reading tensor %s: %w", t.Name, r.err)
		}
		parts[k] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		s := stats[p.t]
		s.merge(&p.s)
	}
	return stats, nil
}

// parallel runs work(k) for every k in [0, n) on as many goroutines as
// cpu grants (one per core at most, and no more than there is work),
// each with its own state, stopping early when ctx is done. It returns
// the context's error or the first error of work.
func parallel[S any](ctx context.Context, cpu *analyzer.CPU, n int, state func() S, work func(k int, st S) error) error {
	workers, release := cpu.Helpers(min(runtime.GOMAXPROCS(0), max(1, n)))
	defer release()
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := state()
			for k := range next {
				if err := work(k, st); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for k := 0; k < n && ctx.Err() == nil; k++ {
		next <- k
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return first
}

// overlap is how far a chunk's magic search looks into the next chunk:
// a signature check reads up to maxProbe bytes of a stream, which span
// up to 4*maxProbe bytes of float32 elements in the low-byte stream.
const overlap = 4 * maxProbe

// scratch is one worker's memory.
type scratch struct {
	buf   []byte // a chunk and its overlap
	probe []byte // a stream being checked against a signature
	acc   winAcc
}

func newScratch() *scratch {
	return &scratch{buf: make([]byte, chunkSize+overlap), probe: make([]byte, maxProbe)}
}

// windowed is whether tensors of dtype d are summarised in LSB windows.
func windowed(d analyzer.DType) bool {
	return d == analyzer.F32 || d == analyzer.F16 || d == analyzer.BF16
}

func (s *Stats) merge(o *Stats) {
	s.N += o.N
	s.NaN += o.NaN
	s.Inf += o.Inf
	s.Zero += o.Zero
	s.Sum += o.Sum
	s.SumSq += o.SumSq
	s.Min = math.Min(s.Min, o.Min)
	s.Max = math.Max(s.Max, o.Max)
	s.absOnly = s.absOnly || o.absOnly
	s.hits = append(s.hits, o.hits...)
	if o.unchecked >= 0 && (s.unchecked < 0 || o.unchecked < s.unchecked) {
		s.unchecked = o.unchecked
	}
}

// measureChunk decodes one chunk of n bytes at offset base of its tensor,
// read through r (which holds the overlap after it too).
func measureChunk(s *Stats, wins []win, d analyzer.DType, r *chunkReader, n, base int64, sc *scratch) {
	switch d {
	case analyzer.F32:
		measureF32(s, wins, r, int(n), base, sc)
		return
	case analyzer.F16, analyzer.BF16:
		measure16(s, wins, d, r, int(n), base, sc)
		return
	}
	full := r.upto(len(r.buf))
	if r.err != nil {
		return
	}
	if d == analyzer.F64 {
		b := full[:n]
		for i := 0; i+8 <= len(b); i += 8 {
			s.add(math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
		}
	}
	p := prober{s: s, buf: sc.probe, checks: maxChecks}
	p.scanRaw(full, 0, int(n), base)
}

// chunkReader reads a chunk in pieces just ahead of the windows being
// measured, so that a window is still in the core's own cache when the
// loop reads it (one 4 MiB read would leave it in the shared cache at
// best). Each byte is read once.
type chunkReader struct {
	ra   io.ReaderAt
	off  int64  // file offset of buf[0]
	buf  []byte // the chunk and the overlap after it
	read int    // bytes of buf read so far
	err  error
}

// piece is the read size.
const piece = 256 << 10

// upto reads at least buf[:i] (all of buf when i is past it) and returns
// what has been read.
func (r *chunkReader) upto(i int) []byte {
	for r.err == nil && r.read < min(i, len(r.buf)) {
		m := min(len(r.buf), max(i, r.read+piece))
		_, r.err = r.ra.ReadAt(r.buf[r.read:m], r.off+int64(r.read))
		r.read = m
	}
	return r.buf[:r.read]
}

func (s *Stats) add(f float64) {
	s.N++
	switch {
	case math.IsNaN(f):
		s.NaN++
		return
	case math.IsInf(f, 0):
		s.Inf++
		return
	case f == 0:
		s.Zero++
	}
	s.Sum += f
	s.SumSq += f * f
	if f < s.Min {
		s.Min = f
	}
	if f > s.Max {
		s.Max = f
	}
}

// f16 maps every half-precision bit pattern to its value.
var f16 = sync.OnceValue(func() []float32 {
	t := make([]float32, 1<<16)
	for u := range t {
		sign := uint32(u>>15) << 31
		exp := (u >> 10) & 0x1f
		man := uint32(u & 0x3ff)
		var bits uint32
		switch {
		case exp == 0x1f:
			bits = sign | 0x7f800000 | man<<13
		case exp == 0 && man == 0:
			bits = sign
		case exp == 0:
			e := uint32(127 - 15 + 1)
			for man&0x400 == 0 {
				man <<= 1
				e--
			}
			bits = sign | e<<23 | (man&0x3ff)<<13
		default:
			bits = sign | uint32(exp+127-15)<<23 | man<<13
		}
		t[u] = math.Float32frombits(bits)
	}
	return t
})

// Report turns Stats into findings and properties.
func Report(stats []*Stats, out *analyzer.Result) {
	var bytes, elems, nan, inf int64
	worstZ, worstZName := 0.0, ""
	var nanNames []string
	analyseLSB(stats)
	for _, s := range stats {
		bytes += s.Tensor.Size
		elems += s.N
		nan += s.NaN
		inf += s.Inf
		if s.NaN+s.Inf > 0 && len(nanNames) < 5 {
			nanNames = append(nanNames, fmt.Sprintf("%s (%d NaN, %d Inf)", s.Tensor.Name, s.NaN, s.Inf))
		}
		if z := s.MaxZ(); z > worstZ {
			worstZ, worstZName = z, s.Tensor.Name
		}
		finite := s.N - s.NaN - s.Inf
		if finite > 0 && (s.MaxZ() > outlierZ && finite >= 1024 || math.Max(math.Abs(s.Max), math.Abs(s.Min)) > outlierAbs) {
			z := s.MaxZ()
			out.Add(rules.New(rules.WeightsExtremeOutlier, out.Here(), fmt.Sprintf("tensor %s: an element lies %.0f standard deviations from the mean (min %g, max %g, mean %g, std %g)", s.Tensor.Name, z, s.Min, s.Max, s.Mean(), s.Std())))
		}
		reportHits(s, out)
		reportLSB(s, out)
		if s.unchecked >= 0 {
			out.Add(rules.New(rules.LimitReached, out.At(s.Tensor.Offset+s.unchecked), fmt.Sprintf("tensor %s: from tensor offset %d, more than %d positions in a 4 MiB chunk start like a file signature (chance gives a few hundred); the rest of those chunks' low-byte streams was not checked for files", s.Tensor.Name, s.unchecked, maxChecks)))
		}
	}
	if nan+inf > 0 {
		out.Add(rules.New(rules.WeightsNanInf, out.Here(), fmt.Sprintf("%d NaN and %d Inf values in the weights: %s", nan, inf, strings.Join(nanNames, ", "))))
	}
	out.SetProperty("weights.tensors", fmt.Sprint(len(stats)))
	out.SetProperty("weights.bytes", fmt.Sprint(bytes))
	out.SetProperty("weights.elements", fmt.Sprint(elems))
	out.SetProperty("weights.nan", fmt.Sprint(nan))
	out.SetProperty("weights.inf", fmt.Sprint(inf))
	if worstZName != "" {
		out.SetProperty("weights.max_z", fmt.Sprintf("%.1f (%s)", worstZ, worstZName))
	}
}

// Outlier thresholds: far beyond anything seen in trained weights (the
// "super weights" of large language models are a few hundred standard
// deviations out), so only deliberate edits cross them.
const (
	outlierZ   = 5000
	outlierAbs = 1e20
)
