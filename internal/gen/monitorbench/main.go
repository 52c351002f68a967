// Command monitorbench is the load side of scripts/bench-monitor.sh: a
// fixture upstream (an Open Inference Protocol classifier that answers at
// once) and an open-loop load generator that sends requests at a fixed
// rate and measures each latency from its scheduled start, so a stalled
// server cannot hide its queue (no coordinated omission).
//
//	monitorbench upstream -addr 127.0.0.1:18081
//	monitorbench load -url http://127.0.0.1:18080/v2/models/digits/infer -rate 2000 -duration 30s
//
// Traffic goes to loopback addresses only; every run is bounded by
// -duration or -n.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: monitorbench upstream|load [flags]")
	}
	switch os.Args[1] {
	case "upstream":
		upstream(os.Args[2:])
	case "load":
		load(os.Args[2:])
	default:
		log.Fatalf("unknown command %q", os.Args[1])
	}
}

func upstream(args []string) {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18081", "listen address (loopback)")
	fs.Parse(args)
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("-addr %s: loopback only", *addr)
	}
	http.HandleFunc("/v2/models/digits/infer", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     string `json:"id"`
			Inputs []struct {
				Data []float64 `json:"data"`
			} `json:"inputs"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Inputs) == 0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		// A fixed linear classifier: 10 classes over the inputs.
		x := req.Inputs[0].Data
		logits := make([]float64, 10)
		for c := range logits {
			for i, v := range x {
				logits[c] += v * math.Sin(float64(c*len(x)+i))
			}
		}
		m := math.Inf(-1)
		for _, v := range logits {
			m = math.Max(m, v)
		}
		var s float64
		for i, v := range logits {
			logits[i] = math.Exp(v - m)
			s += logits[i]
		}
		probs := make([]string, len(logits))
		for i := range logits {
			probs[i] = fmt.Sprintf("%.5f", logits[i]/s)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"model_name":"digits","model_version":"1","id":%q,"outputs":[{"name":"probabilities","shape":[1,10],"datatype":"FP32","data":[%s]}]}`,
			req.ID, strings.Join(probs, ","))
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	log.Fatal(http.Serve(ln, nil))
}

type result struct {
	Target     string  `json:"target"`
	Rate       float64 `json:"rate"`
	Sent       int64   `json:"sent"`
	OK         int64   `json:"ok"`
	Errors     int64   `json:"errors"`
	Achieved   float64 `json:"achieved_rps"`
	P50ms      float64 `json:"p50_ms"`
	P90ms      float64 `json:"p90_ms"`
	P99ms      float64 `json:"p99_ms"`
	P999ms     float64 `json:"p999_ms"`
	MaxMs      float64 `json:"max_ms"`
	DurationS  float64 `json:"duration_s"`
	LateStarts int64   `json:"late_starts"` // requests that started over 1 ms after their slot
}

func load(args []string) {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	target := fs.String("url", "", "URL to POST to (loopback)")
	rate := fs.Float64("rate", 2000, "requests per second")
	dur := fs.Duration("duration", 30*time.Second, "how long to send (bounded)")
	n := fs.Int64("n", 0, "stop after this many requests (0: -duration)")
	workers := fs.Int("workers", 256, "concurrent senders")
	dim := fs.Int("dim", 64, "inputs per request")
	keep := fs.Bool("latencies", true, "keep every latency (set false for very long runs: a histogram is used)")
	fs.Parse(args)
	if !strings.HasPrefix(*target, "http://127.") && !strings.HasPrefix(*target, "http://localhost") && !strings.HasPrefix(*target, "http://[::1]") {
		log.Fatalf("-url %s: loopback only", *target)
	}
	if *dur > 2*time.Hour {
		log.Fatal("-duration: at most 2h")
	}
	// A thousand different bodies, like digits: values in [0, 1].
	rng := rand.New(rand.NewPCG(1, 2))
	bodies := make([][]byte, 1000)
	for i := range bodies {
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"id":"r%d","inputs":[{"name":"x","shape":[1,%d],"datatype":"FP32","data":[`, i, *dim)
		for j := 0; j < *dim; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%.4f", math.Round(rng.Float64()*16)/16)
		}
		b.WriteString("]}]}")
		bodies[i] = b.Bytes()
	}
	tr := &http.Transport{MaxIdleConns: *workers * 2, MaxIdleConnsPerHost: *workers * 2, IdleConnTimeout: time.Minute, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	total := *n
	if total == 0 {
		total = int64(float64(*dur/time.Second) * *rate)
	}
	interval := time.Duration(float64(time.Second) / *rate)
	slots := make(chan time.Time, 4096)
	var ok, errs, late, next atomic.Int64
	var mu sync.Mutex
	var lat []float64
	hist := newHist()
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for slot := range slots {
				if time.Since(slot) > time.Millisecond {
					late.Add(1)
				}
				body := bodies[int(next.Add(1))%len(bodies)]
				res, err := client.Post(*target, "application/json", bytes.NewReader(body))
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				d := time.Since(slot).Seconds() * 1000
				if err != nil || res.StatusCode != 200 {
					errs.Add(1)
					continue
				}
				ok.Add(1)
				mu.Lock()
				if *keep {
					lat = append(lat, d)
				}
				hist.add(d)
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := int64(0); i < total; i++ {
		slot := start.Add(time.Duration(i) * interval)
		if d := time.Until(slot); d > 0 {
			time.Sleep(d)
		}
		slots <- slot
	}
	close(slots)
	wg.Wait()
	el := time.Since(start).Seconds()
	r := result{Target: *target, Rate: *rate, Sent: total, OK: ok.Load(), Errors: errs.Load(), Achieved: float64(total) / el, DurationS: el, LateStarts: late.Load()}
	if *keep {
		sort.Float64s(lat)
		q := func(p float64) float64 {
			if len(lat) == 0 {
				return math.NaN()
			}
			return lat[min(len(lat)-1, int(p*float64(len(lat))))]
		}
		r.P50ms, r.P90ms, r.P99ms, r.P999ms, r.MaxMs = q(.5), q(.9), q(.99), q(.999), q(1)
	} else {
		r.P50ms, r.P90ms, r.P99ms, r.P999ms, r.MaxMs = hist.q(.5), hist.q(.9), hist.q(.99), hist.q(.999), hist.max
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

// hist is a log-bucketed latency histogram (1 microsecond to 100 s,
// 1% resolution) for runs too long to keep every latency.
type hist struct {
	b   []int64
	n   int64
	max float64
}

const histBase = 1.01

func newHist() *hist { return &hist{b: make([]int64, 2000)} }

func (h *hist) add(ms float64) {
	i := int(math.Log(math.Max(ms*1000, 1)) / math.Log(histBase))
	h.b[min(i, len(h.b)-1)]++
	h.n++
	h.max = math.Max(h.max, ms)
}

func (h *hist) q(p float64) float64 {
	want := int64(math.Ceil(p * float64(h.n)))
	var c int64
	for i, v := range h.b {
		c += v
		if c >= want {
			return math.Pow(histBase, float64(i+1)) / 1000
		}
	}
	return h.max
}
