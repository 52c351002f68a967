// Package proxy is aigis monitor proxy: a reverse proxy in front of an
// inference server (OpenAI-compatible chat and completions, streaming
// included; KServe v2 / Open Inference Protocol; any JSON API through
// configured paths) that records the features of every exchange off the
// hot path and feeds them to the monitor's detectors.
//
// The hot path only tees the bodies into a bounded buffer as they stream
// through and hands the exchange to a queue without waiting: parsing,
// detection, logging, metrics of the detectors and spans all happen on
// the monitor's goroutine. When the queue is full the exchange is
// dropped (and counted), never waited for. The proxy never changes a
// request or a response, except that a blocking policy (Config.Block)
// answers 503 while an alert of a blocked kind is open. An upstream that
// fails is answered as net/http's reverse proxy does (502, or the
// stream cut); a slow one delays only its own requests.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigis-dev/aigis/internal/monitor"
)

// Config is the proxy's configuration.
type Config struct {
	Upstream *url.URL
	// Protocol: "auto" (by path: /v1/chat/completions, /v1/completions,
	// /v2/models/*/infer, else generic JSON when paths are set), "openai",
	// "kserve" or "json".
	Protocol string
	Paths    JSONPaths
	// MaxCapture bounds the bytes of each body kept for parsing; a longer
	// body streams through untouched and its record has no features.
	MaxCapture int
	// QueueSize bounds the exchanges waiting for the monitor, and
	// QueueBytes the body bytes they hold (default 256 MiB).
	QueueSize  int
	QueueBytes int64
	// FingerprintHeaders are the response headers whose values form the
	// header fingerprint (default: Server, X-Model-Id, X-Model-Version,
	// OpenAI-Model).
	FingerprintHeaders []string
	// Block lists the alert kinds that make the proxy answer 503 while
	// an alert of that kind is open. Empty: never block.
	Block []monitor.Kind
	// Baseline, when set, fits the monitor at start; otherwise the first
	// Learn recorded requests are the baseline.
	Baseline []*monitor.Record
	Learn    int
	Monitor  monitor.Config
	// Log, when set, receives every record as a JSON line (analyze reads
	// it). LogContent also writes generated text.
	Log        io.Writer
	LogContent bool
	// UpstreamTimeout bounds the wait for the upstream's response headers
	// (0: none, as the upstream would).
	UpstreamTimeout time.Duration
	Metrics         *Metrics
	Tracer          *Tracer
	Logger          *slog.Logger
	// OnAlert receives every alert (after de-duplication), on the
	// monitor's goroutine; sinks (webhook) must not block it.
	OnAlert func(monitor.Alert)
}

// Proxy is the reverse proxy and its monitor.
type Proxy struct {
	cfg     Config
	rp      *httputil.ReverseProxy
	queue   chan *exchange
	blocked atomic.Pointer[string] // non-nil: the reason requests are blocked
	block   map[monitor.Kind]bool
	fpHdr   []string
	log     *slog.Logger
	metrics *Metrics

	// Owned by the monitor goroutine.
	mon       *monitor.Monitor
	learning  []*monitor.Record
	logw      *recordLog
	done      chan struct{}
	ctl       chan func()
	monMu     sync.Mutex // guards mon for Monitor()
	intMu     sync.Mutex
	integrity *monitor.Alert // the open integrity alert
	dropped   atomic.Int64
	handled   atomic.Int64
	queued    atomic.Int64 // body bytes held by queued exchanges
}

// New builds a proxy; Run starts its monitor goroutine.
func New(cfg Config) (*Proxy, error) {
	if cfg.Upstream == nil || cfg.Upstream.Scheme == "" || cfg.Upstream.Host == "" {
		return nil, errors.New("the upstream needs a scheme and a host, such as http://127.0.0.1:8000")
	}
	switch cfg.Protocol {
	case "", "auto", "openai", "kserve", "json":
	default:
		return nil, fmt.Errorf("unknown protocol %q (want auto, openai, kserve or json)", cfg.Protocol)
	}
	if cfg.Protocol == "" {
		cfg.Protocol = "auto"
	}
	if cfg.Protocol == "json" && cfg.Paths.empty() {
		return nil, errors.New("the json protocol needs at least one of the input, label and scores paths")
	}
	if cfg.MaxCapture <= 0 {
		cfg.MaxCapture = 1 << 20
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8192
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = 256 << 20
	}
	if cfg.Learn <= 0 {
		cfg.Learn = 300
	}
	if len(cfg.FingerprintHeaders) == 0 {
		cfg.FingerprintHeaders = []string{"Server", "X-Model-Id", "X-Model-Version", "OpenAI-Model"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := &Proxy{cfg: cfg, queue: make(chan *exchange, cfg.QueueSize), block: map[monitor.Kind]bool{},
		log: cfg.Logger, metrics: cfg.Metrics, done: make(chan struct{}), ctl: make(chan func(), 16)}
	for _, k := range cfg.Block {
		p.block[k] = true
	}
	for _, h := range cfg.FingerprintHeaders {
		p.fpHdr = append(p.fpHdr, http.CanonicalHeaderKey(h))
	}
	if cfg.Log != nil {
		p.logw = &recordLog{w: cfg.Log, content: cfg.LogContent}
	}
	if len(cfg.Baseline) > 0 {
		m, err := monitor.New(cfg.Baseline, cfg.Monitor)
		if err != nil {
			return nil, err
		}
		p.attach(m)
	}
	tr := &http.Transport{
		Proxy:                 nil, // the upstream is named; no environment proxy in between
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // pass encoded bodies through as they are
		ResponseHeaderTimeout: cfg.UpstreamTimeout,
		ExpectContinueTimeout: time.Second,
	}
	up := cfg.Upstream
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:      timedTransport{tr},
		BufferPool:     bufferPool{},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return p, nil
}

// Monitor returns the monitor (nil while the baseline is being learnt).
func (p *Proxy) Monitor() *monitor.Monitor {
	p.monMu.Lock()
	defer p.monMu.Unlock()
	return p.mon
}

// attach starts using m and hooks its alerts and points.
func (p *Proxy) attach(m *monitor.Monitor) {
	m.OnAlert = p.emit
	if p.metrics != nil {
		m.OnPoint = p.metrics.point
		p.metrics.detectors(m)
	}
	p.monMu.Lock()
	p.mon = m
	p.monMu.Unlock()
}

// emit sends an alert to the log, the metrics and OnAlert.
func (p *Proxy) emit(a monitor.Alert) {
	p.log.Warn("alert", "detector", a.Detector, "kind", a.Kind, "key", a.Key, "request", a.Seq,
		"statistic", a.Statistic, "value", a.Value, "threshold", a.Threshold, "p_value", a.P,
		"request_ids", a.Evidence.RequestIDs, "message", a.Message)
	if p.metrics != nil {
		p.metrics.alert(a)
	}
	if p.cfg.OnAlert != nil {
		p.cfg.OnAlert(a)
	}
}

// SetIntegrity records the served model's integrity: a failing check's
// alert, or nil when the files verify. A change to failing raises the
// alert; it stays open (and blocks, if integrity is a blocked kind)
// until a check passes. Safe for concurrent use.
func (p *Proxy) SetIntegrity(a *monitor.Alert) {
	p.intMu.Lock()
	was := p.integrity
	p.integrity = a
	p.intMu.Unlock()
	switch {
	case a != nil && was == nil:
		if a.Time.IsZero() {
			a.Time = time.Now()
		}
		p.emit(*a)
	case a == nil && was != nil:
		p.log.Info("the model's files verify again; integrity alert closed")
	}
	p.refreshPolicy()
}

// ServeHTTP proxies one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if reason := p.blocked.Load(); reason != nil {
		p.refuse(w, r, *reason)
		return
	}
	proto := p.protocolOf(r)
	ex := &exchange{start: time.Now(), proto: proto, method: r.Method, path: r.URL.Path}
	if proto != "" {
		ex.reqID = r.Header.Get("X-Request-Id")
		ex.traceparent = r.Header.Get("Traceparent")
		ex.modelPath = modelFromPath(r.URL.Path)
		if r.Body != nil && r.Body != http.NoBody {
			ex.req = newCapture(r.Body, p.cfg.MaxCapture, nil)
			r.Body = ex.req
		}
	}
	ctx := context.WithValue(r.Context(), exchangeKey{}, ex)
	p.rp.ServeHTTP(w, r.WithContext(ctx))
	if p.metrics != nil {
		// The proxy's own time: the whole request less the time spent
		// waiting on the upstream (its round trip and its body reads).
		p.metrics.overhead(time.Since(ex.start) - ex.upstream)
	}
}

// timedTransport adds the upstream's round-trip time to the exchange.
type timedTransport struct{ rt http.RoundTripper }

func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.rt.RoundTrip(r)
	if ex := exchangeOf(r); ex != nil {
		ex.upstream += time.Since(start)
	}
	return res, err
}

// timedBody adds the time spent reading the upstream's body to the
// exchange (bodies not captured).
type timedBody struct {
	rc io.ReadCloser
	ex *exchange
}

func (b timedBody) Read(p []byte) (int, error) {
	start := time.Now()
	n, err := b.rc.Read(p)
	b.ex.upstream += time.Since(start)
	return n, err
}

func (b timedBody) Close() error { return b.rc.Close() }

type exchangeKey struct{}

func exchangeOf(r *http.Request) *exchange {
	ex, _ := r.Context().Value(exchangeKey{}).(*exchange)
	return ex
}

func (p *Proxy) modifyResponse(res *http.Response) error {
	ex := exchangeOf(res.Request)
	if ex == nil {
		return nil
	}
	ex.status = res.StatusCode
	ex.headerAt = time.Now()
	if p.metrics != nil {
		p.metrics.response(ex.proto, res.StatusCode)
		p.metrics.observeDuration(ex.proto, ex.headerAt.Sub(ex.start).Seconds())
	}
	if ex.proto == "" {
		res.Body = timedBody{rc: res.Body, ex: ex}
		return nil
	}
	ex.contentType = res.Header.Get("Content-Type")
	ex.contentEncoding = res.Header.Get("Content-Encoding")
	if id := res.Header.Get("X-Request-Id"); id != "" && ex.reqID == "" {
		ex.reqID = id
	}
	ex.headers = fingerprintHeaders(res.Header, p.fpHdr)
	ex.resp = newCapture(res.Body, p.cfg.MaxCapture, func(c *capture) { p.finish(ex) })
	ex.resp.ex = ex
	res.Body = ex.resp
	return nil
}

// errorHandler answers as net/http's reverse proxy does: 502 when the
// upstream cannot be reached or fails before its headers (504 when the
// header timeout ran out).
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	if errors.Is(err, context.Canceled) {
		// The client went away: nothing to answer.
		status = 499
	} else {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			status = http.StatusGatewayTimeout
		}
		w.WriteHeader(status)
		p.log.Debug("upstream error", "path", r.URL.Path, "error", err)
	}
	if p.metrics != nil {
		p.metrics.upstreamError(status)
	}
	if ex := exchangeOf(r); ex != nil && ex.proto != "" {
		ex.status, ex.failed = status, true
		p.finish(ex)
	}
}

// refuse answers a request the policy blocks: 503 with a JSON error in
// the OpenAI shape, which KServe and generic clients read as an error.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, reason string) {
	if r.Body != nil {
		r.Body.Close()
	}
	if p.metrics != nil {
		p.metrics.blockedRequest()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Aigis-Blocked", "true")
	w.Header().Set("Retry-After", "60")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `{"error":{"message":%s,"type":"aigis_monitor_policy","code":"blocked"}}`+"\n", strconv.Quote("blocked by aigis monitor policy: "+reason))
}

// finish hands a completed exchange to the monitor, never waiting.
func (p *Proxy) finish(ex *exchange) {
	if !ex.finished.CompareAndSwap(false, true) {
		return
	}
	ex.end = time.Now()
	if ex.req != nil {
		ex.reqBody, ex.reqTrunc = ex.req.take()
	}
	if ex.resp != nil {
		ex.respBody, ex.respTrunc = ex.resp.take()
		ex.broken = ex.resp.broken()
	}
	ex.size = int64(bufLen(ex.reqBody) + bufLen(ex.respBody))
	if p.queued.Add(ex.size) > p.cfg.QueueBytes {
		p.queued.Add(-ex.size)
		p.drop(ex)
		return
	}
	select {
	case p.queue <- ex:
	default:
		p.queued.Add(-ex.size)
		p.drop(ex)
	}
}

func (p *Proxy) drop(ex *exchange) {
	p.dropped.Add(1)
	if p.metrics != nil {
		p.metrics.record("dropped")
	}
	ex.release()
}

func bufLen(b *bytes.Buffer) int {
	if b == nil {
		return 0
	}
	return b.Len()
}

// Run consumes exchanges until ctx ends, then drains the queue.
func (p *Proxy) Run(ctx context.Context) {
	defer close(p.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case ex := <-p.queue:
			p.handle(ex)
		case fn := <-p.ctl:
			fn()
		case <-tick.C:
			p.housekeeping()
		case <-ctx.Done():
			for {
				select {
				case ex := <-p.queue:
					p.handle(ex)
				default:
					p.housekeeping()
					return
				}
			}
		}
	}
}

// Do runs fn on the monitor goroutine (nil monitor while learning) and
// waits for it, or for ctx.
func (p *Proxy) Do(ctx context.Context, fn func(*monitor.Monitor)) error {
	done := make(chan struct{})
	f := func() { fn(p.mon); close(done) }
	select {
	case p.ctl <- f:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return errors.New("the monitor has stopped")
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return errors.New("the monitor has stopped")
	}
}

// Done is closed when Run has returned.
func (p *Proxy) Done() <-chan struct{} { return p.done }

// Submit hands a record made outside the proxy (a canary answer) to the
// monitor goroutine, never waiting.
func (p *Proxy) Submit(rec *monitor.Record) bool {
	select {
	case p.queue <- &exchange{record: rec}:
		return true
	default:
		p.dropped.Add(1)
		return false
	}
}

func (p *Proxy) handle(ex *exchange) {
	defer p.handled.Add(1)
	p.queued.Add(-ex.size)
	rec := ex.record
	if rec == nil {
		var ok bool
		rec, ok = p.parse(ex)
		ex.release()
		if !ok {
			if p.metrics != nil {
				p.metrics.record("unparsed")
			}
			return
		}
		rec.Canary = ex.canary
	}
	if p.metrics != nil && ex.gen != nil {
		p.metrics.tokensUsed(ex.gen.inTok, ex.gen.outTok)
	}
	if p.cfg.Tracer != nil && ex.proto != "" {
		p.cfg.Tracer.span(ex, rec)
	}
	if p.logw != nil {
		p.logw.write(rec)
	}
	if p.mon == nil {
		if rec.Canary == "" && rec.Status < 400 && !rec.Incomplete {
			p.learning = append(p.learning, rec)
		}
		if p.metrics != nil {
			p.metrics.record("baseline")
		}
		if len(p.learning) >= p.cfg.Learn {
			m, err := monitor.New(p.learning, p.cfg.Monitor)
			if err != nil {
				p.log.Error("cannot fit the monitor on the learnt baseline", "error", err)
				p.learning = p.learning[:0]
				return
			}
			p.log.Info("baseline learnt; monitoring", "requests", len(p.learning), "detectors", len(m.Detectors()))
			for _, s := range m.Skipped() {
				p.log.Info("detector not run", "why", s)
			}
			p.learning = nil
			p.attach(m)
		}
		return
	}
	p.mon.Observe(rec)
	if p.metrics != nil {
		p.metrics.record("observed")
	}
}

// housekeeping refreshes the blocking policy and flushes the log.
func (p *Proxy) housekeeping() {
	if p.logw != nil {
		p.logw.flush()
	}
	if p.metrics != nil {
		p.metrics.queue(len(p.queue))
	}
	p.refreshPolicy()
}

// refreshPolicy blocks while an alert of a blocked kind is open.
func (p *Proxy) refreshPolicy() {
	if len(p.block) == 0 {
		return
	}
	var kinds []string
	p.intMu.Lock()
	if p.integrity != nil && p.block[monitor.KindIntegrity] {
		kinds = append(kinds, string(monitor.KindIntegrity))
	}
	p.intMu.Unlock()
	if m := p.Monitor(); m != nil {
		open := m.OpenKinds()
		for _, k := range []monitor.Kind{monitor.KindTrigger, monitor.KindSwap, monitor.KindCanary, monitor.KindDrift, monitor.KindLLM} {
			if open[k] && p.block[k] {
				kinds = append(kinds, string(k))
			}
		}
	}
	if len(kinds) == 0 {
		p.blocked.Store(nil)
		return
	}
	r := "open " + strings.Join(kinds, ", ") + " alert"
	p.blocked.Store(&r)
}

// RefreshPolicy applies the blocking policy now (the integrity watch
// calls it after raising or clearing an alert).
func (p *Proxy) RefreshPolicy() { p.refreshPolicy() }

// Handled counts exchanges the monitor goroutine has processed.
func (p *Proxy) Handled() int64 { return p.handled.Load() }

// Dropped counts exchanges dropped because the queue was full.
func (p *Proxy) Dropped() int64 { return p.dropped.Load() }

// exchange is one request and response as the hot path saw them.
type exchange struct {
	start, headerAt, end time.Time
	proto                string
	method, path         string
	modelPath            string
	reqID, traceparent   string
	status               int
	failed               bool
	contentType          string
	contentEncoding      string
	headers              []string
	req, resp            *capture
	reqBody, respBody    *bytes.Buffer
	reqTrunc, respTrunc  bool
	broken               bool
	finished             atomic.Bool
	record               *monitor.Record // set for submitted records
	gen                  *genAI
	canary               string
	size                 int64         // body bytes held while queued
	upstream             time.Duration // waiting on the upstream (handler goroutine only)
}

func (ex *exchange) release() {
	putBuf(ex.reqBody)
	putBuf(ex.respBody)
	ex.reqBody, ex.respBody = nil, nil
}

// capture tees a body into a bounded buffer as it streams.
type capture struct {
	rc     io.ReadCloser
	limit  int
	onDone func(*capture)
	ex     *exchange // a response body: its read time is the upstream's

	mu        sync.Mutex
	buf       *bytes.Buffer
	truncated bool
	eof       bool
	err       error
	taken     bool
	closed    atomic.Bool
}

func newCapture(rc io.ReadCloser, limit int, onDone func(*capture)) *capture {
	return &capture{rc: rc, limit: limit, onDone: onDone, buf: getBuf()}
}

func (c *capture) Read(p []byte) (int, error) {
	var start time.Time
	if c.ex != nil {
		start = time.Now()
	}
	n, err := c.rc.Read(p)
	if c.ex != nil {
		c.ex.upstream += time.Since(start)
	}
	c.mu.Lock()
	if !c.taken {
		if n > 0 {
			room := c.limit - c.buf.Len()
			if room > 0 {
				c.buf.Write(p[:min(n, room)])
			}
			if n > room {
				c.truncated = true
			}
		}
		if err == io.EOF {
			c.eof = true
		} else if err != nil && c.err == nil {
			c.err = err
		}
	}
	c.mu.Unlock()
	return n, err
}

func (c *capture) Close() error {
	err := c.rc.Close()
	if c.closed.CompareAndSwap(false, true) && c.onDone != nil {
		c.onDone(c)
	}
	return err
}

// take hands the buffer over; later reads are no longer captured.
func (c *capture) take() (*bytes.Buffer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buf
	c.buf, c.taken = nil, true
	return b, c.truncated
}

// broken reports whether the body ended in an error or before its end.
func (c *capture) broken() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err != nil || !c.eof
}

var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer { b := bufs.Get().(*bytes.Buffer); b.Reset(); return b }

func putBuf(b *bytes.Buffer) {
	if b != nil && b.Cap() <= 4<<20 {
		bufs.Put(b)
	}
}

// bufferPool recycles the reverse proxy's copy buffers.
type bufferPool struct{}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBufs.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBufs.Put(&b) }
