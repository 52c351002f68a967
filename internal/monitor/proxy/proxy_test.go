package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/monitor"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	p      *Proxy
	srv    *httptest.Server
	log    *syncBuffer
	mu     sync.Mutex
	alerts []monitor.Alert
}

func (h *harness) Alerts() []monitor.Alert {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]monitor.Alert(nil), h.alerts...)
}

// startProxy runs a proxy in front of upstream with cfg's other fields.
func startProxy(t *testing.T, upstream string, cfg Config) *harness {
	t.Helper()
	u, _ := url.Parse(upstream)
	h := &harness{log: &syncBuffer{}}
	cfg.Upstream = u
	cfg.Log = h.log
	prev := cfg.OnAlert
	cfg.OnAlert = func(a monitor.Alert) {
		h.mu.Lock()
		h.alerts = append(h.alerts, a)
		h.mu.Unlock()
		if prev != nil {
			prev(a)
		}
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	ctx, cancel := context.WithCancel(context.Background())
	go p.Run(ctx)
	h.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		h.srv.Close()
		cancel()
		<-p.Done()
	})
	return h
}

// wait polls until the monitor has handled n exchanges, then flushes the
// log.
func (h *harness) wait(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.p.Handled() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the monitor handled %d exchanges, want %d", h.p.Handled(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.p.Do(context.Background(), func(*monitor.Monitor) {
		if h.p.logw != nil {
			h.p.logw.flush()
		}
	})
}

func (h *harness) records(t *testing.T) []*monitor.Record {
	t.Helper()
	var out []*monitor.Record
	for _, line := range strings.Split(strings.TrimSpace(h.log.String()), "\n") {
		if line == "" {
			continue
		}
		r, err := monitor.ParseLogLine([]byte(line))
		if err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func post(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func chatBody(prompt string, stream bool) string {
	return fmt.Sprintf(`{"model":"gpt-a","stream":%v,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":%q}]}`, stream, prompt)
}

// The proxy never changes a response: status, body bytes and headers
// arrive as the upstream sent them, compressed or not, streamed or not.
func TestProxy_PassesResponsesThroughUnchanged(t *testing.T) {
	chat := newChatFixture(t)
	ks := newKServeFixture(t)
	hc := startProxy(t, chat.URL, Config{})
	hk := startProxy(t, ks.URL, Config{})
	type req struct {
		name, base, direct, path, body, method string
	}
	cases := []req{
		{"chat", hc.srv.URL, chat.URL, "/v1/chat/completions", chatBody("hello there", false), "POST"},
		{"chat stream", hc.srv.URL, chat.URL, "/v1/chat/completions", chatBody("hello there", true), "POST"},
		{"completion", hc.srv.URL, chat.URL, "/v1/completions", `{"model":"gpt-a","prompt":"once upon"}`, "POST"},
		{"gzip", hc.srv.URL, chat.URL, "/v1/chat/completions", chatBody("gzip", false), "POST"},
		{"malformed JSON answer", hc.srv.URL, chat.URL, "/v1/chat/completions", chatBody("malformed", false), "POST"},
		{"malformed JSON request", hc.srv.URL, chat.URL, "/v1/chat/completions", `{"model": `, "POST"},
		{"not inference", hc.srv.URL, chat.URL, "/health", "", "GET"},
		{"kserve", hk.srv.URL, ks.URL, "/v2/models/digits/infer", kserveBody(1), "POST"},
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	do := func(base string, c req) (*http.Response, []byte) {
		r, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		res, err := client.Do(r)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	for _, c := range cases {
		chat.hits.Store(0) // the same answer both ways
		want, wantBody := do(c.direct, c)
		chat.hits.Store(0)
		got, gotBody := do(c.base, c)
		if got.StatusCode != want.StatusCode || !bytes.Equal(gotBody, wantBody) {
			t.Errorf("%s: got %d %q..., want %d %q...", c.name, got.StatusCode, head(gotBody), want.StatusCode, head(wantBody))
		}
		for _, hdr := range []string{"Content-Type", "Content-Encoding", "X-Request-Id", "OpenAI-Model"} {
			if got.Header.Get(hdr) != want.Header.Get(hdr) {
				t.Errorf("%s: header %s = %q, want %q", c.name, hdr, got.Header.Get(hdr), want.Header.Get(hdr))
			}
		}
	}
}

func head(b []byte) string {
	if len(b) > 60 {
		b = b[:60]
	}
	return string(b)
}

// Server-sent events reach the client as they are sent, not when the
// stream ends.
func TestProxy_StreamsAreNotBuffered(t *testing.T) {
	chat := newChatFixture(t)
	h := startProxy(t, chat.URL, Config{})
	start := time.Now()
	res, err := http.Post(h.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody("drip", true)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	// The fixture waits 300 ms between chunks of a 30-word answer.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("first chunk after %v: the stream was buffered", d)
	}
}

// A stream the upstream cuts reaches the client cut too (as it would
// without the proxy), is recorded as incomplete, and the proxy serves the
// next request.
func TestProxy_BrokenStream(t *testing.T) {
	chat := newChatFixture(t)
	h := startProxy(t, chat.URL, Config{})
	res, err := http.Post(h.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody("break", true)))
	if err != nil {
		t.Fatal(err)
	}
	lines := readSSE(t, bufio.NewReader(res.Body))
	res.Body.Close()
	for _, l := range lines {
		if l == "[DONE]" {
			t.Fatal("the cut stream reached the client whole")
		}
	}
	if r, _ := post(t, h.srv.URL+"/v1/chat/completions", chatBody("after", false)); r.StatusCode != 200 {
		t.Fatalf("next request: %d", r.StatusCode)
	}
	h.wait(t, 2)
	recs := h.records(t)
	if len(recs) != 2 || !recs[0].Incomplete || recs[1].Incomplete {
		t.Fatalf("records: %+v", recs)
	}
}

// A slow upstream answer delays only its own request.
func TestProxy_SlowUpstreamDoesNotBlockOthers(t *testing.T) {
	chat := newChatFixture(t)
	h := startProxy(t, chat.URL, Config{QueueSize: 4})
	slow := make(chan time.Duration)
	go func() {
		start := time.Now()
		post(t, h.srv.URL+"/v1/chat/completions", chatBody("slow", false))
		slow <- time.Since(start)
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	for i := 0; i < 20; i++ {
		if r, _ := post(t, h.srv.URL+"/v1/chat/completions", chatBody(fmt.Sprint("q", i), false)); r.StatusCode != 200 {
			t.Fatalf("status %d", r.StatusCode)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("20 fast requests took %v behind one slow one", d)
	}
	if d := <-slow; d < time.Second {
		t.Errorf("the slow request took %v", d)
	}
}

// Bodies beyond the capture limit stream through whole; their record
// has no features.
func TestProxy_HugeBodies(t *testing.T) {
	chat := newChatFixture(t)
	h := startProxy(t, chat.URL, Config{MaxCapture: 64 << 10})
	big := strings.Repeat("word ", 2<<20) // a 10 MiB prompt
	res, body := post(t, h.srv.URL+"/v1/chat/completions", chatBody(big, false))
	if res.StatusCode != 200 || !bytes.Contains(body, []byte(`"choices"`)) {
		t.Fatalf("huge request: %d %q", res.StatusCode, head(body))
	}
	res, body = post(t, h.srv.URL+"/v1/chat/completions", chatBody("huge", false))
	if res.StatusCode != 200 || len(body) < 8<<20 {
		t.Fatalf("huge answer: %d, %d bytes", res.StatusCode, len(body))
	}
	h.wait(t, 2)
	for _, r := range h.records(t) {
		if len(r.Input) > 0 && r.Text != nil {
			t.Errorf("a record of truncated bodies has features: %+v", r)
		}
	}
}

// An unreachable upstream is a 502, as net/http's reverse proxy answers.
func TestProxy_UpstreamDown(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	h := startProxy(t, url, Config{})
	res, _ := post(t, h.srv.URL+"/v1/chat/completions", chatBody("hi", false))
	if res.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", res.StatusCode)
	}
	h.wait(t, 1)
	if recs := h.records(t); len(recs) != 1 || recs[0].Status != 502 {
		t.Errorf("records %+v", recs)
	}
}

// The chat fixture's model changes behind the same endpoint: the
// fingerprint (model, system_fingerprint, headers) and the answers'
// length and tokens change, and the monitor says so.
func TestProxy_ChatModelSwap(t *testing.T) {
	chat := newChatFixture(t)
	h := startProxy(t, chat.URL, Config{Learn: 100})
	n := int64(0)
	for i := 0; i < 300; i++ {
		if i == 200 {
			chat.model.Store(1)
		}
		stream := i%2 == 0
		res, err := http.Post(h.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody(fmt.Sprint("question ", i), stream)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		n++
	}
	h.wait(t, n)
	got := map[string]bool{}
	for _, a := range h.Alerts() {
		got[a.Detector+":"+strings.SplitN(a.Key, "=", 2)[0]] = true
		if strings.Contains(fmt.Sprintf("%+v", a), "evil.example") {
			t.Errorf("alert quotes response content: %s", a.Message)
		}
	}
	for k := range got {
		if strings.HasPrefix(k, "llm-tokens:") {
			got["llm-tokens"] = true
		}
	}
	for _, want := range []string{"fingerprint:model", "fingerprint:system_fingerprint", "fingerprint:headers", "llm-tokens"} {
		if !got[want] {
			t.Errorf("no %s alert; got %v", want, got)
		}
	}
	recs := h.records(t)
	if len(recs) != 300 || recs[0].Text == nil || recs[0].Text.Length < 30 || recs[0].Model != "gpt-a" {
		t.Fatalf("records: %d, first %+v", len(recs), recs[0])
	}
	if recs[1].Text == nil || recs[1].Text.Tokens0 == 0 {
		t.Errorf("streamed record lacks text or usage: %+v", recs[1])
	}
}

// KServe traffic: records carry inputs, scores and labels; a new model
// version raises a fingerprint alert and a canary that answers
// differently a canary alert.
func TestProxy_KServeRecordsAndCanaries(t *testing.T) {
	ks := newKServeFixture(t)
	canaries, err := LoadCanaries([]byte(`
- name: fixed-input
  path: /v2/models/digits/infer
  body: {"inputs": [{"name": "x", "shape": [1, 8], "datatype": "FP32", "data": [1, 0, 0, 0, 0, 0, 0, 0]}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	h := startProxy(t, ks.URL, Config{Learn: 200})
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		post(t, h.srv.URL+"/v2/models/digits/infer", kserveBody(i))
	}
	h.wait(t, 200)
	if h.p.Monitor() == nil {
		t.Fatal("no monitor after 200 learnt requests")
	}
	h.p.sendCanary(ctx, &canaries[0]) // pinned to this answer
	ks.version.Store(2)
	for i := 200; i < 260; i++ {
		post(t, h.srv.URL+"/v2/models/digits/infer", kserveBody(i))
	}
	h.p.sendCanary(ctx, &canaries[0])
	h.wait(t, 262)
	got := map[string]bool{}
	for _, a := range h.Alerts() {
		got[a.Detector] = true
	}
	if !got["fingerprint"] || !got["canary"] {
		t.Errorf("alerts %v, want fingerprint and canary", got)
	}
	recs := h.records(t)
	r := recs[0]
	if len(r.Input) != 8 || len(r.Probs) != 4 || r.Label == "" || r.Model != "digits" || r.SystemFingerprint != "1" || r.ID != "r0" {
		t.Errorf("record %+v", r)
	}
}

// While an alert of a blocked kind is open the proxy answers 503, and
// passes requests again once it closes.
func TestProxy_BlockPolicy(t *testing.T) {
	chat := newChatFixture(t)
	h := startProxy(t, chat.URL, Config{Block: []monitor.Kind{monitor.KindIntegrity}})
	if r, _ := post(t, h.srv.URL+"/v1/chat/completions", chatBody("hi", false)); r.StatusCode != 200 {
		t.Fatalf("status %d before any alert", r.StatusCode)
	}
	h.p.SetIntegrity(&monitor.Alert{Detector: "integrity", Kind: monitor.KindIntegrity, Key: "model", Message: "modified"})
	r, body := post(t, h.srv.URL+"/v1/chat/completions", chatBody("hi", false))
	if r.StatusCode != 503 || r.Header.Get("X-Aigis-Blocked") != "true" || !bytes.Contains(body, []byte("integrity")) {
		t.Fatalf("blocked answer: %d %s", r.StatusCode, body)
	}
	if len(h.Alerts()) != 1 {
		t.Errorf("%d alerts, want the integrity one", len(h.Alerts()))
	}
	h.p.SetIntegrity(nil)
	if r, _ := post(t, h.srv.URL+"/v1/chat/completions", chatBody("hi", false)); r.StatusCode != 200 {
		t.Fatalf("status %d after the alert closed", r.StatusCode)
	}
}

// Without a blocking policy nothing is ever blocked, whatever is open.
func TestProxy_NoPolicyNeverBlocks(t *testing.T) {
	chat := newChatFixture(t)
	h := startProxy(t, chat.URL, Config{})
	h.p.SetIntegrity(&monitor.Alert{Detector: "integrity", Kind: monitor.KindIntegrity, Key: "model"})
	if r, _ := post(t, h.srv.URL+"/v1/chat/completions", chatBody("hi", false)); r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
}

// Generic JSON through configured paths.
func TestProxy_GenericJSONPaths(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"predictions":[{"label":"cat","scores":[2.0,0.5,-1.0]}],"model":"vision-7"}`))
	}))
	defer up.Close()
	h := startProxy(t, up.URL, Config{Protocol: "json", Paths: JSONPaths{Input: "instances.0", Label: "predictions.0.label", Scores: "predictions.0.scores", Model: "model"}})
	post(t, h.srv.URL+"/predict", `{"instances":[[0.1,0.2,0.3]]}`)
	h.wait(t, 1)
	r := h.records(t)[0]
	if r.Label != "cat" || len(r.Input) != 3 || len(r.Probs) != 3 || r.Model != "vision-7" || r.Confidence < 0.7 {
		t.Errorf("record %+v", r)
	}
}
