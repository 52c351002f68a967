package proxy

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aigis-dev/aigis/internal/monitor"
)

// Metrics are the proxy's Prometheus metrics, on their own registry:
// names start aigis_monitor_, use base units (seconds, bytes), counters
// end in _total, and every label has a bounded set of values (protocol,
// status class, detector, kind, result).
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	upstream  *prometheus.CounterVec
	records   *prometheus.CounterVec
	queueLen  prometheus.Gauge
	blocked   prometheus.Counter
	alerts    *prometheus.CounterVec
	stat      *prometheus.GaugeVec
	threshold *prometheus.GaugeVec
	pvalue    *prometheus.GaugeVec
	canaries  *prometheus.CounterVec
	integrity *prometheus.CounterVec
	intOK     prometheus.Gauge
	tokens    *prometheus.CounterVec
	own       prometheus.Histogram

	// Pre-bound series of the hot path, per protocol and status class:
	// no lock, no map.
	reqs [len(protocols)][len(classes)]prometheus.Counter
	obs  [len(protocols)]prometheus.Observer
}

var (
	protocols = [...]string{"openai", "kserve", "json", "other"}
	classes   = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}
)

func protoIndex(p string) int {
	switch p {
	case "openai":
		return 0
	case "kserve":
		return 1
	case "json":
		return 2
	}
	return 3
}

func classIndex(code int) int {
	if code < 100 || code > 599 {
		return 5
	}
	return code/100 - 1
}

// NewMetrics registers the metrics (and the Go runtime's and the
// process's) on a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigis_monitor_requests_total",
		Help: "Requests proxied, by protocol (openai, kserve, json, other) and status class."}, []string{"protocol", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "aigis_monitor_response_header_duration_seconds",
		Help:    "Time from a request's arrival to the upstream's response headers, by protocol.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"protocol"})
	m.upstream = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigis_monitor_upstream_errors_total",
		Help: "Requests the upstream failed before its headers (502 unreachable, 504 timeout, 499 client gone)."}, []string{"code"})
	m.records = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigis_monitor_records_total",
		Help: "Exchanges recorded off the hot path, by result: observed, baseline (learning), unparsed, dropped (queue full)."}, []string{"result"})
	m.queueLen = prometheus.NewGauge(prometheus.GaugeOpts{Name: "aigis_monitor_queue_length", Help: "Exchanges waiting for the monitor."})
	m.blocked = prometheus.NewCounter(prometheus.CounterOpts{Name: "aigis_monitor_blocked_requests_total", Help: "Requests answered 503 by the blocking policy."})
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigis_monitor_alerts_total",
		Help: "Alerts raised (after de-duplication), by detector and kind."}, []string{"detector", "kind"})
	m.stat = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "aigis_monitor_detector_statistic",
		Help: "A detector's latest statistic (p-value tests: -log10 p)."}, []string{"detector"})
	m.threshold = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "aigis_monitor_detector_threshold",
		Help: "The threshold of a detector's latest statistic."}, []string{"detector"})
	m.pvalue = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "aigis_monitor_detector_p_value",
		Help: "A detector's latest p-value (tests that have one)."}, []string{"detector"})
	m.canaries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigis_monitor_canary_requests_total",
		Help: "Canary requests sent, by result (answered, failed)."}, []string{"result"})
	m.integrity = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigis_monitor_integrity_checks_total",
		Help: "Re-verifications of the served model's files against their OMS signature, by result (verified, failed, error)."}, []string{"result"})
	m.intOK = prometheus.NewGauge(prometheus.GaugeOpts{Name: "aigis_monitor_integrity_verified",
		Help: "1 when the last re-verification of the model's files passed, 0 when it failed."})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigis_monitor_llm_tokens_total",
		Help: "Tokens the upstream reported in usage, by direction (input, output)."}, []string{"direction"})
	m.own = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "aigis_monitor_proxy_overhead_seconds",
		Help:    "Time a request spends in the proxy itself: its whole time less the time waiting on the upstream.",
		Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1}})
	for _, c := range []prometheus.Collector{m.own, m.requests, m.duration, m.upstream, m.records, m.queueLen, m.blocked, m.alerts,
		m.stat, m.threshold, m.pvalue, m.canaries, m.integrity, m.intOK, m.tokens,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	for i, p := range protocols {
		m.obs[i] = m.duration.WithLabelValues(p)
		for j, c := range classes {
			m.reqs[i][j] = m.requests.WithLabelValues(p, c)
		}
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is the registry, for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// response counts a response on the hot path.
func (m *Metrics) response(proto string, code int) {
	m.reqs[protoIndex(proto)][classIndex(code)].Inc()
}

func (m *Metrics) observeDuration(proto string, seconds float64) {
	m.obs[protoIndex(proto)].Observe(seconds)
}

func (m *Metrics) overhead(d time.Duration) { m.own.Observe(d.Seconds()) }

func (m *Metrics) upstreamError(code int) {
	m.upstream.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (m *Metrics) record(result string)  { m.records.WithLabelValues(result).Inc() }
func (m *Metrics) queue(n int)           { m.queueLen.Set(float64(n)) }
func (m *Metrics) blockedRequest()       { m.blocked.Inc() }
func (m *Metrics) alert(a monitor.Alert) { m.alerts.WithLabelValues(a.Detector, string(a.Kind)).Inc() }

// CanaryResult counts a canary request.
func (m *Metrics) CanaryResult(ok bool) {
	if ok {
		m.canaries.WithLabelValues("answered").Inc()
	} else {
		m.canaries.WithLabelValues("failed").Inc()
	}
}

// IntegrityResult records a re-verification: "verified", "failed" or
// "error".
func (m *Metrics) IntegrityResult(result string) {
	m.integrity.WithLabelValues(result).Inc()
	switch result {
	case "verified":
		m.intOK.Set(1)
	case "failed":
		m.intOK.Set(0)
	}
}

func (m *Metrics) tokensUsed(in, out int64) {
	if in > 0 {
		m.tokens.WithLabelValues("input").Add(float64(in))
	}
	if out > 0 {
		m.tokens.WithLabelValues("output").Add(float64(out))
	}
}

// detectors creates the detector series with their label values, so
// they show from the start.
func (m *Metrics) detectors(mon *monitor.Monitor) {
	for _, d := range mon.Detectors() {
		m.alerts.WithLabelValues(d.Name(), string(d.Kind()))
		// NaN until the detector's first evaluation.
		m.stat.WithLabelValues(d.Name()).Set(math.NaN())
		m.threshold.WithLabelValues(d.Name()).Set(math.NaN())
		m.pvalue.WithLabelValues(d.Name()).Set(math.NaN())
	}
}

func (m *Metrics) point(detector string, p monitor.Point) {
	m.stat.WithLabelValues(detector).Set(p.Stat)
	m.threshold.WithLabelValues(detector).Set(p.Threshold)
	if p.P == p.P { // not NaN
		m.pvalue.WithLabelValues(detector).Set(p.P)
	}
}
