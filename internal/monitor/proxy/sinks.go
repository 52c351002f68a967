package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aigis-dev/aigis/internal/monitor"
)

// Webhook posts each alert as JSON to a URL, from its own goroutine:
// a slow or failing receiver never holds up the monitor. Alerts wait in
// a bounded queue (dropped and counted when it is full) and each is
// tried three times, with one, two and four seconds between tries.
type Webhook struct {
	url     string
	client  *http.Client
	q       chan []byte
	log     *slog.Logger
	Dropped atomic.Int64
	Failed  atomic.Int64
	Sent    atomic.Int64
	backoff time.Duration
}

// NewWebhook sends to url.
func NewWebhook(url string, log *slog.Logger) *Webhook {
	if log == nil {
		log = slog.Default()
	}
	return &Webhook{url: url, client: &http.Client{Timeout: 5 * time.Second}, q: make(chan []byte, 256), log: log, backoff: time.Second}
}

// webhookPayload is what the receiver gets.
type webhookPayload struct {
	Source string        `json:"source"`
	Alert  monitor.Alert `json:"alert"`
}

// Send queues an alert without waiting.
func (w *Webhook) Send(a monitor.Alert) {
	b, err := json.Marshal(webhookPayload{Source: "aigis monitor", Alert: a})
	if err != nil {
		w.log.Error("cannot encode an alert for the webhook", "error", err)
		return
	}
	select {
	case w.q <- b:
	default:
		w.Dropped.Add(1)
		w.log.Warn("webhook queue full; alert dropped", "detector", a.Detector)
	}
}

// Run delivers queued alerts until ctx ends.
func (w *Webhook) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-w.q:
			w.deliver(ctx, b)
		}
	}
}

func (w *Webhook) deliver(ctx context.Context, b []byte) {
	wait := w.backoff
	for try := 0; try < 3; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(b))
		if err != nil {
			w.log.Error("webhook", "error", err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "aigis-monitor")
		res, err := w.client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode < 300 {
				w.Sent.Add(1)
				return
			}
			err = &statusError{res.StatusCode}
		}
		w.log.Warn("webhook delivery failed", "try", try+1, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
	w.Failed.Add(1)
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "receiver answered " + http.StatusText(e.code) }
