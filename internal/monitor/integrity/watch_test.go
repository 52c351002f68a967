package integrity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/sign"
	"github.com/aigis-dev/aigis/internal/verify"
)

type results struct {
	mu  sync.Mutex
	got []string // "ok" or "fail", with the reason
	ch  chan struct{}
}

func (r *results) add(res *verify.Result, err error, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		r.got = append(r.got, "error "+err.Error())
	case res.OK():
		r.got = append(r.got, "ok "+reason)
	default:
		r.got = append(r.got, "fail "+reason)
	}
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *results) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for _, g := range r.got {
			if g == want {
				r.mu.Unlock()
				return
			}
		}
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("no %q within 10s; got %v", want, r.got)
		}
	}
}

// A model edited on disk under a running server fails its signature
// within the debounce, without waiting for the schedule; restoring it
// verifies again.
func TestWatch_FileChangeFailsTheSignatureAtOnce(t *testing.T) {
	model := t.TempDir()
	weights := filepath.Join(model, "model.safetensors")
	if err := os.WriteFile(weights, []byte("the weights as signed"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(model, "config.json"), []byte(`{"a":1}`), 0o644)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := sign.WithKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sig := filepath.Join(t.TempDir(), "model.sig")
	if _, err := sign.Model(context.Background(), model, s, sign.Options{Serialization: oms.Options{}, Signature: sig}); err != nil {
		t.Fatal(err)
	}
	v, err := verify.Key(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	r := &results{ch: make(chan struct{}, 1)}
	w := &Watch{Model: model, Verifier: v, Interval: time.Hour, Debounce: 100 * time.Millisecond,
		Bundle: func() ([]byte, error) { return os.ReadFile(sig) }, OnResult: r.add, Options: verify.Options{Signature: sig}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	r.wait(t, "ok start")

	if err := os.WriteFile(weights, []byte("the weights, swapped"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.wait(t, "fail file change")
	r.mu.Lock()
	r.got = nil
	r.mu.Unlock()
	os.WriteFile(weights, []byte("the weights as signed"), 0o644)
	r.wait(t, "ok file change")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestAlert_NamesFilesNotContent(t *testing.T) {
	res := &verify.Result{Files: []verify.File{{Name: "model.safetensors", Status: verify.StatusModified}, {Name: "config.json", Status: verify.StatusOK}}}
	a := Alert("/srv/model", res)
	if a == nil || a.Kind != "integrity" || a.Value != 1 {
		t.Fatalf("alert %+v", a)
	}
	if Alert("/srv/model", &verify.Result{Files: []verify.File{{Name: "x", Status: verify.StatusOK}}}) != nil {
		t.Error("an alert for a model that verifies")
	}
}
