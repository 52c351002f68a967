// Package integrity re-verifies the served model's files against their
// OpenSSF Model Signing signature (the verification of aigis verify), on
// a schedule and whenever a file under the model changes (fsnotify), so
// that a model swapped or edited on disk under a running server is
// reported within seconds. It only reads: it never repairs, reloads or
// stops anything.
package integrity

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/aigis-dev/aigis/internal/monitor"
	"github.com/aigis-dev/aigis/internal/verify"
)

// Watch is one model under watch.
type Watch struct {
	Model    string // file or directory
	Bundle   func() ([]byte, error)
	Verifier verify.Verifier
	Options  verify.Options
	// Interval between scheduled checks (0: only on changes).
	Interval time.Duration
	// Debounce groups a burst of file events into one check.
	Debounce time.Duration
	// OnResult receives every check: a result, or the error that kept
	// the check from completing (I/O, cancellation).
	OnResult func(res *verify.Result, err error, reason string)
}

// Run checks at once, then on schedule and on changes, until ctx ends.
func (w *Watch) Run(ctx context.Context) error {
	if w.Debounce <= 0 {
		w.Debounce = 500 * time.Millisecond
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer fw.Close()
	if err := w.add(fw); err != nil {
		return err
	}
	w.check(ctx, "start")
	var tick <-chan time.Time
	if w.Interval > 0 {
		t := time.NewTicker(w.Interval)
		defer t.Stop()
		tick = t.C
	}
	var debounce *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			w.check(ctx, "schedule")
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			if ev.Op.Has(fsnotify.Create) {
				if st, err := os.Lstat(ev.Name); err == nil && st.IsDir() {
					fw.Add(ev.Name) // new directories are watched too
				}
			}
			if debounce == nil {
				debounce = time.NewTimer(w.Debounce)
			} else {
				debounce.Reset(w.Debounce)
			}
			fire = debounce.C
		case <-fire:
			fire = nil
			w.check(ctx, "file change")
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			w.OnResult(nil, err, "watch")
		}
	}
}

// add watches the model's directories (a single file: its directory).
func (w *Watch) add(fw *fsnotify.Watcher) error {
	st, err := os.Stat(w.Model)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fw.Add(filepath.Dir(w.Model))
	}
	return filepath.WalkDir(w.Model, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return fw.Add(p)
		}
		return nil
	})
}

func (w *Watch) check(ctx context.Context, reason string) {
	b, err := w.Bundle()
	if err != nil {
		w.OnResult(nil, err, reason)
		return
	}
	res, err := verify.Model(ctx, w.Model, b, w.Verifier, w.Options)
	if errors.Is(err, context.Canceled) {
		return
	}
	w.OnResult(res, err, reason)
}

// Alert turns a failed check into an alert (nil when the model
// verifies). It names files and statuses, never their content.
func Alert(model string, res *verify.Result) *monitor.Alert {
	if res == nil || res.OK() {
		return nil
	}
	var files []map[string]any
	failed := 0
	for _, f := range res.Files {
		if f.Status == verify.StatusOK || f.Status == verify.StatusUnsigned {
			continue
		}
		failed++
		if len(files) < 20 {
			files = append(files, map[string]any{"file": f.Name, "status": string(f.Status)})
		}
	}
	msg := fmt.Sprintf("the served model %s no longer matches its signature: %d file(s) modified, missing, added or refused", model, failed)
	if res.Failure != nil {
		msg = fmt.Sprintf("the served model %s's signature does not verify: %s", model, res.Failure.Msg)
		failed = max(failed, 1)
	}
	return &monitor.Alert{
		Detector: "integrity", Kind: monitor.KindIntegrity, Key: "model",
		Statistic: "files-failing", Value: float64(failed), Threshold: 1,
		Message:  msg,
		Evidence: monitor.Evidence{Details: map[string]any{"model": model, "files": files}},
	}
}
