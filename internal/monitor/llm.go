package monitor

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// The LLM detectors watch generated text: its length, refusal rate and
// language per window, and tokens or URLs that appear suddenly in many
// responses (an injected link, a planted brand name, a trigger phrase
// echoed back).

func newLengthDrift(b *baselineView, cfg Config, alpha float64) (Detector, string) {
	var base []float64
	for _, r := range b.recs {
		if r.Text != nil {
			base = append(base, float64(r.Text.Length))
		}
	}
	if len(base) < 20 {
		return nil, ""
	}
	sort.Float64s(base)
	return &numericDrift{name: "llm-length", what: "response length (words)", kind: KindLLM, cfg: cfg, alpha: alpha, base: base,
		w: window{size: cfg.Window}, get: func(r *Record) (float64, bool) {
			if r.Text == nil {
				return 0, false
			}
			return float64(r.Text.Length), true
		}}, ""
}

// catDrift is the chi-square test of a categorical feature of the text.
type catDrift struct {
	name, what string
	cfg        Config
	alpha      float64
	cats       map[string]int
	names      []string
	base, win  []float64
	get        func(*TextFeatures) string
	w          window
}

func newCatDrift(b *baselineView, cfg Config, alpha float64, name, what string, get func(*TextFeatures) string) (Detector, string) {
	d := &catDrift{name: name, what: what, cfg: cfg, alpha: alpha, cats: map[string]int{}, get: get, w: window{size: cfg.Window}}
	n := 0
	for _, r := range b.recs {
		if r.Text == nil {
			continue
		}
		n++
		v := get(r.Text)
		if _, ok := d.cats[v]; !ok {
			d.cats[v] = len(d.names)
			d.names = append(d.names, v)
		}
	}
	if n < 20 {
		return nil, ""
	}
	d.names = append(d.names, "other")
	d.base, d.win = make([]float64, len(d.names)), make([]float64, len(d.names))
	for _, r := range b.recs {
		if r.Text != nil {
			d.base[d.cat(get(r.Text))]++
		}
	}
	return d, ""
}

func (d *catDrift) cat(v string) int {
	if i, ok := d.cats[v]; ok {
		return i
	}
	return len(d.names) - 1
}

func (d *catDrift) Name() string { return d.name }
func (d *catDrift) Kind() Kind   { return KindLLM }
func (d *catDrift) Describe() string {
	return fmt.Sprintf("%s per %d responses: chi-square p < %.2g (JS >= %.2g above %d rows)", d.what, d.cfg.Window, d.alpha, d.cfg.JS, d.cfg.LargeWindow)
}

func (d *catDrift) Observe(r *Record, out *Out) {
	if r.Text == nil || r.Canary != "" {
		return
	}
	d.win[d.cat(d.get(r.Text))]++
	if d.w.add(r) {
		d.eval(r.Seq, out)
	}
}

func (d *catDrift) Flush(last int64, out *Out) {
	if d.w.flushable() {
		d.eval(last, out)
	}
}

func (d *catDrift) eval(end int64, out *Out) {
	defer func() { d.w.reset(); clear(d.win) }()
	chi, df, p := chiSquareTest(d.base, d.win)
	js, ps := jsDistance(d.base, d.win), psi(d.base, d.win)
	nb, nw := sum(d.base), sum(d.win)
	shares := map[string]any{}
	for i, n := range d.names {
		if d.win[i] > 0 || d.base[i] > 0 {
			shares[n] = map[string]float64{"now": round(d.win[i] / nw), "baseline": round(d.base[i] / nb)}
		}
	}
	a := Alert{Seq: end, From: d.w.start, To: end, Evidence: Evidence{RequestIDs: sampleIDs(d.w.ids, 5),
		Details: map[string]any{"chi_square": round(chi), "df": df, "psi": round(ps), "js": round(js), "shares": shares, "requests": d.w.n}}}
	var fired bool
	if large(d.cfg, d.w.n) {
		fired = js >= d.cfg.JS
		out.Point(Point{Seq: end, Stat: js, Threshold: d.cfg.JS, P: p, Fired: fired})
		a.Statistic, a.Value, a.Threshold, a.P = "jensen-shannon", js, d.cfg.JS, pval(p)
	} else {
		fired = p < d.alpha
		out.Point(Point{Seq: end, Stat: logP(p), Threshold: logP(d.alpha), P: p, Fired: fired})
		a.Statistic, a.Value, a.Threshold, a.P = "chi-square", chi, chiSquareCritical(d.alpha, df), pval(p)
	}
	if fired {
		var parts []string
		for i, n := range d.names {
			if math.Abs(d.win[i]/nw-d.base[i]/nb) >= 0.05 {
				parts = append(parts, fmt.Sprintf("%s %.0f%% (baseline %.0f%%)", n, 100*d.win[i]/nw, 100*d.base[i]/nb))
			}
		}
		a.Message = fmt.Sprintf("%s changed over responses %d-%d: %s", d.what, d.w.start, end, strings.Join(parts, ", "))
		out.Alert(a)
	}
}

func newRefusalDrift(b *baselineView, cfg Config, alpha float64) (Detector, string) {
	return newCatDrift(b, cfg, alpha, "llm-refusal", "refusal rate", func(t *TextFeatures) string {
		if t.Refusal {
			return "refusal"
		}
		return "answer"
	})
}

func newLanguageDrift(b *baselineView, cfg Config, alpha float64) (Detector, string) {
	return newCatDrift(b, cfg, alpha, "llm-language", "response language", func(t *TextFeatures) string { return t.Lang })
}

// ---------------------------------------------------------------- tokens

// tokenDetector finds tokens (URLs, domains, words) that appear in many
// responses of a window though the baseline's responses (almost) never
// hold them: a binomial tail against the baseline's document frequency,
// smoothed, at the family-wise level spread over the tokens seen per
// window and the horizon. Memory is bounded: at most maxWindowTokens
// distinct tokens are counted per window.
type tokenDetector struct {
	cfg    Config
	alpha  float64
	baseDF map[string]int
	nBase  int
	w      window
	counts map[string]*tokCount
	full   bool
}

type tokCount struct {
	n   int
	ids []string
}

const (
	maxBaselineTokens = 200_000
	maxWindowTokens   = 50_000
	// tokenTests is the number of tokens per window the alpha is divided by.
	tokenTests = 10_000
)

func newTokenDetector(b *baselineView, cfg Config) (Detector, string) {
	d := &tokenDetector{cfg: cfg, baseDF: map[string]int{}, counts: map[string]*tokCount{}, w: window{size: cfg.Window}}
	for _, r := range b.recs {
		if r.Text == nil {
			continue
		}
		d.nBase++
		for _, t := range r.Text.Tokens {
			k := r.Text.tokenKey(t)
			if _, ok := d.baseDF[k]; ok || len(d.baseDF) < maxBaselineTokens {
				d.baseDF[k]++
			}
		}
	}
	if d.nBase < 20 {
		return nil, ""
	}
	d.alpha = cfg.Alpha / 4 / float64(cfg.Horizon*tokenTests)
	return d, ""
}

func (d *tokenDetector) Name() string { return "llm-tokens" }
func (d *tokenDetector) Kind() Kind   { return KindLLM }
func (d *tokenDetector) Describe() string {
	return fmt.Sprintf("tokens and URLs in more responses per %d than the baseline's %d responses predict: binomial p < %.2g, at least %d responses",
		d.cfg.Window, d.nBase, d.alpha, d.cfg.MinSupport)
}

func (d *tokenDetector) Observe(r *Record, out *Out) {
	if r.Text == nil || r.Canary != "" {
		return
	}
	full := d.w.add(r)
	for _, t := range r.Text.Tokens {
		key := r.Text.tokenKey(t)
		c := d.counts[key]
		if c == nil {
			if len(d.counts) >= maxWindowTokens {
				continue
			}
			c = &tokCount{}
			d.counts[key] = c
		}
		c.n++
		if len(c.ids) < 5 {
			c.ids = append(c.ids, r.ID)
		}
		if c.n < d.cfg.MinSupport {
			continue
		}
		// Smoothed baseline document frequency.
		p0 := (float64(d.baseDF[key]) + 0.5) / (float64(d.nBase) + 1)
		n := d.cfg.Window
		if c.n < int(2*p0*float64(n)) {
			continue
		}
		p := binomialSF(c.n, n, p0)
		if p >= d.alpha {
			continue
		}
		name := "token#" + key
		isURL := false
		if !r.Text.Digested {
			isURL = strings.Contains(t, "://") || strings.HasPrefix(t, "www.") || strings.Contains(t, ".")
			if d.cfg.AllowContent {
				name = t
			}
		}
		out.Point(Point{Seq: r.Seq, Stat: float64(c.n), Threshold: float64(binomialCritical(n, p0, d.alpha)), P: p, Fired: true})
		out.Alert(Alert{
			Key: key, Seq: r.Seq, From: d.w.start, To: r.Seq,
			Statistic: "responses-with-token", Value: float64(c.n), Threshold: float64(binomialCritical(n, p0, d.alpha)), P: pval(p),
			Message: fmt.Sprintf("%s appeared suddenly in %d responses since request %d (in %d of %d baseline responses)",
				map[bool]string{true: "a URL or domain", false: "a token"}[isURL], c.n, d.w.start, d.baseDF[key], d.nBase),
			Evidence: Evidence{RequestIDs: sampleIDs(c.ids, 5), Details: map[string]any{
				"token": name, "url": isURL, "responses": c.n, "baseline_responses": d.baseDF[key], "baseline_size": d.nBase}},
		})
	}
	if full {
		d.w.reset()
		clear(d.counts)
	}
}
