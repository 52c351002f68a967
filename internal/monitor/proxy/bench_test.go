package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkProxy_KServe is the proxy's cost per request in process, with
// the monitor learning and then running every detector: the upstream
// answers at once, so the time is the proxy's own plus one loopback hop.
// scripts/bench-monitor.sh measures the latency it adds end to end.
func BenchmarkProxy_KServe(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"model_name":"digits","model_version":"1","outputs":[{"name":"p","shape":[1,4],"datatype":"FP32","data":[0.1,0.2,0.3,0.4]}]}`))
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	p, err := New(Config{Upstream: u, Metrics: NewMetrics(), Learn: 300})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	srv := httptest.NewServer(p)
	defer srv.Close()
	bodies := make([]string, 64)
	for i := range bodies {
		bodies[i] = kserveBody(i)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			res, err := client.Post(srv.URL+"/v2/models/digits/infer", "application/json", strings.NewReader(bodies[i%len(bodies)]))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}
