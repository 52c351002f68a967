package weights

import (
	"fmt"
	"math"
	"sort"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
)

// Judging windows against their tensor.
//
// Trained weights differ from tensor to tensor (a bfloat16 tensor's low
// byte is far from uniform, a float32 tensor's is uniform; some fp32
// tensors carry a faint structure of the arithmetic that made them), but
// the windows of one tensor are alike. So every feature of a window is
// compared with the same feature over the tensor's windows: their median,
// and a spread that is the larger of the windows' median absolute
// deviation and the sampling noise of a window of that size (binomial for
// shares). A window is reported when it departs by 8 spreads and by an
// absolute margin. Tensors with fewer than minWindows windows are judged
// against all tensors of their dtype in the model, with the spread
// between tensors added.
//
// What departs, and what it means:
//
//   - "added": low bits that the tensor leaves empty (fp16 or bf16
//     origin, quantised) are used: data was written into them, however
//     random;
//   - "structured": the low byte is text (printable ASCII), zero far more
//     often, not random (chi-square, a biased bit), or the low 12 bits are
//     all zero in many elements (runs of zero bytes): text, code, an
//     executable's tables and padding;
//   - "flat": bytes that are far from uniform in any weights are uniform:
//     float32 byte 2 (the exponent's lowest bit and 7 top mantissa bits,
//     which only a 3-byte payload overwrites) and the low byte of
//     bfloat16: random data, an encrypted or compressed payload, replaced
//     them.
//
// Adjacent windows are also judged as pairs (counts added), so that a
// small payload split by a window boundary is not halved twice.

// Features of a window.
const (
	fUsable = iota // share of non-zero elements whose low bits are informative
	fText          // share of text bytes among the usable low bytes
	fNul           // share of zero bytes among the usable low bytes
	fChi           // chi-square / 255 of the low byte
	fBitZ          // largest |z| of one of the low 8 bits
	fChi1          // the same for bytes of 1, 2 and 4 low bits
	fChi2
	fChi4
	fHi // float32 byte 2
	nFeat
)

// Thresholds.
const (
	zDepart    = 8.0  // spreads
	minWindows = 8    // windows a tensor needs for its own baseline
	minUsable  = 1024 // usable elements for a byte histogram to be judged
	// Absolute margins, beyond the spreads.
	marginText     = 0.02
	marginNul      = 0.01
	marginTextBF16 = 0.10
	marginNulBF16  = 0.03
	// Rounding after a tensor's slice was multiplied by a short constant
	// (2.5, 0.75) biases its lowest bits by up to 30 standard deviations
	// and lifts the low byte's chi-square/255 to about 4: the bit and
	// histogram tests need more. Text in the low bits gives 20 to 200.
	marginChi  = 10.0 // chi-square/255
	marginBitZ = 48.0
	growUp     = 4.0 // a structured feature must grow to this multiple
	minAdded   = 64  // elements using low bits the tensor leaves empty
	minRound   = 32  // elements with empty low bits where the tensor has none
	// flat: the chi-square of bytes that the tensor has structured
	// (median at least structuredChi) falls by flatDrop of its excess
	// over uniform and by zFlat spreads.
	structuredChi = 2.5
	flatDrop      = 0.5
	zFlat         = 6.0
	// Absolute flatness: an effect size under flatAbs over at least
	// minAbsFlat samples (uniform bytes give 0 +- 0.003 there).
	flatAbs    = 0.008
	minAbsFlat = 8192
)

type run struct {
	first, last int // window numbers
	kind        string
	why         string
}

// values are a window's features (NaN: not measured). Chi-squares are
// turned into effect sizes, (chi-square - dof) / samples, and the bit bias
// into bitZ / sqrt(samples), so that windows with fewer samples (a tail,
// zeros) compare with full ones.
func (w win) values(f32 bool) [nFeat]float64 {
	var v [nFeat]float64
	for i := range v {
		v[i] = math.NaN()
	}
	if w.nz < w.n/10 || w.nz == 0 {
		return v // mostly zeros: says nothing
	}
	v[fUsable] = float64(w.usable) / float64(w.nz)
	if w.usable >= minUsable {
		u := float64(w.usable)
		v[fText], v[fNul] = float64(w.text)/u, float64(w.nul)/u
		v[fChi], v[fBitZ] = effect(w.chi, u), float64(w.bitZ)/math.Sqrt(u)
		if f32 {
			v[fHi] = effect(w.chiHi, u)
		}
	}
	if w.zero < w.n/20 {
		for k := range w.chiK {
			v[fChi1+k] = effect(w.chiK[k], w.samples(fChi1+k))
		}
	}
	return v
}

// effect is the effect size of a chi-square/255 over n samples.
func effect(chi float32, n float64) float64 { return (float64(chi) - 1) * 255 / n }

// chiOf is the chi-square/255 that effect size e gives over n samples.
func chiOf(e, n float64) float64 { return 1 + e*n/255 }

// samples is the number of bytes behind feature f of w.
func (w win) samples(f int) float64 {
	switch f {
	case fChi1:
		return float64(w.n / 8)
	case fChi2:
		return float64(w.n / 4)
	case fChi4:
		return float64(w.n / 2)
	}
	return float64(w.usable)
}

type base struct {
	ok          bool // enough windows to judge by
	own         bool // the tensor's own (not the global one of its dtype)
	med, spread [nFeat]float64
	dt          analyzer.DType
	f32         bool
}

// baseline of a tensor's windows.
func baseline(ws []win, dt analyzer.DType) base {
	f32 := dt == analyzer.F32
	b := base{dt: dt, f32: f32}
	var xs [nFeat][]float64
	for _, w := range ws {
		for i, x := range w.values(f32) {
			if !math.IsNaN(x) {
				xs[i] = append(xs[i], x)
			}
		}
	}
	b.ok = len(xs[fUsable]) >= minWindows
	b.own = b.ok
	for i := range xs {
		b.med[i], b.spread[i] = medianSpread(xs[i])
	}
	return b
}

// globalBaseline judges small tensors: the median of all the tensors'
// medians, and a spread that is the larger of the variation between
// tensors and the typical spread inside the tensors large enough to have
// one.
func globalBaseline(bs []base, dt analyzer.DType) base {
	g := base{dt: dt, f32: dt == analyzer.F32}
	var meds, spreads [nFeat][]float64
	for _, b := range bs {
		for i := range b.med {
			if !math.IsNaN(b.med[i]) {
				meds[i] = append(meds[i], b.med[i])
				if b.ok {
					spreads[i] = append(spreads[i], b.spread[i])
				}
			}
		}
	}
	if len(meds[fUsable]) == 0 {
		return g
	}
	g.ok = true
	for i := range meds {
		var between float64
		g.med[i], between = medianSpread(meds[i])
		if len(meds[i]) < 2 {
			between = 0
		}
		if within, _ := medianSpread(spreads[i]); !math.IsNaN(within) {
			between = math.Max(between, within)
		}
		g.spread[i] = between
	}
	return g
}

// medianSpread is the median of x and 1.4826 times its median absolute
// deviation (the standard deviation, for normal data); NaN for no data.
func medianSpread(x []float64) (float64, float64) {
	if len(x) == 0 {
		return math.NaN(), math.NaN()
	}
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	m := s[len(s)/2]
	for i := range s {
		s[i] = math.Abs(s[i] - m)
	}
	sort.Float64s(s)
	return m, 1.4826 * s[len(s)/2]
}

// counts are the additive parts of one window or a pair.
type counts struct {
	n, nz, usable, text, nul, zero float64
}

func (w win) counts() counts {
	return counts{float64(w.n), float64(w.nz), float64(w.usable), float64(w.text), float64(w.nul), float64(w.zero)}
}

func (c counts) plus(o counts) counts {
	return counts{c.n + o.n, c.nz + o.nz, c.usable + o.usable, c.text + o.text, c.nul + o.nul, c.zero + o.zero}
}

// binSD is the standard deviation of a share p over n draws (p clamped
// away from 0 and 1).
func binSD(p, n float64) float64 {
	p = math.Min(math.Max(p, 1/n), 1-1/n)
	return math.Sqrt(p * (1 - p) / n)
}

// verdict is the strongest departure of a window (or pair) from its
// tensor: score is the departure over what the test requires, so a
// window is reported at 1 and above.
type verdict struct {
	kind, why string
	score     float64
	pair      bool // found in a window and the next together
}

// test records a departure dev against the required need.
func (v *verdict) test(dev, need float64, kind string, why func() string) {
	if need <= 0 || math.IsNaN(dev) || math.IsNaN(need) {
		return
	}
	if s := dev / need; s > v.score {
		v.score, v.kind, v.why = s, kind, why()
	}
}

func (v verdict) fires() bool { return v.score >= 1 }

// judgeCounts applies the share tests to c (a window or a pair).
func (b *base) judgeCounts(c counts) (v verdict) {
	if c.nz < c.n/10 || c.nz == 0 {
		return
	}
	u := c.usable / c.nz
	if m := b.med[fUsable]; !math.IsNaN(m) && b.f32 {
		sd := math.Max(binSD(m, c.nz), b.spread[fUsable])
		if m <= 0.5 {
			v.test(u-m, math.Max(minAdded/c.nz, zDepart*sd), "added", func() string {
				return fmt.Sprintf("%.1f%% of their elements use low mantissa bits that the tensor leaves empty (%.1f%% elsewhere)", 100*u, 100*m)
			})
		}
		if m >= 0.9 {
			v.test(m-u, math.Max(minRound/c.nz, zDepart*sd), "structured", func() string {
				return fmt.Sprintf("%.1f%% of their elements have all 12 low bits zero (%.2f%% elsewhere): runs of zero bytes, or weights of a lower precision", 100*(1-u), 100*(1-m))
			})
		}
	}
	if c.usable < minUsable || b.dt == analyzer.BF16 && !b.own {
		// A small bfloat16 tensor's low byte (the exponent's lowest bit and
		// the top mantissa bits) says too much about its values to be
		// compared with other tensors'.
		return
	}
	mText, mNul := marginText, marginNul
	if b.dt == analyzer.BF16 {
		// And between the parts of one tensor (fused projections) it
		// moves by several points.
		mText, mNul = marginTextBF16, marginNulBF16
	}
	if m := b.med[fText]; !math.IsNaN(m) {
		t := c.text / c.usable
		v.test(t-m, math.Max(mText, zDepart*math.Max(binSD(m, c.usable), b.spread[fText])), "structured", func() string {
			return fmt.Sprintf("%.1f%% of their low bytes are printable text (%.1f%% elsewhere)", 100*t, 100*m)
		})
	}
	if m := b.med[fNul]; !math.IsNaN(m) {
		z := c.nul / c.usable
		v.test(z-m, math.Max(mNul, zDepart*math.Max(binSD(m, c.usable), b.spread[fNul])), "structured", func() string {
			return fmt.Sprintf("%.1f%% of their low bytes are zero (%.2f%% elsewhere)", 100*z, 100*m)
		})
	}
	return
}

// judgeWindow applies the tests that need a window's histograms.
func (b *base) judgeWindow(w win) (v verdict) {
	x := w.values(b.f32)
	// up: an effect size grows by zDepart spreads, beyond chance at this
	// window's size, and to growUp times the tensor's (trained weights
	// have none; weights whose low bits are structured vary between
	// windows in proportion to it).
	up := func(f int, margin float64, why func(ns float64) string) {
		if b.dt == analyzer.BF16 && !b.own {
			return
		}
		ns, m := w.samples(f), b.med[f]
		v.test(x[f]-m, max(margin/ns, zDepart*b.spread[f], (growUp-1)*math.Max(m, 0)), "structured", func() string { return why(ns) })
	}
	// flat: the chi-square of bytes that are structured in the tensor
	// falls by flatDrop of its excess over uniform and by zFlat spreads
	// (and sampling deviations).
	flat := func(f int, why func(ns float64) string) {
		ns, m := w.samples(f), b.med[f]
		if !b.own || chiOf(m, ns) < structuredChi {
			return
		}
		noise := math.Sqrt(2*255+4*m*ns) / ns
		v.test(m-x[f], max(zFlat*b.spread[f], zFlat*noise, flatDrop*m), "flat", func() string { return why(ns) })
	}
	up(fChi, 255*marginChi, func(ns float64) string {
		return fmt.Sprintf("their low bytes are not random like the rest of the tensor (chi-square/255 %.1f, %.1f elsewhere)", chiOf(x[fChi], ns), chiOf(b.med[fChi], ns))
	})
	if ns := w.samples(fBitZ); !math.IsNaN(x[fBitZ]) {
		// bitZ's chance level does not shrink with the window: a floor.
		v.test(x[fBitZ]-b.med[fBitZ], max(marginBitZ/math.Sqrt(ns), zDepart*b.spread[fBitZ], (growUp-1)*b.med[fBitZ]), "structured", func() string {
			return fmt.Sprintf("one of their low bits is biased (%.0f standard deviations, %.0f elsewhere)", x[fBitZ]*math.Sqrt(ns), b.med[fBitZ]*math.Sqrt(ns))
		})
	}
	for _, f := range []int{fChi1, fChi2, fChi4} {
		up(f, 255*marginChi, func(float64) string {
			return "the bytes re-assembled from their 1, 2 or 4 lowest bits are not random like the rest of the tensor"
		})
	}
	// Whatever the tensor: float32 byte 2 and the bfloat16 low byte are
	// far from uniform in any weights (an effect size of 0.03 at the
	// least in all the weights measured; 0.05 for a normal distribution,
	// 0.1 for a uniform one), so a large window where they are uniform was
	// overwritten, even when the payload fills most of the tensor and so
	// sets its median.
	absFlat := func(f int, why func(ns float64) string) {
		if ns := w.samples(f); ns >= minAbsFlat {
			v.test(2*flatAbs-x[f], flatAbs, "flat", func() string { return why(ns) })
		}
	}
	if b.f32 {
		absFlat(fHi, func(ns float64) string {
			return fmt.Sprintf("the exponent's lowest bit and the top mantissa bits are uniformly random (chi-square/255 %.2f), which in weights they never are: the low 3 bytes were replaced with random data", chiOf(x[fHi], ns))
		})
	}
	if b.dt == analyzer.BF16 {
		absFlat(fChi, func(ns float64) string {
			return fmt.Sprintf("their low bytes (the exponent's lowest bit and the top mantissa bits) are uniformly random (chi-square/255 %.2f), which in weights they never are: replaced with random data", chiOf(x[fChi], ns))
		})
	}
	if b.f32 {
		flat(fHi, func(ns float64) string {
			return fmt.Sprintf("the exponent's lowest bit and the top mantissa bits are uniformly random (chi-square/255 %.2f, %.1f elsewhere): the low 3 bytes were replaced with random data", chiOf(x[fHi], ns), chiOf(b.med[fHi], ns))
		})
	}
	flat(fChi, func(ns float64) string {
		return fmt.Sprintf("their low bytes are uniformly random (chi-square/255 %.2f) where the tensor's are not (%.1f): replaced with random data", chiOf(x[fChi], ns), chiOf(b.med[fChi], ns))
	})
	return
}

// judge is the strongest departure of window j of ws, alone or with the
// next window.
func (b *base) judge(ws []win, j int) verdict {
	w := ws[j]
	v := b.judgeCounts(w.counts())
	if u := b.judgeWindow(w); u.score > v.score {
		v = u
	}
	if j+1 < len(ws) && ws[j+1].index == w.index+1 {
		if u := b.judgeCounts(w.counts().plus(ws[j+1].counts())); u.score > v.score {
			v = u
			v.pair = true
		}
	}
	return v
}

// baselines numbers every tensor's windows and returns the baseline each
// is judged against: its own, or for small tensors the global one of its
// dtype (ok false: none).
func baselines(stats []*Stats) []base {
	bases := make([]base, len(stats))
	byType := map[analyzer.DType][]base{}
	for i, s := range stats {
		s.windows = measured(s.windows)
		if len(s.windows) == 0 {
			continue
		}
		bases[i] = baseline(s.windows, s.Tensor.DType)
		byType[s.Tensor.DType] = append(byType[s.Tensor.DType], bases[i])
	}
	globals := map[analyzer.DType]base{}
	for d, bs := range byType {
		globals[d] = globalBaseline(bs, d)
	}
	for i, s := range stats {
		if len(s.windows) > 0 && !bases[i].ok {
			bases[i] = globals[s.Tensor.DType]
		}
	}
	return bases
}

// analyseLSB finds payload-like runs of windows in every windowed tensor.
func analyseLSB(stats []*Stats) {
	bases := baselines(stats)
	for i, s := range stats {
		b := bases[i]
		if !b.ok {
			continue
		}
		var cur *run
		for j, w := range s.windows {
			v := b.judge(s.windows, j)
			if !v.fires() {
				cur = nil
				continue
			}
			last := int(w.index)
			if v.pair {
				last++
			}
			if cur != nil && cur.last >= int(w.index)-1 && cur.kind == v.kind {
				cur.last = max(cur.last, last)
				continue
			}
			s.lsbRuns = append(s.lsbRuns, run{first: int(w.index), last: last, kind: v.kind, why: v.why})
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

func reportLSB(s *Stats, out *analyzer.Result) {
	for _, r := range s.lsbRuns {
		per := int64(perWindow(s.Tensor.DType))
		from, to := int64(r.first)*per, min(int64(r.last+1)*per, s.Tensor.Size/int64(s.Tensor.DType.Size()))
		where := fmt.Sprintf("tensor %s, elements %d-%d (%d KiB of %s weights, windows %d-%d)", s.Tensor.Name, from, to-1, (to-from)*int64(s.Tensor.DType.Size())/1024, s.Tensor.DType, r.first, r.last)
		var msg string
		switch r.kind {
		case "added":
			msg = fmt.Sprintf("%s: %s: data was added to them", where, r.why)
		case "flat":
			msg = fmt.Sprintf("%s: %s", where, r.why)
		default:
			msg = fmt.Sprintf("%s: %s: structured data (text, code, an executable) is hidden in them", where, r.why)
		}
		out.Add(rules.New(rules.WeightsLsbPayload, out.At(s.Tensor.Offset+from*int64(s.Tensor.DType.Size())), msg))
	}
}
