package monitor

import (
	"fmt"
	"math"
	"sort"
)

// window is the bookkeeping of a tumbling window of requests.
type window struct {
	size  int
	n     int
	start int64
	ids   []string // the first few request ids, for evidence
}

// add counts r; it reports whether the window is now full.
func (w *window) add(r *Record) bool {
	if w.n == 0 {
		w.start = r.Seq
		w.ids = w.ids[:0]
	}
	w.n++
	if len(w.ids) < 5 {
		w.ids = append(w.ids, r.ID)
	}
	return w.n >= w.size
}

// flushable reports whether a partial window is long enough to judge.
func (w *window) flushable() bool { return w.n > 0 && w.n >= w.size/4 }

func (w *window) reset() { w.n = 0 }

// large reports whether the window is judged by distance (Evidently's
// rule: more than LargeWindow rows).
func large(cfg Config, n int) bool { return n > cfg.LargeWindow }

// logP is the plotted form of a p-value.
func logP(p float64) float64 { return -math.Log10(math.Max(p, 1e-300)) }

// ---------------------------------------------------------- label drift

// labelDrift compares each window's label mix with the baseline's: a
// chi-square test of homogeneity, with PSI and Jensen-Shannon distance
// reported.
type labelDrift struct {
	b      *baselineView
	cfg    Config
	alpha  float64
	w      window
	counts []float64
}

func newLabelDrift(b *baselineView, cfg Config, alpha float64) (Detector, string) {
	if len(b.classes) < 2 {
		return nil, "label-drift: the baseline has fewer than two labels"
	}
	return &labelDrift{b: b, cfg: cfg, alpha: alpha, w: window{size: cfg.Window}, counts: make([]float64, len(b.labels))}, ""
}

func (d *labelDrift) Name() string { return "label-drift" }
func (d *labelDrift) Kind() Kind   { return KindDrift }
func (d *labelDrift) Describe() string {
	return fmt.Sprintf("label mix of %d classes per %d requests: chi-square p < %.2g (PSI, JS reported; JS >= %.2g or PSI >= %.2g above %d rows)",
		len(d.b.classes), d.cfg.Window, d.alpha, d.cfg.JS, d.cfg.PSI, d.cfg.LargeWindow)
}

func (d *labelDrift) Observe(r *Record, out *Out) {
	if r.Label == "" || r.Canary != "" {
		return
	}
	d.counts[d.b.class(r.Label)]++
	if d.w.add(r) {
		d.eval(r.Seq, out)
	}
}

func (d *labelDrift) Flush(last int64, out *Out) {
	if d.w.flushable() {
		d.eval(last, out)
	}
}

func (d *labelDrift) eval(end int64, out *Out) {
	defer func() { d.w.reset(); clear(d.counts) }()
	chi, df, p := chiSquareTest(d.b.labels, d.counts)
	ps := psi(d.b.labels, d.counts)
	js := jsDistance(d.b.labels, d.counts)
	// The class whose share rose most, for the message.
	nb, nw := sum(d.b.labels), sum(d.counts)
	top, rise := 0, math.Inf(-1)
	for i := range d.counts {
		if v := d.counts[i]/nw - d.b.labels[i]/nb; v > rise {
			top, rise = i, v
		}
	}
	name := "other"
	if top < len(d.b.classes) {
		name = d.b.classes[top]
	}
	details := map[string]any{"psi": round(ps), "js": round(js), "chi_square": round(chi), "df": df, "requests": d.w.n,
		"rising_label": name, "rising_share": round(d.counts[top] / nw), "baseline_share": round(d.b.labels[top] / nb)}
	var fired bool
	a := Alert{Seq: end, From: d.w.start, To: end, Key: "", Evidence: Evidence{RequestIDs: sampleIDs(d.w.ids, 5), Details: details}}
	if large(d.cfg, d.w.n) {
		fired = js >= d.cfg.JS || ps >= d.cfg.PSI
		out.Point(Point{Seq: end, Stat: js, Threshold: d.cfg.JS, P: p, Fired: fired})
		a.Statistic, a.Value, a.Threshold, a.P = "jensen-shannon", js, d.cfg.JS, pval(p)
	} else {
		fired = p < d.alpha
		out.Point(Point{Seq: end, Stat: logP(p), Threshold: logP(d.alpha), P: p, Fired: fired})
		a.Statistic, a.Value, a.Threshold, a.P = "chi-square", chi, chiSquareCritical(d.alpha, df), pval(p)
	}
	if fired {
		a.Message = fmt.Sprintf("label mix changed over requests %d-%d: label %s at %.0f%% (baseline %.0f%%); PSI %.3f, JS %.3f",
			d.w.start, end, name, 100*d.counts[top]/nw, 100*d.b.labels[top]/nb, ps, js)
		out.Alert(a)
	}
}

func chiSquareCritical(alpha float64, df int) float64 {
	if df < 1 {
		return math.NaN()
	}
	lo, hi := 0.0, 1.0
	for chiSquareSF(hi, df) > alpha {
		hi *= 2
	}
	for i := 0; i < 100; i++ {
		mid := (lo + hi) / 2
		if chiSquareSF(mid, df) > alpha {
			lo = mid
		} else {
			hi = mid
		}
	}
	return round(hi)
}

func sum(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}

func round(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	return math.Round(x*1e6) / 1e6
}

// ------------------------------------------------------ numeric drift

// numericDrift compares each window's values of one number (confidence,
// entropy, distance, length) with the baseline's: two-sample KS with the
// normed Wasserstein distance reported.
type numericDrift struct {
	name, what string
	kind       Kind
	cfg        Config
	alpha      float64
	base       []float64 // sorted
	get        func(*Record) (float64, bool)
	oneSided   bool // only a rise counts (distances)
	w          window
	vals       []float64
}

func (d *numericDrift) Name() string { return d.name }
func (d *numericDrift) Kind() Kind   { return d.kind }
func (d *numericDrift) Describe() string {
	return fmt.Sprintf("%s per %d requests against %d baseline values: KS p < %.2g (normed Wasserstein >= %.2g above %d rows)",
		d.what, d.cfg.Window, len(d.base), d.alpha, d.cfg.Wasserstein, d.cfg.LargeWindow)
}

func (d *numericDrift) Observe(r *Record, out *Out) {
	if r.Canary != "" {
		return
	}
	v, ok := d.get(r)
	if !ok || math.IsNaN(v) {
		return
	}
	d.vals = append(d.vals, v)
	if d.w.add(r) {
		d.eval(r.Seq, out)
	}
}

func (d *numericDrift) Flush(last int64, out *Out) {
	if d.w.flushable() {
		d.eval(last, out)
	}
}

func (d *numericDrift) eval(end int64, out *Out) {
	defer func() { d.w.reset(); d.vals = d.vals[:0] }()
	sort.Float64s(d.vals)
	var ks, p float64
	if d.oneSided {
		ks, p = ksGreater(d.base, d.vals)
	} else {
		ks, p = ksTest(d.base, d.vals)
	}
	ws := wasserstein(d.base, d.vals)
	details := map[string]any{"ks": round(ks), "wasserstein_normed": round(ws), "requests": d.w.n,
		"median": round(quantile(d.vals, 0.5)), "baseline_median": round(quantile(d.base, 0.5))}
	a := Alert{Seq: end, From: d.w.start, To: end, Evidence: Evidence{RequestIDs: sampleIDs(d.w.ids, 5), Details: details}}
	var fired bool
	if large(d.cfg, d.w.n) {
		fired = ws >= d.cfg.Wasserstein
		out.Point(Point{Seq: end, Stat: ws, Threshold: d.cfg.Wasserstein, P: p, Fired: fired})
		a.Statistic, a.Value, a.Threshold, a.P = "wasserstein-normed", ws, d.cfg.Wasserstein, pval(p)
	} else {
		fired = p < d.alpha
		out.Point(Point{Seq: end, Stat: logP(p), Threshold: logP(d.alpha), P: p, Fired: fired})
		a.Statistic, a.Value, a.Threshold, a.P = "ks", ks, ksCritical(d.alpha, len(d.base), d.w.n), pval(p)
	}
	if fired {
		a.Message = fmt.Sprintf("%s shifted over requests %d-%d: median %.4g (baseline %.4g), KS %.3f, Wasserstein %.3f",
			d.what, d.w.start, end, quantile(d.vals, 0.5), quantile(d.base, 0.5), ks, ws)
		out.Alert(a)
	}
}

// ksGreater is the one-sided KS test that b is stochastically larger than
// a: D+ = max(F_a - F_b), p ~ exp(-2 n D^2).
func ksGreater(a, b []float64) (d, p float64) {
	if len(a) == 0 || len(b) == 0 {
		return 0, 1
	}
	i, j := 0, 0
	na, nb := float64(len(a)), float64(len(b))
	for i < len(a) && j < len(b) {
		x := min(a[i], b[j])
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		d = max(d, float64(i)/na-float64(j)/nb)
	}
	ne := na * nb / (na + nb)
	return d, math.Min(1, math.Exp(-2*ne*d*d))
}

// ksCritical is the KS statistic at which the p-value reaches alpha.
func ksCritical(alpha float64, n, m int) float64 {
	ne := math.Sqrt(float64(n) * float64(m) / float64(n+m))
	lo, hi := 0.0, 1.0
	for i := 0; i < 60; i++ {
		mid := (lo + hi) / 2
		if kolmogorovQ((ne+0.12+0.11/ne)*mid) > alpha {
			lo = mid
		} else {
			hi = mid
		}
	}
	return round(hi)
}

func newConfidenceDrift(b *baselineView, cfg Config, alpha float64) (Detector, string) {
	if len(b.conf) < 20 {
		return nil, "confidence-drift: the baseline has no confidences"
	}
	return &numericDrift{name: "confidence-drift", what: "confidence", kind: KindDrift, cfg: cfg, alpha: alpha, base: b.conf,
		w: window{size: cfg.Window}, get: func(r *Record) (float64, bool) { return confFeature(r.Confidence), r.hasConfidence() }}, ""
}

func newEntropyDrift(b *baselineView, cfg Config, alpha float64) (Detector, string) {
	if len(b.ent) < 20 {
		return nil, "entropy-drift: the baseline has no probability vectors"
	}
	return &numericDrift{name: "entropy-drift", what: "prediction entropy", kind: KindDrift, cfg: cfg, alpha: alpha, base: b.ent,
		w: window{size: cfg.Window}, get: func(r *Record) (float64, bool) { return entFeature(r.Probs), len(r.Probs) > 1 }}, ""
}

// newInputDrift watches the inputs' distance to the baseline (one-sided:
// inputs moving away). The reference is the held-out baseline scores.
func newInputDrift(b *baselineView, cfg Config, alpha float64) (Detector, string) {
	if b.dim == 0 {
		return nil, "input-drift: the baseline has no inputs"
	}
	im := b.inputModel()
	if len(im.heldFar) < 20 {
		return nil, "input-drift: the baseline is too small to calibrate input distances"
	}
	return &numericDrift{name: "input-drift", what: "input distance to the baseline", kind: KindDrift, cfg: cfg, alpha: alpha,
		base: im.heldFar, oneSided: true, w: window{size: cfg.Window}, get: func(r *Record) (float64, bool) {
			if !b.scoreRecord(r) {
				return 0, false
			}
			return r.far, true
		}}, ""
}
