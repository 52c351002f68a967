package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/aigis-dev/aigis/internal/monitor"
)

// Canary is a golden request sent on a schedule through the same
// upstream, and what it must answer.
type Canary struct {
	Name    string            `yaml:"name"`
	Method  string            `yaml:"method"` // default POST
	Path    string            `yaml:"path"`
	Headers map[string]string `yaml:"headers"`
	// Body is the request body: a string as is, anything else as JSON.
	Body   any             `yaml:"body"`
	Expect *monitor.Expect `yaml:"expect"` // nil: pinned to the first answer
	body   []byte
}

// LoadCanaries reads a YAML (or JSON) list of canaries.
func LoadCanaries(data []byte) ([]Canary, error) {
	var cs []Canary
	if err := yaml.Unmarshal(data, &cs); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i := range cs {
		c := &cs[i]
		if c.Name == "" {
			return nil, fmt.Errorf("canary %d has no name", i+1)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("canary %q is defined twice", c.Name)
		}
		seen[c.Name] = true
		if c.Method == "" {
			c.Method = http.MethodPost
		}
		if !strings.HasPrefix(c.Path, "/") {
			c.Path = "/" + c.Path
		}
		switch b := c.Body.(type) {
		case nil:
		case string:
			c.body = []byte(b)
		default:
			j, err := json.Marshal(jsonable(b))
			if err != nil {
				return nil, fmt.Errorf("canary %q: body: %v", c.Name, err)
			}
			c.body = j
		}
	}
	return cs, nil
}

// jsonable turns YAML's map[string]any trees into JSON-encodable ones.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

// Expectations are the canaries' expected outputs, for monitor.Config.
func Expectations(cs []Canary) map[string]monitor.Expect {
	out := map[string]monitor.Expect{}
	for _, c := range cs {
		if c.Expect != nil {
			out[c.Name] = *c.Expect
		}
	}
	return out
}

// RunCanaries sends every canary now and then every interval until ctx
// ends. Answers go to the monitor as records named for their canary.
func (p *Proxy) RunCanaries(ctx context.Context, cs []Canary, every time.Duration) {
	if len(cs) == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for i := range cs {
			if ctx.Err() != nil {
				return
			}
			p.sendCanary(ctx, &cs[i])
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sendCanary sends one canary through the proxy's transport to the
// upstream and hands the exchange to the monitor.
func (p *Proxy) sendCanary(ctx context.Context, c *Canary) {
	u := *p.cfg.Upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + c.Path
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.Method, u.String(), bytes.NewReader(c.body))
	if err != nil {
		p.log.Error("canary", "canary", c.Name, "error", err)
		return
	}
	if len(c.body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("X-Aigis-Canary", c.Name)
	ex := &exchange{start: time.Now(), proto: p.protocolOf(req), method: c.Method, path: c.Path, canary: c.Name,
		reqID: "canary:" + c.Name, modelPath: modelFromPath(c.Path)}
	if ex.proto == "" {
		ex.proto = "json"
		if p.cfg.Paths.empty() {
			ex.proto = "kserve"
		}
	}
	ex.reqBody = getBuf()
	ex.reqBody.Write(c.body)
	res, err := p.rp.Transport.RoundTrip(req) // untimed: no exchange in its context
	if p.metrics != nil {
		p.metrics.CanaryResult(err == nil)
	}
	if err != nil {
		ex.failed, ex.status = true, http.StatusBadGateway
		if errors.Is(err, context.DeadlineExceeded) {
			ex.status = http.StatusGatewayTimeout
		}
	} else {
		ex.status = res.StatusCode
		ex.contentType = res.Header.Get("Content-Type")
		ex.contentEncoding = res.Header.Get("Content-Encoding")
		ex.headers = fingerprintHeaders(res.Header, p.fpHdr)
		ex.respBody = getBuf()
		n, rerr := io.Copy(ex.respBody, io.LimitReader(res.Body, int64(p.cfg.MaxCapture)+1))
		res.Body.Close()
		ex.respTrunc = n > int64(p.cfg.MaxCapture)
		ex.broken = rerr != nil
	}
	ex.end = time.Now()
	ex.finished.Store(true)
	ex.size = int64(bufLen(ex.reqBody) + bufLen(ex.respBody))
	p.queued.Add(ex.size)
	select {
	case p.queue <- ex:
	case <-ctx.Done():
		p.queued.Add(-ex.size)
		ex.release()
	}
}
