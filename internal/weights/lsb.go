package weights

import (
	"fmt"
	"math"
	"sort"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
)

// Low-bit forensics for float32 tensors.
//
// A payload hidden in the least significant mantissa bits (EvilModel,
// StegoNet style: k low bits of each weight replaced by payload bits)
// changes the statistics of the low byte of each float in the region it
// occupies. Every 64 KiB window of float32 weights is summarised by the
// histogram of its low byte, over the elements whose low 12 bits are not
// all zero (zeros, round numbers and half-precision-origin values carry
// no information there). Then, against the tensor's own median window:
//
//   - weights whose low bits are naturally full-entropy (fp32-trained):
//     a window whose low byte departs from uniform (chi-square far above
//     its degrees of freedom, or a biased bit) holds structured data:
//     text, code, an executable;
//   - weights whose low bits are naturally empty (fp16/bf16 origin,
//     quantised): a window where most non-zero elements suddenly use their
//     low bits holds added data, however random.
//
// A payload that is itself random (encrypted, compressed) and hidden in
// weights whose low bits are already random is statistically invisible;
// the magic search over the low-byte stream still finds a container
// header at its start.

// win summarises one window; 40 bytes, so that a 100 GB model's windows
// fit in about 60 MB.
type win struct {
	index  int32   // window number inside the tensor
	n      int32   // elements (0: window not measured, e.g. a short tail)
	nz     int32   // non-zero finite elements
	usable int32   // non-zero elements whose low 12 bits are not all zero
	zero   int32   // zero elements
	chi    float32 // chi-square of the low-byte histogram vs uniform, / 255
	bitZ   float32 // largest |z| of the frequency of one of the low 8 bits
	// chiK is the same chi-square for bytes assembled from the k lowest
	// bits of consecutive elements (k = 1, 2, 4): a payload spread one
	// bit per weight is only visible once its bits are put back together.
	chiK [3]float32
}

type run struct {
	first, last int // window numbers
	kind        string
}

// minWindow is the smallest tail window that is still judged.
const minWindow = window / 4

// measureF32 measures b, the first bytes of full; base is b's offset in
// the tensor (for magic locations).
func measureF32(s *Stats, wins []win, b, full []byte, base int64, low []byte) []byte {
	if cap(low) < window {
		low = make([]byte, window)
	}
	words := asWords(b)
	nf := len(words)
	var acc winAcc
	for w0 := 0; w0 < nf; w0 += window {
		w1 := min(w0+window, nf)
		acc = winAcc{}
		lb := low[:w1-w0]
		acc.run(words[w0:w1], lb)
		s.N += int64(w1 - w0)
		s.NaN += int64(acc.nan)
		s.Inf += int64(acc.inf)
		s.Zero += int64(acc.zero)
		s.Sum += acc.sum
		s.SumSq += acc.sumsq
		// Float32 windows track the largest magnitude only (cheaper than
		// min and max); it bounds both.
		s.Min = math.Min(s.Min, -acc.maxAbs)
		s.Max = math.Max(s.Max, acc.maxAbs)
		s.absOnly = true
		if n := w1 - w0; n >= minWindow && w0/window < len(wins) {
			wn := win{n: int32(n), nz: int32(acc.nz), usable: int32(acc.usable), zero: int32(acc.zero)}
			wn.chi, wn.bitZ = histStats(&acc.hist, int64(acc.usable))
			for k, per := range [3]int{8, 4, 2} {
				wn.chiK[k], _ = histStats(&acc.hk[k], int64(n/per))
			}
			wins[w0/window] = wn
		}
		findMagic(s, lb, int64(len(lb)), int64(w0), true)
		if acc.wild+acc.nan+acc.inf > 0 {
			// Only bytes that are not plausible weights can be a file.
			lo, hi := max(0, 4*w0-overlap), min(len(full), 4*w1+overlap)
			findMagic(s, full[lo:hi], int64(hi-lo), base+int64(lo), false)
		}
	}
	return low
}

// winAcc accumulates one window.
type winAcc struct {
	hist                             [256]uint32
	hk                               [3][256]uint32
	nan, inf, zero, nz, usable, wild int
	sum, sumsq                       float64
	maxAbs                           float64
}

func (a *winAcc) run(ws []uint32, lb []byte) {
	// Locals, not fields, and float32 accumulators within a window: this
	// loop is the hot path of --weights.
	var nan, inf, zero, usable, wild int
	var sum, sumsq float32
	var maxAbs uint32
	hist := &a.hist
	h1, h2, h4 := &a.hk[0], &a.hk[1], &a.hk[2]
	elem := func(u uint32) {
		abs := u & 0x7fffffff
		if abs >= 0x7f800000 {
			if abs > 0x7f800000 {
				nan++
			} else {
				inf++
			}
			return
		}
		f := math.Float32frombits(u)
		sum += f
		sumsq += f * f
		if abs > maxAbs {
			maxAbs = abs
		}
		if abs == 0 {
			zero++
			return
		}
		if (abs>>23)-wildLo > wildSpan {
			wild++
		}
		if u&0xfff != 0 {
			usable++
			hist[u&0xff]++
		}
	}
	g := 0
	for ; g+8 <= len(ws); g += 8 {
		w := (*[8]uint32)(ws[g : g+8])
		l := (*[8]byte)(lb[g : g+8])
		// Bytes re-assembled from the 1, 2 and 4 lowest bits of
		// consecutive elements.
		h1[byte(w[0]&1<<7|w[1]&1<<6|w[2]&1<<5|w[3]&1<<4|w[4]&1<<3|w[5]&1<<2|w[6]&1<<1|w[7]&1)]++
		h2[byte(w[0]&3<<6|w[1]&3<<4|w[2]&3<<2|w[3]&3)]++
		h2[byte(w[4]&3<<6|w[5]&3<<4|w[6]&3<<2|w[7]&3)]++
		h4[byte(w[0]&15<<4|w[1]&15)]++
		h4[byte(w[2]&15<<4|w[3]&15)]++
		h4[byte(w[4]&15<<4|w[5]&15)]++
		h4[byte(w[6]&15<<4|w[7]&15)]++
		for k := 0; k < 8; k++ {
			u := w[k]
			l[k] = byte(u)
			elem(u)
		}
	}
	for ; g < len(ws); g++ {
		lb[g] = byte(ws[g])
		elem(ws[g])
	}
	a.nan, a.inf, a.zero, a.usable, a.wild = nan, inf, zero, usable, wild
	a.nz = len(ws) - nan - inf - zero
	a.sum, a.sumsq = float64(sum), float64(sumsq)
	a.maxAbs = float64(math.Float32frombits(maxAbs))
}

// Exponent fields of plausible weights: 2^-60 <= |x| < 2^31. Random bytes
// read as float32 fall outside this range two times in three.
const (
	wildLo   = 127 - 60
	wildSpan = 90
)

// histStats is the chi-square of h against uniform (divided by its 255
// degrees of freedom, so about 1 for random bytes) and the largest z-score
// of any one bit's frequency.
func histStats(h *[256]uint32, n int64) (float32, float32) {
	if n < 256 {
		return 0, 0
	}
	e := float64(n) / 256
	chi := 0.0
	var ones [8]uint32
	for v, c := range h {
		d := float64(c) - e
		chi += d * d / e
		for k := 0; k < 8; k++ {
			if v>>k&1 == 1 {
				ones[k] += c
			}
		}
	}
	bz := 0.0
	sd := math.Sqrt(float64(n)) / 2
	for _, o := range ones {
		bz = math.Max(bz, math.Abs(float64(o)-float64(n)/2)/sd)
	}
	return float32(chi / 255), float32(bz)
}

// Thresholds. Random low bytes give chi/255 = 1 +- 0.09 and bit |z| < 5
// over millions of windows; a structured payload gives tens to thousands.
const (
	chiPayload  = 3.0
	bitZPayload = 8.0
	minWindows  = 8   // a baseline needs this many windows
	fullUsable  = 0.5 // median usable share above which low bits are "full"
	emptyUsable = 0.1 // below which they are "empty"
)

func usableShare(w win) (float64, bool) {
	if w.nz < w.n/10 || w.nz == 0 {
		return 0, false // mostly zeros: says nothing
	}
	return float64(w.usable) / float64(w.nz), true
}

// analyseLSB finds payload-like runs of windows in every float32 tensor,
// against its own median window (or, for tensors too small for one, the
// median over all float32 windows of the model).
func analyseLSB(stats []*Stats) {
	// The model-wide baseline is taken from a sample of at most
	// maxSample windows, to bound memory on very large models.
	const maxSample = 1 << 17
	total := 0
	for _, s := range stats {
		s.windows = measured(s.windows)
		total += len(s.windows)
	}
	step := max(1, total/maxSample)
	var sample []win
	for _, s := range stats {
		for i := 0; i < len(s.windows); i += step {
			sample = append(sample, s.windows[i])
		}
	}
	global := baseline(sample)
	for _, s := range stats {
		if len(s.windows) == 0 {
			continue
		}
		b := global
		if len(s.windows) >= minWindows {
			b = baseline(s.windows)
		}
		if !b.ok {
			continue
		}
		s.lsbBaselineUsable = b.usable
		var cur *run
		for _, w := range s.windows {
			kind := b.judge(w)
			if kind == "" {
				cur = nil
				continue
			}
			if cur != nil && cur.last == int(w.index)-1 && cur.kind == kind {
				cur.last = int(w.index)
				continue
			}
			s.lsbRuns = append(s.lsbRuns, run{first: int(w.index), last: int(w.index), kind: kind})
			cur = &s.lsbRuns[len(s.lsbRuns)-1]
		}
	}
}

// measured keeps the windows that were measured, numbering them.
func measured(ws []win) []win {
	out := ws[:0]
	for i, w := range ws {
		if w.n > 0 {
			w.index = int32(i)
			out = append(out, w)
		}
	}
	return out
}

type base struct {
	ok     bool
	usable float64 // median usable share
	chi    float64 // median chi/255
	chiK   [3]float64
}

func baseline(ws []win) base {
	var us, chis []float64
	var ks [3][]float64
	for _, w := range ws {
		u, ok := usableShare(w)
		if !ok {
			continue
		}
		us = append(us, u)
		if w.usable >= 1024 {
			chis = append(chis, float64(w.chi))
		}
		for k := range ks {
			ks[k] = append(ks[k], float64(w.chiK[k]))
		}
	}
	if len(us) < minWindows {
		return base{}
	}
	b := base{ok: true, usable: median(us)}
	if len(chis) > 0 {
		b.chi = median(chis)
	}
	for k := range ks {
		b.chiK[k] = median(ks[k])
	}
	return b
}

func median(x []float64) float64 {
	sort.Float64s(x)
	return x[len(x)/2]
}

func (b base) judge(w win) string {
	u, ok := usableShare(w)
	if !ok {
		return ""
	}
	switch {
	case b.usable >= fullUsable && b.chi < 2 && u >= fullUsable && w.usable >= 1024:
		if float64(w.chi) > chiPayload || float64(w.bitZ) > bitZPayload {
			return "structured"
		}
		if w.zero < w.n/20 {
			for k := range w.chiK {
				if b.chiK[k] < 2 && float64(w.chiK[k]) > chiPayload {
					return "structured"
				}
			}
		}
	case b.usable <= emptyUsable && u >= fullUsable:
		return "added"
	}
	return ""
}

func reportLSB(s *Stats, out *analyzer.Result) {
	for _, r := range s.lsbRuns {
		n := r.last - r.first + 1
		msg := ""
		switch r.kind {
		case "structured":
			msg = fmt.Sprintf("tensor %s: the low mantissa bits of %d KiB of float32 weights (windows %d-%d) are not random like the rest of the tensor: structured data is hidden in them", s.Tensor.Name, n*window*4/1024, r.first, r.last)
		default:
			msg = fmt.Sprintf("tensor %s: %d KiB of float32 weights (windows %d-%d) use low mantissa bits that the rest of the tensor leaves empty (%.0f%% used elsewhere): data was added to them", s.Tensor.Name, n*window*4/1024, r.first, r.last, 100*s.lsbBaselineUsable)
		}
		out.Add(rules.New(rules.WeightsLsbPayload, out.At(s.Tensor.Offset+int64(r.first)*window*4), msg))
	}
}
