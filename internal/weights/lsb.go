package weights

import (
	"math"

	"github.com/aigis-dev/aigis/analyzer"
)

// Low-bit forensics: measuring windows.
//
// A payload hidden in the least significant bits or bytes of weights
// (EvilModel, StegoNet: the k low bits, or the 1, 2 or 3 low bytes, of
// each weight replaced by payload) changes the statistics of those bits
// in the region it occupies. Every 64 KiB window of float32, float16 and
// bfloat16 weights is summarised, in the one pass that also sums the
// values, by the histogram of the low byte of its elements (float32: over
// the elements whose low 12 bits are not all zero; zeros, round numbers
// and half-precision-origin values say nothing there), its share of text
// and of zero bytes, the largest bias of one of the 8 low bits, the
// histograms of bytes re-assembled from the 1, 2 and 4 lowest bits of
// consecutive elements, and for float32 the histogram of byte 2 (the
// exponent's lowest bit and the top mantissa bits, which only a 3-byte
// payload overwrites). The same pass looks up the keys of the
// byte-granular streams (stream.go). judge.go compares each window with
// its tensor.

// win summarises one window; 52 bytes, so that a 100 GB model's windows
// fit in about 80 MB.
type win struct {
	index  int32   // window number inside the tensor
	n      int32   // elements (0: window not measured, e.g. a short tail)
	nz     int32   // non-zero finite elements
	usable int32   // non-zero elements whose low bits say something (below)
	zero   int32   // zero elements
	text   int32   // usable elements whose low byte is text (printable ASCII, tab, CR, LF)
	nul    int32   // usable elements whose low byte is 0
	chi    float32 // chi-square of the low-byte histogram vs uniform, / 255
	bitZ   float32 // largest |z| of the frequency of one of the low 8 bits
	// chiK is the same chi-square for bytes assembled from the k lowest
	// bits of consecutive elements (k = 1, 2, 4): a payload spread one
	// bit per weight is only visible once its bits are put back together.
	chiK [3]float32
	// chiHi (float32) is the chi-square of byte 2: the exponent's lowest
	// bit and the 7 top mantissa bits, far from uniform in any weights,
	// uniform where a random payload replaced the low 3 bytes.
	chiHi float32
}

// minWindow is the smallest tail window that is still judged, as a share
// of a full window.
const minWindowDiv = 4

// perWindow is the number of elements in one window of dtype d.
func perWindow(d analyzer.DType) int { return windowBytes / d.Size() }

// measureF32 measures the float32 elements of full[:n]; full runs on past
// the chunk (the next elements, for the low-byte stream and for the
// signature checks of payloads that start near the end of the chunk).
// base is the chunk's byte offset in the tensor.
func measureF32(s *Stats, wins []win, r *chunkReader, n int, base int64, sc *scratch) {
	nf := n / 4
	p := prober{s: s, es: 4, base: base / 4, buf: sc.probe, checks: maxChecks}
	acc := &sc.acc
	for w0 := 0; w0 < nf; w0 += window {
		w1 := min(w0+window, nf)
		// The window and what a signature check may read after it.
		full := r.upto(4*w1 + overlap)
		if r.err != nil {
			return
		}
		p.full = full
		words := asWords(full[:len(full)&^3])
		acc.reset()
		acc.runF32(words[w0:], w1-w0)
		s.N += int64(w1 - w0)
		s.NaN += int64(acc.nan)
		s.Inf += int64(acc.inf)
		s.Zero += int64(acc.zero)
		s.Sum += acc.sum
		s.SumSq += acc.sumsq
		// Windows track the largest magnitude only (cheaper than min and
		// max); it bounds both.
		mx := acc.maxValue(analyzer.F32)
		s.Min = math.Min(s.Min, -mx)
		s.Max = math.Max(s.Max, mx)
		s.absOnly = true
		if k := w0 / window; w1-w0 >= window/minWindowDiv && k < len(wins) {
			wins[k] = acc.summary(w1-w0, true)
		}
		for _, g := range acc.cands[:acc.nc] {
			p.probeF32(w0+int(g), min(w0+int(g)+8, w1))
		}
		if acc.wild() {
			// Only bytes that are not plausible weights can be a file.
			lo, hi := max(0, 4*w0-overlap), min(len(full), 4*w1+overlap)
			p.scanRaw(full[:hi], lo, min(hi, n), base)
		}
	}
}

// measure16 is measureF32 for float16 and bfloat16 elements.
func measure16(s *Stats, wins []win, d analyzer.DType, r *chunkReader, n int, base int64, sc *scratch) {
	nh := n / 2
	per := perWindow(d)
	p := prober{s: s, es: 2, base: base / 2, buf: sc.probe, checks: maxChecks}
	acc := &sc.acc
	for w0 := 0; w0 < nh; w0 += per {
		w1 := min(w0+per, nh)
		full := r.upto(2*w1 + overlap)
		if r.err != nil {
			return
		}
		p.full = full
		halves := asHalves(full[:len(full)&^1])
		acc.reset()
		acc.run16(halves[w0:], w1-w0, d == analyzer.BF16)
		s.N += int64(w1 - w0)
		s.NaN += int64(acc.nan)
		s.Inf += int64(acc.inf)
		s.Zero += int64(acc.zero)
		s.Sum += acc.sum
		s.SumSq += acc.sumsq
		mx := acc.maxValue(d)
		s.Min = math.Min(s.Min, -mx)
		s.Max = math.Max(s.Max, mx)
		s.absOnly = true
		if k := w0 / per; w1-w0 >= per/minWindowDiv && k < len(wins) {
			wins[k] = acc.summary(w1-w0, false)
		}
		for _, g := range acc.cands[:acc.nc] {
			p.probe16(w0+int(g), min(w0+int(g)+8, w1))
		}
	}
}

// winAcc accumulates one window.
type winAcc struct {
	hist  [256]uint32 // low byte of usable elements
	hHi   [256]uint32 // float32 byte 2 of usable elements
	hk    [3][256]uint32
	cands [windowBytes / 2 / 8]uint16 // groups of 8 elements with a key hit
	nc    int

	nan, inf, zero int
	sum, sumsq     float64
	maxAbs         uint32 // the largest magnitude, as bits
}

func (a *winAcc) reset() {
	*a = winAcc{}
}

// usable is the number of elements in the low-byte histogram.
func (a *winAcc) usable() int {
	n := uint32(0)
	for _, c := range a.hist {
		n += c
	}
	return int(n)
}

// wild is whether the window holds float32 values that are not plausible
// weights.
func (a *winAcc) wild() bool {
	return a.nan+a.inf > 0 || a.maxAbs >= wildAbs
}

// summary is the window record of n elements.
func (a *winAcc) summary(n int, f32 bool) win {
	usable := a.usable()
	w := win{n: int32(n), nz: int32(n - a.nan - a.inf - a.zero), usable: int32(usable), zero: int32(a.zero), nul: int32(a.hist[0])}
	for c := range 256 {
		if isText(byte(c)) {
			w.text += int32(a.hist[c])
		}
	}
	w.chi, w.bitZ = histStats(&a.hist, true)
	for k := range a.hk {
		w.chiK[k], _ = histStats(&a.hk[k], false)
	}
	if f32 {
		w.chiHi, _ = histStats(&a.hHi, false)
	}
	return w
}

// runF32 accumulates the first n elements of ext, a window followed by
// the elements after it that the chunk holds (the low-byte key of an
// element needs the next one). It is the hot path of --weights: groups of
// 8 elements, unrolled, with every accumulator in a register; a group
// holding a zero, NaN or Inf takes the careful path (slowF32).
func (a *winAcc) runF32(ext []uint32, n int) {
	var s0, s1, q0, q1 float32
	var hi uint32 // largest |x| - 1, as bits
	var keys, fwd uint8
	hist, hHi := &a.hist, &a.hHi
	h1, h2, h4 := &a.hk[0], &a.hk[1], &a.hk[2]
	tab := &pairTab
	nc := 0
	g := 0
	for lim := min(n, len(ext)-1) - 8; g <= lim; g += 8 {
		w := (*[9]uint32)(ext[g : g+9])
		u0, u1, u2, u3, u4, u5, u6, u7 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]
		const m = 0x7fffffff
		// |x| - 1 wraps for zero: one maximum finds zeros, NaN and Inf.
		top := max(u0&m-1, u1&m-1, u2&m-1, u3&m-1, u4&m-1, u5&m-1, u6&m-1, u7&m-1)
		if top >= 0x7f800000-1 {
			a.slowF32(w[:8], &s0, &q0)
			a.bits(uint64(byte(u0)) | uint64(byte(u1))<<8 | uint64(byte(u2))<<16 | uint64(byte(u3))<<24 |
				uint64(byte(u4))<<32 | uint64(byte(u5))<<40 | uint64(byte(u6))<<48 | uint64(byte(u7))<<56)
			keys = 1 // look at the group again, carefully
		} else {
			hi = max(hi, top)
			f0, f1, f2, f3 := math.Float32frombits(u0), math.Float32frombits(u1), math.Float32frombits(u2), math.Float32frombits(u3)
			f4, f5, f6, f7 := math.Float32frombits(u4), math.Float32frombits(u5), math.Float32frombits(u6), math.Float32frombits(u7)
			s0 += (f0 + f1) + (f2 + f3)
			s1 += (f4 + f5) + (f6 + f7)
			q0 += (f0*f0 + f1*f1) + (f2*f2 + f3*f3)
			q1 += (f4*f4 + f5*f5) + (f6*f6 + f7*f7)
			// The low bytes of the 8 elements, and of the next one.
			x := uint64(byte(u0)) | uint64(byte(u1))<<8 | uint64(byte(u2))<<16 | uint64(byte(u3))<<24 |
				uint64(byte(u4))<<32 | uint64(byte(u5))<<40 | uint64(byte(u6))<<48 | uint64(byte(u7))<<56
			// Bytes re-assembled from the 1, 2 and 4 lowest bits (bits,
			// inlined).
			h1[byte((x&0x0101010101010101)*0x0102040810204080>>56)]++
			t := x & 0x0303030303030303
			t = (t | t>>6) & 0x000f000f000f000f
			t = (t | t>>12) & 0x000000ff000000ff
			h2[byte(t)]++
			h2[byte(t>>32)]++
			y := x & 0x0f0f0f0f0f0f0f0f
			y = (y | y>>4) & 0x00ff00ff00ff00ff
			h4[byte(y)]++
			h4[byte(y>>16)]++
			h4[byte(y>>32)]++
			h4[byte(y>>48)]++
			x9 := uint16(byte(u7)) | uint16(byte(w[8]))<<8
			if u0&0xfff != 0 {
				hist[byte(u0)]++
				hHi[byte(u0>>16)]++
			}
			keys |= tab[uint16(u0)] | tab[uint16(u0>>8)]
			fwd |= tab[uint16(x>>0)]
			if u1&0xfff != 0 {
				hist[byte(u1)]++
				hHi[byte(u1>>16)]++
			}
			keys |= tab[uint16(u1)] | tab[uint16(u1>>8)]
			fwd |= tab[uint16(x>>8)]
			if u2&0xfff != 0 {
				hist[byte(u2)]++
				hHi[byte(u2>>16)]++
			}
			keys |= tab[uint16(u2)] | tab[uint16(u2>>8)]
			fwd |= tab[uint16(x>>16)]
			if u3&0xfff != 0 {
				hist[byte(u3)]++
				hHi[byte(u3>>16)]++
			}
			keys |= tab[uint16(u3)] | tab[uint16(u3>>8)]
			fwd |= tab[uint16(x>>24)]
			if u4&0xfff != 0 {
				hist[byte(u4)]++
				hHi[byte(u4>>16)]++
			}
			keys |= tab[uint16(u4)] | tab[uint16(u4>>8)]
			fwd |= tab[uint16(x>>32)]
			if u5&0xfff != 0 {
				hist[byte(u5)]++
				hHi[byte(u5>>16)]++
			}
			keys |= tab[uint16(u5)] | tab[uint16(u5>>8)]
			fwd |= tab[uint16(x>>40)]
			if u6&0xfff != 0 {
				hist[byte(u6)]++
				hHi[byte(u6>>16)]++
			}
			keys |= tab[uint16(u6)] | tab[uint16(u6>>8)]
			fwd |= tab[uint16(x>>48)]
			if u7&0xfff != 0 {
				hist[byte(u7)]++
				hHi[byte(u7>>16)]++
			}
			keys |= tab[uint16(u7)] | tab[uint16(u7>>8)]
			fwd |= tab[x9]
		}
		if keys|fwd&1 != 0 {
			a.cands[nc&(len(a.cands)-1)] = uint16(g)
			nc++
			keys, fwd = 0, 0
		}
	}
	// The tail (the last elements of the tensor, or of a window that is
	// not a multiple of 8): measured, but not part of the bit histograms.
	if g < n {
		a.slowF32(ext[g:n], &s0, &q0)
		a.cands[nc&(len(a.cands)-1)] = uint16(g)
		nc++
	}
	a.nc = min(nc, len(a.cands))
	a.sum, a.sumsq = float64(s0+s1), float64(q0+q1)
	if hi != 0 {
		a.maxAbs = max(a.maxAbs, hi+1)
	}
}

// bits counts the bytes re-assembled from the 1, 2 and 4 lowest bits of
// 8 consecutive elements, given their low bytes (x, element 0 lowest). The
// bit order inside the bytes differs from the payload's, which does not
// change a chi-square.
func (a *winAcc) bits(x uint64) {
	// 1 bit: gather bit 0 of each byte into one byte.
	a.hk[0][byte((x&0x0101010101010101)*0x0102040810204080>>56)]++
	// 2 bits: pairs of bytes, then pairs of pairs.
	t := x & 0x0303030303030303
	t = (t | t>>6) & 0x000f000f000f000f
	t = (t | t>>12) & 0x000000ff000000ff
	a.hk[1][byte(t)]++
	a.hk[1][byte(t>>32)]++
	// 4 bits: pairs of bytes.
	y := x & 0x0f0f0f0f0f0f0f0f
	y = (y | y>>4) & 0x00ff00ff00ff00ff
	a.hk[2][byte(y)]++
	a.hk[2][byte(y>>16)]++
	a.hk[2][byte(y>>32)]++
	a.hk[2][byte(y>>48)]++
}

// slowF32 accumulates elements one by one: zeros, NaN and Inf counted.
func (a *winAcc) slowF32(ws []uint32, s, q *float32) {
	for _, u := range ws {
		abs := u & 0x7fffffff
		switch {
		case abs == 0:
			a.zero++
			continue
		case abs > 0x7f800000:
			a.nan++
			continue
		case abs == 0x7f800000:
			a.inf++
			continue
		}
		a.maxAbs = max(a.maxAbs, abs)
		if u&0xfff != 0 {
			a.hist[byte(u)]++
			a.hHi[byte(u>>16)]++
		}
		f := math.Float32frombits(u)
		*s += f
		*q += f * f
	}
}

// run16 is runF32 for float16 (bf false) and bfloat16 elements: the low
// byte of every non-zero finite element is usable, and the keys are the
// low-byte stream and the raw bytes at even and odd offsets.
func (a *winAcc) run16(ext []uint16, n int, bf bool) {
	var s0, s1, q0, q1 float32
	var hi uint32
	var keys, fwd uint8
	hist := &a.hist
	h1, h2, h4 := &a.hk[0], &a.hk[1], &a.hk[2]
	tab := &pairTab
	f16 := (*[1 << 16]float32)(f16())
	inf := uint32(0x7c00)
	if bf {
		inf = 0x7f80
	}
	nc := 0
	g := 0
	for lim := min(n, len(ext)-1) - 8; g <= lim; g += 8 {
		w := (*[9]uint16)(ext[g : g+9])
		u0, u1, u2, u3, u4, u5, u6, u7, u8 := uint32(w[0]), uint32(w[1]), uint32(w[2]), uint32(w[3]), uint32(w[4]), uint32(w[5]), uint32(w[6]), uint32(w[7]), uint32(w[8])
		const m = 0x7fff
		top := max(u0&m-1, u1&m-1, u2&m-1, u3&m-1, u4&m-1, u5&m-1, u6&m-1, u7&m-1)
		if top >= inf-1 {
			a.slow16(w[:8], bf, &s0, &q0)
			a.bits(uint64(byte(u0)) | uint64(byte(u1))<<8 | uint64(byte(u2))<<16 | uint64(byte(u3))<<24 |
				uint64(byte(u4))<<32 | uint64(byte(u5))<<40 | uint64(byte(u6))<<48 | uint64(byte(u7))<<56)
			keys = 1
		} else {
			hi = max(hi, top)
			var f0, f1, f2, f3, f4, f5, f6, f7 float32
			if bf {
				f0, f1, f2, f3 = math.Float32frombits(u0<<16), math.Float32frombits(u1<<16), math.Float32frombits(u2<<16), math.Float32frombits(u3<<16)
				f4, f5, f6, f7 = math.Float32frombits(u4<<16), math.Float32frombits(u5<<16), math.Float32frombits(u6<<16), math.Float32frombits(u7<<16)
			} else {
				f0, f1, f2, f3 = f16[u0], f16[u1], f16[u2], f16[u3]
				f4, f5, f6, f7 = f16[u4], f16[u5], f16[u6], f16[u7]
			}
			s0 += (f0 + f1) + (f2 + f3)
			s1 += (f4 + f5) + (f6 + f7)
			q0 += (f0*f0 + f1*f1) + (f2*f2 + f3*f3)
			q1 += (f4*f4 + f5*f5) + (f6*f6 + f7*f7)
			x := uint64(byte(u0)) | uint64(byte(u1))<<8 | uint64(byte(u2))<<16 | uint64(byte(u3))<<24 |
				uint64(byte(u4))<<32 | uint64(byte(u5))<<40 | uint64(byte(u6))<<48 | uint64(byte(u7))<<56
			h1[byte((x&0x0101010101010101)*0x0102040810204080>>56)]++
			t := x & 0x0303030303030303
			t = (t | t>>6) & 0x000f000f000f000f
			t = (t | t>>12) & 0x000000ff000000ff
			h2[byte(t)]++
			h2[byte(t>>32)]++
			y := x & 0x0f0f0f0f0f0f0f0f
			y = (y | y>>4) & 0x00ff00ff00ff00ff
			h4[byte(y)]++
			h4[byte(y>>16)]++
			h4[byte(y>>32)]++
			h4[byte(y>>48)]++
			x9 := uint16(byte(u7)) | uint16(byte(u8))<<8
			hist[byte(u0)]++
			fwd |= tab[uint16(u0)] | tab[uint16(u0>>8|u1<<8)] | tab[uint16(x>>0)]
			hist[byte(u1)]++
			fwd |= tab[uint16(u1)] | tab[uint16(u1>>8|u2<<8)] | tab[uint16(x>>8)]
			hist[byte(u2)]++
			fwd |= tab[uint16(u2)] | tab[uint16(u2>>8|u3<<8)] | tab[uint16(x>>16)]
			hist[byte(u3)]++
			fwd |= tab[uint16(u3)] | tab[uint16(u3>>8|u4<<8)] | tab[uint16(x>>24)]
			hist[byte(u4)]++
			fwd |= tab[uint16(u4)] | tab[uint16(u4>>8|u5<<8)] | tab[uint16(x>>32)]
			hist[byte(u5)]++
			fwd |= tab[uint16(u5)] | tab[uint16(u5>>8|u6<<8)] | tab[uint16(x>>40)]
			hist[byte(u6)]++
			fwd |= tab[uint16(u6)] | tab[uint16(u6>>8|u7<<8)] | tab[uint16(x>>48)]
			hist[byte(u7)]++
			fwd |= tab[uint16(u7)] | tab[uint16(u7>>8|u8<<8)] | tab[x9]
		}
		if keys|fwd&1 != 0 {
			a.cands[nc&(len(a.cands)-1)] = uint16(g)
			nc++
			keys, fwd = 0, 0
		}
	}
	if g < n {
		a.slow16(ext[g:n], bf, &s0, &q0)
		a.cands[nc&(len(a.cands)-1)] = uint16(g)
		nc++
	}
	a.nc = min(nc, len(a.cands))
	a.sum, a.sumsq = float64(s0+s1), float64(q0+q1)
	if hi != 0 {
		a.maxAbs = max(a.maxAbs, hi+1)
	}
}

// slow16 is slowF32 for 16-bit elements.
func (a *winAcc) slow16(ws []uint16, bf bool, s, q *float32) {
	inf := uint32(0x7c00)
	if bf {
		inf = 0x7f80
	}
	for _, h := range ws {
		u := uint32(h)
		abs := u & 0x7fff
		switch {
		case abs == 0:
			a.zero++
			continue
		case abs > inf:
			a.nan++
			continue
		case abs == inf:
			a.inf++
			continue
		}
		a.maxAbs = max(a.maxAbs, abs)
		a.hist[byte(u)]++
		f := math.Float32frombits(u << 16)
		if !bf {
			f = f16()[u]
		}
		*s += f
		*q += f * f
	}
}

// maxValue is the largest magnitude as a number.
func (a *winAcc) maxValue(d analyzer.DType) float64 {
	switch d {
	case analyzer.BF16:
		return float64(math.Float32frombits(a.maxAbs << 16))
	case analyzer.F16:
		return float64(f16()[a.maxAbs&0xffff])
	}
	return float64(math.Float32frombits(a.maxAbs))
}

// wildAbs is 2^31 as float32 bits: no weight is that large, and a random
// 32-bit word read as a float32 is larger (or NaN) nearly four times in
// ten, so any file stored raw among float32 weights shows such values.
const wildAbs = (127 + 31) << 23

// histStats is the chi-square of h against uniform (divided by its 255
// degrees of freedom, so about 1 for random bytes) and, when bits is set,
// the largest z-score of any one bit's frequency; n is the histogram's
// total.
func histStats(h *[256]uint32, bits bool) (chi float32, bitZ float32) {
	var n, sq0, sq1 uint64
	for v := 0; v < 256; v += 2 {
		c0, c1 := uint64(h[v]), uint64(h[v+1])
		n += c0 + c1
		sq0 += c0 * c0
		sq1 += c1 * c1
	}
	if n < 256 {
		return 0, 0
	}
	e := float64(n) / 256
	chi = float32((float64(sq0+sq1)/e - float64(n)) / 255)
	if !bits {
		return chi, 0
	}
	// ones[k]: the bins with bit k set, in runs of 2^k.
	var ones [8]uint32
	for k := range ones {
		w := 1 << k
		for b := w; b < 256; b += 2 * w {
			for _, c := range h[b : b+w] {
				ones[k] += c
			}
		}
	}
	bz := 0.0
	sd := math.Sqrt(float64(n)) / 2
	for _, o := range ones {
		bz = math.Max(bz, math.Abs(float64(o)-float64(n)/2)/sd)
	}
	return chi, float32(bz)
}
