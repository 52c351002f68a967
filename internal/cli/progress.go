package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/aigis-dev/aigis/report"
)

// progress prints a one-line status on stderr while work runs, only when
// stderr is a terminal: machine output on stdout stays clean and CI logs
// stay quiet.
type progress struct {
	w       io.Writer
	enabled bool
	mu      sync.Mutex
	files   int
	bytes   int64
	flagged int
	// status, when set, replaces the scan status line (other verbs report
	// other progress with the same display).
	status func(elapsed time.Duration) string
	began  time.Time
	quit   chan struct{}
	wg     sync.WaitGroup
}

func newProgress(w io.Writer, want bool) *progress {
	on := false
	if f, ok := w.(*os.File); ok && want {
		on = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, enabled: on}
}

func (p *progress) artifact(a *report.Artifact) {
	p.mu.Lock()
	p.files++
	p.bytes += a.Size
	if a.Verdict != report.Clean {
		p.flagged++
	}
	p.mu.Unlock()
}

func (p *progress) start() {
	p.began = time.Now()
	if !p.enabled {
		return
	}
	p.quit = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(150 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-t.C:
				if p.status != nil {
					fmt.Fprintf(p.w, "\r\033[K%s", p.status(time.Since(p.began)))
					continue
				}
				p.mu.Lock()
				fmt.Fprintf(p.w, "\r\033[Kscanned %d files, %s, %d flagged (%s)", p.files, humanBytes(p.bytes), p.flagged, time.Since(p.began).Round(100*time.Millisecond))
				p.mu.Unlock()
			}
		}
	}()
}

func (p *progress) stop() {
	if p.quit != nil {
		close(p.quit)
		p.wg.Wait()
	}
}

// run runs a verb's work with the progress line on stderr (when enabled)
// and a context that Ctrl-C cancels. An interrupted run is the error
// "interrupted"; any other error exits 2 unless work gave it a code
// (withCode). scan, deps, bom, sign, verify and digest run their work
// here; the report is written after it returns.
func (p *progress) run(cmd *cobra.Command, work func(ctx context.Context) error) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	if quiet, _ := cmd.Flags().GetBool("quiet"); quiet {
		p.enabled = false
	}
	p.start()
	err := work(ctx)
	p.stop()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return withCode(ExitError, errors.New("interrupted"))
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return withCode(ExitError, err)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
