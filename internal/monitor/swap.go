package monitor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
)

// swapDetector finds another model answering behind the same endpoint:
// the output statistics (confidence and entropy, the model's calibration)
// shift while the inputs do not move away from the baseline. A change of
// outputs with inputs that moved is drift or an attack, reported by the
// other detectors, not a swap.
type swapDetector struct {
	b       *baselineView
	cfg     Config
	alpha   float64
	w       window
	conf    []float64
	ent     []float64
	far     []float64
	inputs  bool
	heldFar []float64
	// per-class mean confidence, baseline
	classConf []float64
	classN    []float64
	winSum    []float64
	winN      []float64
}

// inputsUnchangedP: inputs count as unchanged while the one-sided test
// of their distances stays above this p-value.
const inputsUnchangedP = 0.01

func newSwapDetector(b *baselineView, cfg Config, alpha float64) (Detector, string) {
	if len(b.conf) < 20 {
		return nil, "swap (calibration): the baseline has no confidences"
	}
	d := &swapDetector{b: b, cfg: cfg, alpha: alpha, w: window{size: cfg.Window}}
	if b.dim > 0 {
		if im := b.inputModel(); len(im.heldFar) >= 20 {
			d.inputs, d.heldFar = true, im.heldFar
		}
	}
	k := len(b.classes) + 1
	d.classConf, d.classN = make([]float64, k), make([]float64, k)
	d.winSum, d.winN = make([]float64, k), make([]float64, k)
	for _, r := range b.recs {
		if r.hasConfidence() && r.Label != "" {
			c := b.class(r.Label)
			d.classConf[c] += r.Confidence
			d.classN[c]++
		}
	}
	return d, ""
}

func (d *swapDetector) Name() string { return "swap" }
func (d *swapDetector) Kind() Kind   { return KindSwap }
func (d *swapDetector) Describe() string {
	s := fmt.Sprintf("calibration (confidence and entropy, KS) per %d requests: p < %.2g", d.cfg.Window, d.alpha)
	if d.inputs {
		s += fmt.Sprintf(", while the inputs' distances stay unchanged (one-sided KS p >= %g)", inputsUnchangedP)
	}
	return s
}

func (d *swapDetector) Observe(r *Record, out *Out) {
	if r.Canary != "" || !r.hasConfidence() {
		return
	}
	d.conf = append(d.conf, confFeature(r.Confidence))
	if len(r.Probs) > 1 {
		d.ent = append(d.ent, entFeature(r.Probs))
	}
	if d.inputs && d.b.scoreRecord(r) {
		d.far = append(d.far, r.far)
	}
	if r.Label != "" {
		c := d.b.class(r.Label)
		d.winSum[c] += r.Confidence
		d.winN[c]++
	}
	if d.w.add(r) {
		d.eval(r.Seq, out)
	}
}

func (d *swapDetector) Flush(last int64, out *Out) {
	if d.w.flushable() {
		d.eval(last, out)
	}
}

func (d *swapDetector) eval(end int64, out *Out) {
	defer func() {
		d.w.reset()
		d.conf, d.ent, d.far = d.conf[:0], d.ent[:0], d.far[:0]
		clear(d.winSum)
		clear(d.winN)
	}()
	sort.Float64s(d.conf)
	sort.Float64s(d.ent)
	sort.Float64s(d.far)
	big := large(d.cfg, d.w.n)
	ksC, pC := ksTest(d.b.conf, d.conf)
	wC := wasserstein(d.b.conf, d.conf)
	pE, wE, ksE := 1.0, 0.0, 0.0
	if len(d.ent) > 0 && len(d.b.ent) > 0 {
		ksE, pE = ksTest(d.b.ent, d.ent)
		wE = wasserstein(d.b.ent, d.ent)
	}
	p := math.Min(1, 2*math.Min(pC, pE))
	inP, inKS := 1.0, 0.0
	if d.inputs && len(d.far) > 0 {
		inKS, inP = ksGreater(d.heldFar, d.far)
	}
	unchanged := inP >= inputsUnchangedP
	// The classes whose mean confidence moved most, for the evidence.
	type cls struct {
		label     string
		base, now float64
		moved     float64
		n, baseN  float64
	}
	var moved []cls
	for c := range d.winN {
		if d.winN[c] >= 5 && d.classN[c] >= 5 {
			b, n := d.classConf[c]/d.classN[c], d.winSum[c]/d.winN[c]
			name := "other"
			if c < len(d.b.classes) {
				name = d.b.classes[c]
			}
			moved = append(moved, cls{name, b, n, math.Abs(n - b), d.winN[c], d.classN[c]})
		}
	}
	sort.Slice(moved, func(i, j int) bool { return moved[i].moved > moved[j].moved })
	var perClass []map[string]any
	for _, c := range moved[:min(3, len(moved))] {
		perClass = append(perClass, map[string]any{"label": c.label, "mean_confidence": round(c.now), "baseline_mean_confidence": round(c.base)})
	}
	details := map[string]any{"confidence_ks": round(ksC), "confidence_p": pC, "entropy_ks": round(ksE), "entropy_p": pE,
		"confidence_wasserstein": round(wC), "entropy_wasserstein": round(wE), "requests": d.w.n,
		"confidence_median": round(quantile(d.conf, 0.5)), "baseline_confidence_median": round(quantile(d.b.conf, 0.5)),
		"classes_moved": perClass}
	if d.inputs {
		details["input_distance_ks"] = round(inKS)
		details["input_distance_p"] = inP
	}
	a := Alert{Seq: end, From: d.w.start, To: end, Key: "calibration", Evidence: Evidence{RequestIDs: sampleIDs(d.w.ids, 5), Details: details}}
	var fired bool
	if big {
		ws := math.Max(wC, wE)
		fired = ws >= d.cfg.Wasserstein && unchanged
		out.Point(Point{Seq: end, Stat: ws, Threshold: d.cfg.Wasserstein, P: p, Fired: fired})
		a.Statistic, a.Value, a.Threshold, a.P = "wasserstein-normed", ws, d.cfg.Wasserstein, pval(p)
	} else {
		fired = p < d.alpha && unchanged
		out.Point(Point{Seq: end, Stat: logP(p), Threshold: logP(d.alpha), P: p, Fired: fired})
		a.Statistic, a.Value, a.Threshold, a.P = "ks", math.Max(ksC, ksE), ksCritical(d.alpha/2, len(d.b.conf), d.w.n), pval(p)
	}
	if fired {
		why := "with inputs like the baseline's"
		if !d.inputs {
			why = "(inputs not recorded: cannot tell a swap from drift)"
		}
		a.Message = fmt.Sprintf("model behaviour changed over requests %d-%d %s: median confidence %.4g (baseline %.4g), calibration KS %.3f",
			d.w.start, end, why, quantile(d.conf, 0.5), quantile(d.b.conf, 0.5), math.Max(ksC, ksE))
		out.Alert(a)
	}
}

// ----------------------------------------------------------- fingerprint

// fingerprintDetector alerts on a responder fingerprint the baseline
// never showed: the model field, system_fingerprint (or KServe
// model_version), and the digest of fingerprinting response headers.
// A field that already varies a lot in the baseline is not watched.
type fingerprintDetector struct {
	fields []fpField
}

type fpField struct {
	name string
	get  func(*Record) string
	seen map[string]bool
	news int
}

// fingerprintMaxValues: a field with more distinct values in the
// baseline is not a fingerprint.
const fingerprintMaxValues = 8

func newFingerprintDetector(b *baselineView, cfg Config) (Detector, string) {
	all := []fpField{
		{name: "model", get: func(r *Record) string { return r.Model }},
		{name: "system_fingerprint", get: func(r *Record) string { return r.SystemFingerprint }},
		{name: "headers", get: func(r *Record) string { return r.Headers }},
	}
	d := &fingerprintDetector{}
	for _, f := range all {
		f.seen = map[string]bool{}
		for _, r := range b.recs {
			if v := f.get(r); v != "" {
				f.seen[v] = true
			}
		}
		if len(f.seen) > 0 && len(f.seen) <= fingerprintMaxValues {
			d.fields = append(d.fields, f)
		}
	}
	if len(d.fields) == 0 {
		return nil, "fingerprint: the baseline records no model, system_fingerprint or headers"
	}
	return d, ""
}

func (d *fingerprintDetector) Name() string { return "fingerprint" }
func (d *fingerprintDetector) Kind() Kind   { return KindSwap }
func (d *fingerprintDetector) Describe() string {
	var s string
	for i, f := range d.fields {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s (%d baseline values)", f.name, len(f.seen))
	}
	return "any value the baseline never showed: " + s
}

func (d *fingerprintDetector) Observe(r *Record, out *Out) {
	for i := range d.fields {
		f := &d.fields[i]
		v := f.get(r)
		if v == "" || f.seen[v] {
			continue
		}
		if f.news < 64 { // bounded: a field that keeps changing is reported, not stored
			f.seen[v] = true
			f.news++
		}
		var known []string
		for k := range f.seen {
			if k != v {
				known = append(known, k)
			}
		}
		sort.Strings(known)
		out.Point(Point{Seq: r.Seq, Stat: 1, Threshold: 1, P: math.NaN(), Fired: true})
		out.Alert(Alert{
			Key: f.name + "=" + v, Seq: r.Seq, From: r.Seq, To: r.Seq,
			Statistic: "new-" + f.name, Value: 1, Threshold: 1,
			Message:  fmt.Sprintf("response fingerprint changed: %s %q never seen in the baseline (seen: %v)", f.name, v, known[:min(4, len(known))]),
			Evidence: Evidence{RequestIDs: []string{r.ID}, Details: map[string]any{"field": f.name, "value": v}},
		})
	}
}

// ---------------------------------------------------------------- canary

// canaryDetector compares the answers to canary inputs (scheduled golden
// requests sent through the same endpoint) with their expected outputs:
// given in the configuration, else pinned to the first answer, in the
// baseline or in the stream. Any difference is an alert.
type canaryDetector struct {
	cfg    Config
	expect map[string]Expect
}

func newCanaryDetector(b *baselineView, cfg Config) (Detector, string) {
	d := &canaryDetector{cfg: cfg, expect: map[string]Expect{}}
	for k, v := range cfg.Canaries {
		d.expect[k] = v
	}
	for _, r := range b.recs {
		if r.Canary != "" {
			if _, ok := d.expect[r.Canary]; !ok {
				d.expect[r.Canary] = expectOf(r)
			}
		}
	}
	return d, ""
}

func expectOf(r *Record) Expect {
	e := Expect{Label: r.Label, Probs: r.Probs, Model: r.Model}
	if r.hasConfidence() {
		c := r.Confidence
		e.Confidence = &c
	}
	if r.Text != nil {
		e.TextDigest = r.Text.digest
	}
	return e
}

func (d *canaryDetector) Name() string { return "canary" }
func (d *canaryDetector) Kind() Kind   { return KindCanary }
func (d *canaryDetector) Describe() string {
	return fmt.Sprintf("%d canaries known in advance (others pinned to their first answer); tolerance %g", len(d.cfg.Canaries), d.cfg.CanaryTolerance)
}

func (d *canaryDetector) Observe(r *Record, out *Out) {
	if r.Canary == "" {
		return
	}
	e, ok := d.expect[r.Canary]
	if !ok {
		if len(d.expect) < 10000 {
			d.expect[r.Canary] = expectOf(r)
		}
		return
	}
	var diffs []string
	worst := 0.0
	if e.Label != "" && r.Label != e.Label {
		diffs = append(diffs, fmt.Sprintf("label %s, expected %s", r.Label, e.Label))
		worst = math.Inf(1)
	}
	if e.Model != "" && r.Model != e.Model {
		diffs = append(diffs, fmt.Sprintf("model %q, expected %q", r.Model, e.Model))
		worst = math.Inf(1)
	}
	if e.Confidence != nil && r.hasConfidence() {
		if dv := math.Abs(r.Confidence - *e.Confidence); dv > d.cfg.CanaryTolerance {
			diffs = append(diffs, fmt.Sprintf("confidence %.6g, expected %.6g", r.Confidence, *e.Confidence))
			worst = math.Max(worst, dv)
		}
	}
	if len(e.Probs) > 0 {
		if len(e.Probs) != len(r.Probs) {
			diffs = append(diffs, fmt.Sprintf("%d scores, expected %d", len(r.Probs), len(e.Probs)))
			worst = math.Inf(1)
		} else {
			var m float64
			for i := range e.Probs {
				m = math.Max(m, math.Abs(e.Probs[i]-r.Probs[i]))
			}
			if m > d.cfg.CanaryTolerance {
				diffs = append(diffs, fmt.Sprintf("scores differ by up to %.3g", m))
				worst = math.Max(worst, m)
			}
		}
	}
	if e.TextDigest != "" && r.Text != nil && r.Text.digest != e.TextDigest {
		diffs = append(diffs, "generated text differs")
		worst = math.Inf(1)
	}
	if r.Status >= 400 || r.Incomplete {
		diffs = append(diffs, fmt.Sprintf("request failed (status %d)", r.Status))
		worst = math.Inf(1)
	}
	stat := worst
	if math.IsInf(stat, 1) {
		stat = 1
	}
	out.Point(Point{Seq: r.Seq, Stat: stat, Threshold: d.cfg.CanaryTolerance, P: math.NaN(), Fired: len(diffs) > 0})
	if len(diffs) == 0 {
		return
	}
	out.Alert(Alert{
		Key: r.Canary, Seq: r.Seq, From: r.Seq, To: r.Seq,
		Statistic: "max-difference", Value: stat, Threshold: d.cfg.CanaryTolerance,
		Message:  fmt.Sprintf("canary %q answered differently: %s", r.Canary, joinMax(diffs, 4)),
		Evidence: Evidence{RequestIDs: []string{r.ID}, Details: map[string]any{"canary": r.Canary, "differences": diffs}},
	})
}

func joinMax(s []string, n int) string {
	out := ""
	for i, v := range s {
		if i == n {
			out += fmt.Sprintf("; and %d more", len(s)-n)
			break
		}
		if i > 0 {
			out += "; "
		}
		out += v
	}
	return out
}

// digestHex is a short SHA-256 of s, to name content without quoting it.
func digestHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
