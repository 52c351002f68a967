package analysis

import (
	"context"
	"fmt"

	"github.com/aigis-dev/aigis/internal/monitor"
)

// Options are an analysis's inputs besides the logs.
type Options struct {
	Config      monitor.Config
	MaxBaseline int // most baseline requests read (0: 100,000)
	Tool        string
	Version     string
	// OnAlert, when set, also receives each alert as it is raised.
	OnAlert func(monitor.Alert)
}

// Analyze fits the detectors on the baseline log and runs them over the
// traffic logs, in order, as one stream. Memory is bounded by the
// baseline and the detectors' windows, not by the traffic's length.
func Analyze(ctx context.Context, baseline string, traffic []string, opts Options) (*Result, error) {
	max := opts.MaxBaseline
	if max <= 0 {
		max = 100_000
	}
	base, err := monitor.LoadLog(baseline, max)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	m, err := monitor.New(base, opts.Config)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", baseline, err)
	}
	r := &Result{Tool: opts.Tool, Version: opts.Version, Baseline: Source{Path: baseline, Requests: int64(len(base))}}
	NewCollector(m, r)
	if opts.OnAlert != nil {
		prev := m.OnAlert
		m.OnAlert = func(a monitor.Alert) { prev(a); opts.OnAlert(a) }
	}
	for _, t := range traffic {
		before := m.Seen()
		err := monitor.ReadLog(t, func(rec *monitor.Record) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			m.Observe(rec)
			return nil
		})
		if err != nil {
			return nil, err
		}
		r.Traffic = append(r.Traffic, Source{Path: t, Requests: m.Seen() - before})
	}
	m.Flush()
	r.Suppressed = m.Suppressed()
	return r, nil
}
