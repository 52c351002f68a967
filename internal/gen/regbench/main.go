// Command regbench drives an OCI registry for scripts/bench-registry.sh and
// scripts/crash-registry.sh: it pushes a one-file model, pulls a blob from
// many clients at once (throughput), requests a manifest at a fixed rate
// (latency percentiles), and checks that every tagged version of a
// registry pulls whole. It speaks plain OCI with an optional bearer token,
// so it measures aigis and distribution with the same client. It sends
// traffic only to the URL it is given (loopback in the scripts), and every
// loop is bounded in count and time.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigis-dev/aigis/internal/registry"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: regbench push|pull|manifest|check [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "push":
		err = push(os.Args[2:])
	case "pull":
		err = pull(os.Args[2:])
	case "manifest":
		err = manifest(os.Args[2:])
	case "check":
		err = check(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "regbench:", err)
		os.Exit(1)
	}
}

func client(url, token string, conns int) *registry.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns + 4
	tr.DisableCompression = true
	return &registry.Client{Base: url, Token: token, HTTP: &http.Client{Transport: tr}}
}

// push pushes one file (or -size random bytes) as a one-layer model.
func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:5000", "registry")
	token := fs.String("token", "", "bearer token")
	repo := fs.String("repo", "bench/model", "repository")
	tag := fs.String("tag", "v1", "tag")
	file := fs.String("file", "", "the model file")
	size := fs.Int64("size", 0, "push this many random bytes instead of -file")
	fs.Parse(args)
	c := client(*url, *token, 1)
	ctx := context.Background()
	var data io.ReadSeeker
	var n int64
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		st, _ := f.Stat()
		data, n = f, st.Size()
	} else {
		b := make([]byte, *size)
		rand.Read(b)
		data, n = bytes.NewReader(b), *size
	}
	h := sha256.New()
	if _, err := io.Copy(h, data); err != nil {
		return err
	}
	d := "sha256:" + hex.EncodeToString(h.Sum(nil))
	data.Seek(0, io.SeekStart)
	if err := c.PushBlob(ctx, *repo, data, n, d); err != nil {
		return err
	}
	cfg := []byte(`{"descriptor":{"name":"bench"},"config":{},"modelfs":{"type":"layers","diffIds":["` + d + `"]}}`)
	cs := sha256.Sum256(cfg)
	cd := "sha256:" + hex.EncodeToString(cs[:])
	if err := c.PushBlob(ctx, *repo, bytes.NewReader(cfg), int64(len(cfg)), cd); err != nil {
		return err
	}
	body, _ := registry.ModelPackManifest(registry.Descriptor{MediaType: registry.ModelPackConfigType, Digest: cd, Size: int64(len(cfg))},
		[]registry.Descriptor{{MediaType: registry.ModelPackWeightRaw, Digest: d, Size: n, Annotations: map[string]string{registry.FilepathAnnotation: "model.bin"}}}, nil)
	md, err := c.PushManifest(ctx, *repo, *tag, registry.MediaTypeImageManifest, body)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n", md, d)
	return nil
}

// pull: -clients clients each GET the blob -rounds times; aggregate
// throughput over the whole run.
func pull(args []string) error {
	fs := flag.NewFlagSet("pull", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:5000", "registry")
	token := fs.String("token", "", "bearer token")
	repo := fs.String("repo", "bench/model", "repository")
	digest := fs.String("digest", "", "blob digest")
	clients := fs.Int("clients", 50, "concurrent clients")
	rounds := fs.Int("rounds", 1, "pulls per client")
	verify := fs.Bool("verify", false, "clients hash what they receive")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after")
	fs.Parse(args)
	c := client(*url, *token, *clients)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var total, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for r := 0; r < *rounds; r++ {
				rc, _, err := c.Blob(ctx, *repo, *digest)
				if err != nil {
					errs.Add(1)
					fmt.Fprintln(os.Stderr, "pull:", err)
					return
				}
				var w io.Writer = io.Discard
				h := sha256.New()
				if *verify {
					w = h
				}
				n, err := io.CopyBuffer(w, rc, buf)
				rc.Close()
				total.Add(n)
				if err != nil || (*verify && "sha256:"+hex.EncodeToString(h.Sum(nil)) != *digest) {
					errs.Add(1)
					fmt.Fprintln(os.Stderr, "pull body:", err)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	out := map[string]any{"clients": *clients, "rounds": *rounds, "bytes": total.Load(), "seconds": el.Seconds(),
		"mib_per_s": float64(total.Load()) / (1 << 20) / el.Seconds(), "errors": errs.Load()}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// manifest: open-loop GETs of a manifest at -rate per second for
// -duration; latency percentiles.
func manifest(args []string) error {
	fs := flag.NewFlagSet("manifest", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:5000", "registry")
	token := fs.String("token", "", "bearer token")
	repo := fs.String("repo", "bench/model", "repository")
	ref := fs.String("ref", "v1", "tag or digest")
	rate := fs.Int("rate", 500, "requests per second")
	dur := fs.Duration("duration", 20*time.Second, "how long")
	fs.Parse(args)
	c := client(*url, *token, 256)
	ctx := context.Background()
	n := int(float64(*rate) * dur.Seconds())
	lat := make([]time.Duration, n)
	var errs atomic.Int64
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(*rate)
	start := time.Now()
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			_, _, _, err := c.Manifest(ctx, *repo, *ref)
			// Latency counts from when the request was due, so a stalled
			// sender cannot hide server delays (no coordinated omission).
			lat[i] = time.Since(due)
			if err != nil {
				errs.Add(1)
				if errs.Load() < 5 {
					fmt.Fprintln(os.Stderr, "manifest:", err)
				}
			}
		}(i, due)
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(n-1))].Microseconds()) / 1000 }
	out := map[string]any{"requests": n, "seconds": el.Seconds(), "achieved_rps": float64(n) / el.Seconds(), "errors": errs.Load(),
		"p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1)}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// check lists every version through the aigis API and pulls each servable
// one whole, verifying every digest: a partial version would fail here.
func check(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:5000", "registry")
	token := fs.String("token", "", "bearer token")
	fs.Parse(args)
	c := client(*url, *token, 4)
	ctx := context.Background()
	var vs []registry.Version
	if err := c.API(ctx, "GET", "versions", nil, &vs); err != nil {
		return err
	}
	bad := 0
	pulled := 0
	for _, v := range vs {
		if v.State != "approved" {
			continue
		}
		body, _, _, err := c.Manifest(ctx, v.Repository, v.Digest)
		if err != nil {
			bad++
			fmt.Fprintf(os.Stderr, "%s@%s: %v\n", v.Repository, v.Digest, err)
			continue
		}
		var doc registry.ManifestDoc
		json.Unmarshal(body, &doc)
		for _, l := range append(doc.Layers, *doc.Config) {
			rc, _, err := c.Blob(ctx, v.Repository, l.Digest)
			if err != nil {
				bad++
				fmt.Fprintf(os.Stderr, "%s@%s: blob %s: %v\n", v.Repository, v.Digest, l.Digest, err)
				continue
			}
			h := sha256.New()
			n, err := io.Copy(h, rc)
			rc.Close()
			if err != nil || n != l.Size || "sha256:"+hex.EncodeToString(h.Sum(nil)) != l.Digest {
				bad++
				fmt.Fprintf(os.Stderr, "%s@%s: blob %s is partial or wrong (%d of %d bytes, %v)\n", v.Repository, v.Digest, l.Digest, n, l.Size, err)
			}
		}
		pulled++
	}
	fmt.Printf(`{"versions":%d,"pulled_whole":%d,"partial":%d}`+"\n", len(vs), pulled, bad)
	if bad > 0 {
		return fmt.Errorf("%d partial or unreadable versions", bad)
	}
	_ = strings.TrimSpace
	return nil
}
