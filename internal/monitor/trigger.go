package monitor

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
)

// triggerDetector finds the signature of a backdoor trigger without
// knowing its shape, place, target class or rate: a rise, within a
// sliding window, of confident predictions of one class among inputs
// that are far from the baseline's inputs or far from the class they
// were given (see inputModel), beyond what the baseline predicts for
// that class. Flagged inputs that share a pattern (the same features
// moved the same way) are reported as the trigger's evidence.
//
// The test is a binomial tail per class, k flagged of n requests with
// the null rate p_c = 2 * TriggerP * share_c (the factor allows classes
// that attract more outliers than their share), at the family-wise level
// Alpha spread over every request, class and window of the horizon
// (Bonferroni), and never on fewer than MinSupport requests. It runs at
// two levels of strangeness: inputs with p < TriggerP, and inputs with
// p < TriggerP/25, whose lower null rate lets fewer requests suffice
// (a trigger word the baseline never used, a patch on blank pixels);
// the level is split between the two.
type triggerDetector struct {
	b       *baselineView
	cfg     Config
	alpha   float64
	confMin float64
	k       int // classes
	null    []float64
	crit    []int
	null2   []float64 // the strict level
	crit2   []int
	strict  []bool // per slot: flagged at the strict level
	counts2 []int
	hashes  []uint64       // per slot: the flagged input's hash (0: none)
	seen    map[uint64]int // flagged inputs in the window, by hash

	// The sliding window: per slot, the flagged class (-1: none).
	ring   []int32
	pos    int
	filled int
	counts []int
	// Flagged inputs' residuals (input minus its nearest class mean's
	// input-space centre), summed per class, and their ids.
	resid   map[int][]float64
	sums    [][]float64
	unit    [][]float64
	ids     map[int]string
	centres [][]float64
	last    Point
}

func newTriggerDetector(b *baselineView, cfg Config) (Detector, string) {
	if b.dim == 0 {
		return nil, "trigger: the baseline has no inputs"
	}
	if len(b.classes) < 2 {
		return nil, "trigger: the baseline has fewer than two labels"
	}
	im := b.inputModel()
	if len(im.heldFar) < 20 {
		return nil, "trigger: the baseline is too small to calibrate input distances"
	}
	k := len(b.classes)
	d := &triggerDetector{b: b, cfg: cfg, k: k, ring: make([]int32, cfg.TriggerWindow), counts: make([]int, k),
		strict: make([]bool, cfg.TriggerWindow), counts2: make([]int, k), null2: make([]float64, k), crit2: make([]int, k),
		hashes: make([]uint64, cfg.TriggerWindow), seen: map[uint64]int{},
		resid: map[int][]float64{}, ids: map[int]string{}, sums: make([][]float64, k), unit: make([][]float64, k)}
	for i := range d.ring {
		d.ring[i] = -1
	}
	if len(b.conf) > 0 {
		d.confMin = quantile(b.conf, cfg.TriggerConfQuantile)
	}
	// Tests: every request of Horizon windows, every class, and the share
	// of the budget that belongs to this detector (a quarter of Alpha).
	d.alpha = cfg.Alpha / 4 / 2 / float64(cfg.Horizon*cfg.TriggerWindow*k)
	n := sum(b.labels[:k])
	d.null = make([]float64, k)
	d.crit = make([]int, k)
	for c := 0; c < k; c++ {
		share := (b.labels[c] + 1) / (n + float64(k))
		d.null[c] = math.Min(1, 2*cfg.TriggerP*share)
		d.crit[c] = max(cfg.MinSupport, binomialCritical(cfg.TriggerWindow, d.null[c], d.alpha))
		d.null2[c] = math.Min(1, 2*cfg.TriggerP/strictFactor*share)
		d.crit2[c] = max(cfg.MinSupport, binomialCritical(cfg.TriggerWindow, d.null2[c], d.alpha))
	}
	// Input-space class centres, for the pattern evidence.
	d.centres = make([][]float64, k)
	cnt := make([]int, k)
	for i, x := range b.X {
		c := b.y[i]
		if c >= k {
			continue
		}
		if d.centres[c] == nil {
			d.centres[c] = make([]float64, b.dim)
		}
		cnt[c]++
		for j, v := range x {
			d.centres[c][j] += v
		}
	}
	for c := range d.centres {
		for j := range d.centres[c] {
			d.centres[c][j] /= float64(cnt[c])
		}
	}
	return d, ""
}

// strictFactor divides TriggerP for the strict level.
const strictFactor = 25

func (d *triggerDetector) Name() string { return "trigger" }
func (d *triggerDetector) Kind() Kind   { return KindTrigger }
func (d *triggerDetector) Describe() string {
	lo, hi := d.crit[0], d.crit[0]
	for _, c := range d.crit {
		lo, hi = min(lo, c), max(hi, c)
	}
	lo2 := d.crit2[0]
	for _, c := range d.crit2 {
		lo2 = min(lo2, c)
	}
	return fmt.Sprintf("confident (>= %.4g) predictions of one class among inputs far, inconsistent or rare (p < %.3g; or p < %.2g) in the last %d requests: binomial p < %.2g, at least %d-%d requests (%d at the strict level)",
		d.confMin, d.cfg.TriggerP, d.cfg.TriggerP/strictFactor, d.cfg.TriggerWindow, d.alpha, lo, hi, lo2)
}

func (d *triggerDetector) Observe(r *Record, out *Out) {
	if r.Canary != "" {
		return
	}
	// Slide: the oldest slot leaves.
	if h := d.hashes[d.pos]; h != 0 {
		if d.seen[h]--; d.seen[h] <= 0 {
			delete(d.seen, h)
		}
		d.hashes[d.pos] = 0
	}
	if old := d.ring[d.pos]; old >= 0 {
		d.counts[old]--
		if d.strict[d.pos] {
			d.counts2[old]--
		}
		d.dropResid(int(old), d.pos)
	}
	d.ring[d.pos], d.strict[d.pos] = -1, false
	slot := d.pos
	d.pos = (d.pos + 1) % len(d.ring)
	d.filled = min(d.filled+1, len(d.ring))

	c := d.b.class(r.Label)
	flag := c < d.k && d.b.scoreRecord(r) && r.inputP < d.cfg.TriggerP &&
		(!r.hasConfidence() || r.Confidence >= d.confMin)
	if flag {
		// The same input again (a retry, a cache, a resampled log) is one
		// piece of evidence, not several.
		h := inputHash(r.Input)
		d.hashes[slot] = h
		d.seen[h]++
		flag = d.seen[h] == 1
	}
	if flag {
		d.ring[slot] = int32(c)
		d.counts[c]++
		if r.inputP < d.cfg.TriggerP/strictFactor {
			d.strict[slot] = true
			d.counts2[c]++
		}
		d.addResid(c, slot, r)
	}
	if flag && (d.counts[c] >= d.crit[c] || d.counts2[c] >= d.crit2[c]) {
		d.fire(c, r, out)
	}
	if r.Seq%int64(d.cfg.PlotStep) == 0 {
		d.plot(r.Seq, out)
	}
}

// level returns class c's count, threshold and null rate at the level
// closest to (or beyond) its threshold.
func (d *triggerDetector) level(c int) (k, crit int, null float64, strict bool) {
	if float64(d.counts2[c])/float64(d.crit2[c]) > float64(d.counts[c])/float64(d.crit[c]) {
		return d.counts2[c], d.crit2[c], d.null2[c], true
	}
	return d.counts[c], d.crit[c], d.null[c], false
}

// plot adds the point of the class closest to its threshold.
func (d *triggerDetector) plot(seq int64, out *Out) {
	best, ratio := 0, -1.0
	for c := range d.counts {
		k, crit, _, _ := d.level(c)
		if v := float64(k) / float64(crit); v > ratio {
			best, ratio = c, v
		}
	}
	k, crit, null, _ := d.level(best)
	p := binomialSF(k, d.cfg.TriggerWindow, null)
	out.Point(Point{Seq: seq, Stat: float64(k), Threshold: float64(crit), P: p, Fired: k >= crit})
}

func (d *triggerDetector) fire(c int, r *Record, out *Out) {
	k, crit, null, strict := d.level(c)
	p := binomialSF(k, d.cfg.TriggerWindow, null)
	level := d.cfg.TriggerP
	if strict {
		level /= strictFactor
	}
	var ids []string
	for s := 0; s < len(d.ring) && len(ids) < 5; s++ {
		slot := (d.pos + s) % len(d.ring) // oldest first
		if int(d.ring[slot]) == c {
			ids = append(ids, d.ids[slot])
		}
	}
	pattern, coherence := d.pattern(c, k)
	label := d.b.classes[c]
	from := max(r.Seq-int64(d.filled)+1, 1)
	out.Point(Point{Seq: r.Seq, Stat: float64(k), Threshold: float64(crit), P: p, Fired: true})
	out.Alert(Alert{
		Key: label, Seq: r.Seq, From: from, To: r.Seq,
		Statistic: "flagged-confident-count", Value: float64(k), Threshold: float64(crit), P: pval(p),
		Message: fmt.Sprintf("possible backdoor trigger: %d confident predictions of label %s among inputs unlike the baseline (p < %.2g) in the last %d requests (expected %.2f, binomial p = %.2g)",
			k, label, level, d.filled, null*float64(d.cfg.TriggerWindow), p),
		Evidence: Evidence{RequestIDs: ids, Details: map[string]any{
			"label": label, "flagged": k, "window": d.cfg.TriggerWindow, "expected": round(null * float64(d.cfg.TriggerWindow)),
			"input_p_threshold": level, "confidence_min": round(d.confMin),
			"shared_pattern": pattern, "pattern_coherence": round(coherence),
		}},
	})
}

func (d *triggerDetector) addResid(c, slot int, r *Record) {
	d.ids[slot] = r.ID
	ref := c
	if r.nearest >= 0 && r.nearest < d.k && d.centres[r.nearest] != nil {
		ref = r.nearest
	}
	if d.centres[ref] == nil {
		return
	}
	res := make([]float64, d.b.dim)
	var norm float64
	for j, v := range r.Input {
		res[j] = v - d.centres[ref][j]
		norm += res[j] * res[j]
	}
	d.resid[slot] = res
	if d.sums[c] == nil {
		d.sums[c] = make([]float64, d.b.dim)
		d.unit[c] = make([]float64, d.b.dim)
	}
	norm = math.Sqrt(norm)
	for j, v := range res {
		d.sums[c][j] += v
		if norm > 0 {
			d.unit[c][j] += v / norm
		}
	}
}

func (d *triggerDetector) dropResid(c, slot int) {
	res := d.resid[slot]
	delete(d.resid, slot)
	delete(d.ids, slot)
	if res == nil || d.sums[c] == nil {
		return
	}
	var norm float64
	for _, v := range res {
		norm += v * v
	}
	norm = math.Sqrt(norm)
	for j, v := range res {
		d.sums[c][j] -= v
		if norm > 0 {
			d.unit[c][j] -= v / norm
		}
	}
}

// pattern names the features the flagged inputs of class c moved
// together (largest mean residuals), and the coherence of their
// directions: the norm of the mean unit residual (1: all the same
// direction; about 1/sqrt(k) for unrelated outliers).
func (d *triggerDetector) pattern(c, k int) ([]map[string]any, float64) {
	if d.sums[c] == nil || k == 0 {
		return nil, 0
	}
	type f struct {
		i int
		v float64
	}
	var fs []f
	var coh float64
	for j, v := range d.sums[c] {
		fs = append(fs, f{j, v / float64(k)})
		u := d.unit[c][j] / float64(k)
		coh += u * u
	}
	sort.Slice(fs, func(a, b int) bool { return math.Abs(fs[a].v) > math.Abs(fs[b].v) })
	var out []map[string]any
	for _, x := range fs[:min(8, len(fs))] {
		out = append(out, map[string]any{"feature": x.i, "mean_shift": round(x.v)})
	}
	return out, math.Sqrt(coh)
}

// inputHash identifies an input by its values (never 0).
func inputHash(x []float64) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, v := range x {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	return h.Sum64() | 1
}
