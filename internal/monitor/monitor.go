// Package monitor watches a model's traffic for backdoor triggers, model
// swaps, tampering and drift. Every detector learns from a baseline
// window of the same model's traffic and then sees each request's
// features once, in constant time and bounded memory (counts, sliding
// windows and reservoirs, never an unbounded log), so the same code runs
// behind the proxy (aigis monitor proxy) and over a logged file (aigis
// monitor analyze).
//
// Every alert carries its statistic, threshold and p-value (or score),
// and evidence: sample request ids and the counts behind the statistic.
// An alert never carries request or response content unless the
// operator allows it (Config.AllowContent). A detector never reads
// ground truth a log may carry (the sample's "true" and "triggered").
//
// Thresholds: window tests use Evidently's defaults (p < 0.05 up to 1,000
// rows per window; above, Jensen-Shannon and normed Wasserstein distance
// 0.1, PSI 0.1), with the p-value threshold divided among the tests of a
// window and the windows of a horizon (Bonferroni): Alpha is the chance
// of one false alarm, from any detector, over Horizon windows of clean
// traffic.
package monitor

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Config sets the windows and thresholds. The zero value of each field
// takes the default in DefaultConfig.
type Config struct {
	// Window is the number of requests in a window of the drift tests.
	Window int
	// TriggerWindow is the sliding window of the trigger detector.
	TriggerWindow int
	// Alpha is the family-wise false-alarm level over Horizon windows.
	Alpha float64
	// Horizon is the number of windows Alpha covers.
	Horizon int
	// LargeWindow: windows with more requests are judged by distance
	// (JS, Wasserstein, PSI) instead of a p-value, as Evidently does.
	LargeWindow int
	PSI         float64 // PSI threshold on large windows
	JS          float64 // Jensen-Shannon distance threshold on large windows
	Wasserstein float64 // normed Wasserstein threshold on large windows
	// TriggerP is the p-value below which an input counts as far or
	// inconsistent for the trigger detector.
	TriggerP float64
	// TriggerConfQuantile: a prediction counts as confident at or above
	// this quantile of the baseline's confidences.
	TriggerConfQuantile float64
	// MinSupport is the fewest requests behind a trigger or token alert.
	MinSupport int
	// CanaryTolerance is the largest difference allowed between a canary's
	// confidences or probabilities and the expected ones.
	CanaryTolerance float64
	// Canaries are the expected outputs of named canary inputs. A canary
	// without an entry is pinned to its first answer.
	Canaries map[string]Expect
	// AllowContent lets alerts quote response tokens (otherwise they are
	// named by a digest).
	AllowContent bool
	// PlotStep is how often (in requests) sliding detectors add a point
	// to the series.
	PlotStep int
}

// Expect is the expected answer to a canary.
type Expect struct {
	Label      string    `json:"label,omitempty" yaml:"label,omitempty"`
	Confidence *float64  `json:"confidence,omitempty" yaml:"confidence,omitempty"`
	Probs      []float64 `json:"probs,omitempty" yaml:"probs,omitempty"`
	Model      string    `json:"model,omitempty" yaml:"model,omitempty"`
	// TextDigest is the SHA-256 of the expected generated text (LLM
	// canaries are asked at temperature 0).
	TextDigest string `json:"text_sha256,omitempty" yaml:"text_sha256,omitempty"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Window:              200,
		TriggerWindow:       200,
		Alpha:               0.05,
		Horizon:             100,
		LargeWindow:         1000,
		PSI:                 0.1,
		JS:                  0.1,
		Wasserstein:         0.1,
		TriggerP:            0.005,
		TriggerConfQuantile: 0.1,
		MinSupport:          5,
		CanaryTolerance:     1e-3,
		PlotStep:            10,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.TriggerWindow <= 0 {
		c.TriggerWindow = d.TriggerWindow
	}
	if c.Alpha <= 0 {
		c.Alpha = d.Alpha
	}
	if c.Horizon <= 0 {
		c.Horizon = d.Horizon
	}
	if c.LargeWindow <= 0 {
		c.LargeWindow = d.LargeWindow
	}
	if c.PSI <= 0 {
		c.PSI = d.PSI
	}
	if c.JS <= 0 {
		c.JS = d.JS
	}
	if c.Wasserstein <= 0 {
		c.Wasserstein = d.Wasserstein
	}
	if c.TriggerP <= 0 {
		c.TriggerP = d.TriggerP
	}
	if c.TriggerConfQuantile <= 0 {
		c.TriggerConfQuantile = d.TriggerConfQuantile
	}
	if c.MinSupport <= 0 {
		c.MinSupport = d.MinSupport
	}
	if c.CanaryTolerance <= 0 {
		c.CanaryTolerance = d.CanaryTolerance
	}
	if c.PlotStep <= 0 {
		c.PlotStep = d.PlotStep
	}
	return c
}

// Kind groups detectors by what they find.
type Kind string

const (
	KindDrift     Kind = "drift"
	KindTrigger   Kind = "trigger"
	KindSwap      Kind = "swap"
	KindCanary    Kind = "canary"
	KindIntegrity Kind = "integrity"
	KindLLM       Kind = "llm"
)

// Point is one evaluation of a detector: what the plots draw.
type Point struct {
	Seq       int64   `json:"seq"`
	Stat      float64 `json:"stat"`
	Threshold float64 `json:"threshold"`
	P         float64 `json:"p_value"` // NaN when the statistic has none
	Fired     bool    `json:"fired,omitempty"`
}

// Alert is one finding of a detector, with its evidence.
type Alert struct {
	Detector  string    `json:"detector"`
	Kind      Kind      `json:"kind"`
	Key       string    `json:"key,omitempty"` // what within the detector (a class, a token digest, a field)
	Seq       int64     `json:"seq"`           // the request at which it fired
	Time      time.Time `json:"time,omitzero"`
	From      int64     `json:"window_start"` // the window the statistic covers
	To        int64     `json:"window_end"`
	Statistic string    `json:"statistic"`
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	P         *float64  `json:"p_value,omitempty"`
	Message   string    `json:"message"`
	Evidence  Evidence  `json:"evidence"`
}

// Evidence backs an alert without quoting content.
type Evidence struct {
	RequestIDs []string       `json:"request_ids,omitempty"`
	Details    map[string]any `json:"details,omitempty"`
}

// Detector is one detector, fitted to the baseline by its constructor.
type Detector interface {
	Name() string
	Kind() Kind
	// Observe sees one record; it may add points and raise alerts.
	Observe(r *Record, out *Out)
	// Describe says what the detector learnt and its thresholds.
	Describe() string
}

// flusher is a windowed detector that can evaluate a partial last window.
type flusher interface {
	Flush(last int64, out *Out)
}

// Out collects what detectors report while observing a record.
type Out struct {
	m   *Monitor
	det Detector
}

// Point adds a point to the detector's series.
func (o *Out) Point(p Point) {
	if o.m.OnPoint != nil {
		o.m.OnPoint(o.det.Name(), p)
	}
}

// Alert raises an alert; the monitor de-duplicates it.
func (o *Out) Alert(a Alert) {
	a.Detector, a.Kind = o.det.Name(), o.det.Kind()
	o.m.raise(a)
}

// Monitor runs a set of detectors over a stream of records. Observe is
// not safe for concurrent use: the proxy feeds it from one goroutine.
type Monitor struct {
	cfg       Config
	detectors []Detector
	skipped   []string
	seq       int64
	last      time.Time

	// OnPoint receives every point (nil: points are dropped).
	OnPoint func(detector string, p Point)
	// OnAlert receives every alert that passes de-duplication.
	OnAlert func(Alert)

	mu         sync.Mutex
	open       map[string]*openAlert // de-duplication, by detector and key
	suppressed int64
}

type openAlert struct {
	kind      Kind
	last      int64 // last request at which it fired
	lastTime  time.Time
	count     int
	permanent bool // open until cleared (integrity)
}

// New fits every detector that the baseline supports. A detector whose
// fields the baseline lacks (no inputs, no confidences, no text) is
// skipped, and Skipped says why.
func New(baseline []*Record, cfg Config) (*Monitor, error) {
	cfg = cfg.withDefaults()
	if len(baseline) < 20 {
		return nil, fmt.Errorf("the baseline has %d requests; at least 20 are needed (300 or more are better)", len(baseline))
	}
	m := &Monitor{cfg: cfg, open: map[string]*openAlert{}}
	b := newBaselineView(baseline)
	// The false-alarm budget Alpha: half to the window tests (shared among
	// them), a quarter each to the trigger and the token detectors.
	type ctor func(*baselineView, Config, float64) (Detector, string)
	windowed := []ctor{newLabelDrift, newConfidenceDrift, newEntropyDrift, newInputDrift, newSwapDetector,
		newLengthDrift, newRefusalDrift, newLanguageDrift}
	var probes []Detector
	for _, c := range windowed {
		if d, _ := c(b, cfg, 1); d != nil {
			probes = append(probes, d)
		}
	}
	tests := max(len(probes), 1)
	alpha := cfg.Alpha / 2 / float64(cfg.Horizon*tests)
	for _, c := range windowed {
		d, why := c(b, cfg, alpha)
		m.add(d, why)
	}
	m.add(newTriggerDetector(b, cfg))
	m.add(newFingerprintDetector(b, cfg))
	m.add(newCanaryDetector(b, cfg))
	m.add(newTokenDetector(b, cfg))
	return m, nil
}

func (m *Monitor) add(d Detector, why string) {
	if d != nil {
		m.detectors = append(m.detectors, d)
	} else if why != "" {
		m.skipped = append(m.skipped, why)
	}
}

// Detectors lists the active detectors.
func (m *Monitor) Detectors() []Detector { return m.detectors }

// Skipped says which detectors the baseline could not support, and why.
func (m *Monitor) Skipped() []string { return m.skipped }

// Config returns the configuration in force, defaults filled in.
func (m *Monitor) Config() Config { return m.cfg }

// Observe feeds one record to every detector.
func (m *Monitor) Observe(r *Record) {
	m.seq++
	r.Seq = m.seq
	if r.ID == "" {
		r.ID = "#" + strconv.FormatInt(r.Seq, 10)
	}
	if !r.Time.IsZero() {
		m.last = r.Time
	}
	for _, d := range m.detectors {
		d.Observe(r, &Out{m: m, det: d})
	}
}

// Flush evaluates the partial last window of the windowed detectors (the
// end of a log); windows shorter than a quarter of Window are not judged.
func (m *Monitor) Flush() {
	for _, d := range m.detectors {
		if f, ok := d.(flusher); ok {
			f.Flush(m.seq, &Out{m: m, det: d})
		}
	}
}

// Seen is the number of records observed.
func (m *Monitor) Seen() int64 { return m.seq }

// Raise raises an alert from outside the detectors (the integrity watch).
// Permanent alerts stay open until Clear.
func (m *Monitor) Raise(a Alert, permanent bool) {
	m.raiseAt(a, permanent)
}

// Clear closes an open alert (a passing integrity check, a canary that
// answers right again).
func (m *Monitor) Clear(detector, key string) {
	m.mu.Lock()
	delete(m.open, detector+"\x00"+key)
	m.mu.Unlock()
}

// OpenKinds reports the kinds with an alert open now: fired within the
// last two windows, or permanent and not cleared.
func (m *Monitor) OpenKinds() map[Kind]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[Kind]bool{}
	for _, o := range m.open {
		if o.permanent || m.seq-o.last <= int64(2*m.cfg.Window) {
			out[o.kind] = true
		}
	}
	return out
}

// Suppressed counts alerts dropped as repeats of an open one.
func (m *Monitor) Suppressed() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.suppressed
}

func (m *Monitor) raise(a Alert) { m.raiseAt(a, false) }

// raiseAt de-duplicates: an alert whose detector and key fired within
// the last two windows (or is permanent and open) only refreshes it.
func (m *Monitor) raiseAt(a Alert, permanent bool) {
	if a.Time.IsZero() {
		a.Time = m.last
	}
	if a.Seq == 0 {
		a.Seq = m.seq
	}
	k := a.Detector + "\x00" + a.Key
	m.mu.Lock()
	o := m.open[k]
	cooldown := int64(2 * m.cfg.Window)
	if o != nil && (o.permanent || a.Seq-o.last <= cooldown) {
		o.last, o.count = a.Seq, o.count+1
		m.suppressed++
		m.mu.Unlock()
		return
	}
	m.open[k] = &openAlert{kind: a.Kind, last: a.Seq, lastTime: a.Time, count: 1, permanent: permanent}
	// Bound the table: forget the oldest closed entries.
	if len(m.open) > 4096 {
		for kk, oo := range m.open {
			if !oo.permanent && m.seq-oo.last > cooldown {
				delete(m.open, kk)
			}
		}
	}
	m.mu.Unlock()
	if m.OnAlert != nil {
		m.OnAlert(a)
	}
}

// pval wraps a p-value for an alert (nil when NaN).
func pval(p float64) *float64 {
	if math.IsNaN(p) {
		return nil
	}
	return &p
}

// sampleIDs keeps the first n ids.
func sampleIDs(ids []string, n int) []string {
	if len(ids) > n {
		ids = ids[:n]
	}
	return slices.Clone(ids)
}
