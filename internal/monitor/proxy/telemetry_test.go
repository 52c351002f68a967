package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/aigis-dev/aigis/internal/monitor"
)

// The metrics follow Prometheus's naming rules (promlint: base units,
// _total on counters, no camel case) and all start aigis_monitor_.
func TestMetrics_FollowTheNamingRules(t *testing.T) {
	chat := newChatFixture(t)
	m := NewMetrics()
	h := startProxy(t, chat.URL, Config{Metrics: m, Learn: 20})
	for i := 0; i < 40; i++ {
		post(t, h.srv.URL+"/v1/chat/completions", chatBody(fmt.Sprint("q", i), i%2 == 0))
	}
	h.wait(t, 40)
	m.IntegrityResult("verified")
	m.CanaryResult(true)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	seen := map[string]bool{}
	for _, f := range fams {
		n := f.GetName()
		seen[n] = true
		if !strings.HasPrefix(n, "aigis_monitor_") && !strings.HasPrefix(n, "go_") && !strings.HasPrefix(n, "process_") {
			t.Errorf("metric %s is not aigis_monitor_*", n)
		}
	}
	for _, want := range []string{"aigis_monitor_requests_total", "aigis_monitor_response_header_duration_seconds", "aigis_monitor_records_total",
		"aigis_monitor_llm_tokens_total", "aigis_monitor_detector_statistic", "aigis_monitor_integrity_verified"} {
		if !seen[want] {
			t.Errorf("no %s", want)
		}
	}
	// The endpoint serves them.
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `aigis_monitor_requests_total{code="2xx",protocol="openai"} 40`) {
		t.Errorf("exposition lacks the request count:\n%s", head(b))
	}
}

// Spans carry the GenAI semantic-convention attributes, with the
// exchange's own timestamps, as children of the caller's trace.
func TestTracer_GenAIAttributes(t *testing.T) {
	chat := newChatFixture(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	h := startProxy(t, chat.URL, Config{Tracer: NewTracer(tp, "openai", nil)})
	req, _ := http.NewRequest("POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(chatBody("hello", true)))
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	h.wait(t, 1)
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	attrs := map[attribute.Key]attribute.Value{}
	for _, a := range s.Attributes() {
		attrs[a.Key] = a.Value
	}
	for k, want := range map[attribute.Key]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
		"gen_ai.request.model": "gpt-a", "gen_ai.response.model": "gpt-a",
	} {
		if attrs[k].AsString() != want {
			t.Errorf("%s = %q, want %q", k, attrs[k].AsString(), want)
		}
	}
	if attrs["gen_ai.usage.output_tokens"].AsInt64() == 0 || attrs["gen_ai.response.id"].AsString() == "" {
		t.Errorf("usage or response id missing: %v", attrs)
	}
	if got := attrs["gen_ai.response.finish_reasons"].AsStringSlice(); len(got) == 0 || got[0] != "stop" {
		t.Errorf("finish reasons %v", got)
	}
	if s.Name() != "chat gpt-a" || s.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("span %q, parent %s", s.Name(), s.Parent().TraceID())
	}
	if !s.EndTime().After(s.StartTime()) {
		t.Error("the span has no duration")
	}
}

// Alerts reach the webhook as JSON with their evidence; a failing
// receiver is retried.
func TestWebhook_DeliversAlertsWithEvidence(t *testing.T) {
	var mu sync.Mutex
	var got []webhookPayload
	tries := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tries++
		if tries == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var p webhookPayload
		json.NewDecoder(r.Body).Decode(&p)
		got = append(got, p)
	}))
	defer recv.Close()
	w := NewWebhook(recv.URL, nil)
	w.backoff = 10 * time.Millisecond
	ctx := t.Context()
	go w.Run(ctx)
	p := 1e-9
	w.Send(monitor.Alert{Detector: "trigger", Kind: monitor.KindTrigger, Key: "0", Seq: 60, Statistic: "flagged-confident-count",
		Value: 7, Threshold: 6, P: &p, Message: "possible backdoor trigger", Evidence: monitor.Evidence{RequestIDs: []string{"req-1", "req-2"}}})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a := got[0].Alert
	if a.Detector != "trigger" || a.Value != 7 || a.Threshold != 6 || a.P == nil || len(a.Evidence.RequestIDs) != 2 {
		t.Errorf("delivered %+v", a)
	}
}
