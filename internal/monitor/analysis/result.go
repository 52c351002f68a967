// Package analysis is aigis monitor analyze: it runs the detectors over
// logged traffic (JSON Lines) and encodes the result three ways: a table
// for people, JSON for machines, and one self-contained HTML page (inline
// SVG plots of every detector over time; no script, font or other
// external resource) for triage.
//
// It renders what the detectors reported and nothing else: alerts hold
// no request content unless the monitor was configured to allow it.
package analysis

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/aigis-dev/aigis/internal/monitor"
)

// Result is one analysis: what was compared, what each detector learnt
// and saw, and the alerts.
type Result struct {
	Tool      string     `json:"tool"`
	Version   string     `json:"version"`
	Baseline  Source     `json:"baseline"`
	Traffic   []Source   `json:"traffic"`
	Settings  Settings   `json:"settings"`
	Detectors []Detector `json:"detectors"`
	Skipped   []string   `json:"skipped,omitempty"`
	Alerts    []monitor.Alert
	// Suppressed counts repeats of open alerts that were not re-raised.
	Suppressed int64 `json:"suppressed_repeats"`
}

// Source is a log and its number of requests.
type Source struct {
	Path     string `json:"path"`
	Requests int64  `json:"requests"`
}

// Settings are the thresholds in force.
type Settings struct {
	Window        int     `json:"window"`
	TriggerWindow int     `json:"trigger_window"`
	Alpha         float64 `json:"alpha"`
	Horizon       int     `json:"horizon"`
	LargeWindow   int     `json:"large_window"`
	PSI           float64 `json:"psi"`
	JS            float64 `json:"js"`
	Wasserstein   float64 `json:"wasserstein"`
	TriggerP      float64 `json:"trigger_p"`
	MinSupport    int     `json:"min_support"`
}

// SettingsOf copies the thresholds of a configuration.
func SettingsOf(c monitor.Config) Settings {
	return Settings{Window: c.Window, TriggerWindow: c.TriggerWindow, Alpha: c.Alpha, Horizon: c.Horizon, LargeWindow: c.LargeWindow,
		PSI: c.PSI, JS: c.JS, Wasserstein: c.Wasserstein, TriggerP: c.TriggerP, MinSupport: c.MinSupport}
}

// Detector is one detector's description, series and alert count.
type Detector struct {
	Name     string          `json:"name"`
	Kind     monitor.Kind    `json:"kind"`
	Describe string          `json:"describe"`
	Alerts   int             `json:"alerts"`
	Points   []monitor.Point `json:"points"`
	stride   int
	seen     int
}

// MaxPoints bounds a detector's series; longer ones are thinned evenly,
// keeping every point at which the detector fired.
const MaxPoints = 2000

// Collector builds a Result while a monitor runs.
type Collector struct {
	R     *Result
	index map[string]int
}

// NewCollector starts a result for the monitor's detectors and hooks
// itself to the monitor's points and alerts.
func NewCollector(m *monitor.Monitor, r *Result) *Collector {
	c := &Collector{R: r, index: map[string]int{}}
	r.Settings = SettingsOf(m.Config())
	r.Skipped = m.Skipped()
	for _, d := range m.Detectors() {
		c.index[d.Name()] = len(r.Detectors)
		r.Detectors = append(r.Detectors, Detector{Name: d.Name(), Kind: d.Kind(), Describe: d.Describe(), stride: 1})
	}
	m.OnPoint = c.point
	prev := m.OnAlert
	m.OnAlert = func(a monitor.Alert) {
		c.alert(a)
		if prev != nil {
			prev(a)
		}
	}
	return c
}

func (c *Collector) point(name string, p monitor.Point) {
	i, ok := c.index[name]
	if !ok {
		return
	}
	d := &c.R.Detectors[i]
	d.seen++
	if !p.Fired && d.seen%d.stride != 0 {
		return
	}
	d.Points = append(d.Points, p)
	if len(d.Points) > MaxPoints {
		// Halve: keep every other point and every fired one.
		kept := d.Points[:0]
		for j, q := range d.Points {
			if j%2 == 0 || q.Fired {
				kept = append(kept, q)
			}
		}
		d.Points = kept
		d.stride *= 2
	}
}

func (c *Collector) alert(a monitor.Alert) {
	c.R.Alerts = append(c.R.Alerts, a)
	if i, ok := c.index[a.Detector]; ok {
		c.R.Detectors[i].Alerts++
	}
}

// Formats are the encodings Write accepts.
var Formats = []string{"table", "json", "html"}

// Write encodes r in format.
func Write(w io.Writer, format string, r *Result) error {
	switch format {
	case "table":
		return writeTable(w, r)
	case "json":
		return writeJSON(w, r)
	case "html":
		return writeHTML(w, r)
	}
	return fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

func writeJSON(w io.Writer, r *Result) error {
	type alias Result
	out := struct {
		*alias
		Alerts []monitor.Alert `json:"alerts"`
	}{alias: (*alias)(r), Alerts: r.Alerts}
	if out.Alerts == nil {
		out.Alerts = []monitor.Alert{}
	}
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(out)
}

func writeTable(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "baseline\t%s (%d requests)\n", r.Baseline.Path, r.Baseline.Requests)
	for _, t := range r.Traffic {
		fmt.Fprintf(tw, "traffic\t%s (%d requests)\n", t.Path, t.Requests)
	}
	fmt.Fprintf(tw, "windows\t%d requests (trigger: sliding %d); alpha %.2g over %d windows\n", r.Settings.Window, r.Settings.TriggerWindow, r.Settings.Alpha, r.Settings.Horizon)
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "DETECTOR\tKIND\tALERTS\tWATCHES")
	for _, d := range r.Detectors {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", d.Name, d.Kind, d.Alerts, d.Describe)
	}
	tw.Flush()
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped: %s\n", s)
	}
	fmt.Fprintln(w)
	if len(r.Alerts) == 0 {
		fmt.Fprintln(w, "no alerts")
		return nil
	}
	alerts := sortedAlerts(r.Alerts)
	fmt.Fprintln(tw, "REQUEST\tDETECTOR\tKIND\tSTATISTIC\tVALUE\tTHRESHOLD\tP-VALUE\tMESSAGE")
	for _, a := range alerts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Seq, a.Detector, a.Kind, a.Statistic, num(a.Value), num(a.Threshold), pstr(a.P), a.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d alert(s)", len(r.Alerts))
	if r.Suppressed > 0 {
		fmt.Fprintf(w, "; %d repeat(s) of open alerts not re-raised", r.Suppressed)
	}
	_, err := fmt.Fprintln(w)
	return err
}

func sortedAlerts(a []monitor.Alert) []monitor.Alert {
	out := append([]monitor.Alert(nil), a...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.IsInf(v, 0):
		return "inf"
	case v == math.Trunc(v) && math.Abs(v) < 1e9:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4g", v)
}

func pstr(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.3g", *p)
}
