package analysis

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/aigis-dev/aigis/internal/monitor"
)

// The page is one file: inline CSS and SVG, no script, font, image or
// link to anything outside it, so it opens offline, in a mail client or
// a CI artifact viewer, and reads the same with JavaScript off.

const (
	plotW, plotH           = 760, 190
	padL, padR, padT, padB = 56, 16, 12, 28
)

type plotView struct {
	Detector
	SVG template.HTML
}

type pageView struct {
	*Result
	Plots  []plotView
	Sorted []monitor.Alert
	Kinds  []kindCount
}

type kindCount struct {
	Kind  monitor.Kind
	Count int
}

func writeHTML(w io.Writer, r *Result) error {
	v := pageView{Result: r, Sorted: sortedAlerts(r.Alerts)}
	counts := map[monitor.Kind]int{}
	for _, a := range r.Alerts {
		counts[a.Kind]++
	}
	for _, k := range []monitor.Kind{monitor.KindTrigger, monitor.KindSwap, monitor.KindCanary, monitor.KindIntegrity, monitor.KindDrift, monitor.KindLLM} {
		if counts[k] > 0 {
			v.Kinds = append(v.Kinds, kindCount{k, counts[k]})
		}
	}
	var total int64
	for _, t := range r.Traffic {
		total += t.Requests
	}
	for _, d := range r.Detectors {
		v.Plots = append(v.Plots, plotView{Detector: d, SVG: plot(d, total)})
	}
	return page().Execute(w, v)
}

// plot draws a detector's statistic against its threshold over the
// requests: a line for the statistic, a dashed line for the threshold,
// red dots where it fired. Values beyond the top of the scale are drawn
// on the top edge as triangles.
func plot(d Detector, requests int64) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="t-%s">`, plotW, plotH, plotW, plotH, d.Name)
	fmt.Fprintf(&b, `<title id="t-%s">%s: statistic and threshold over requests</title>`, d.Name, template.HTMLEscapeString(d.Name))
	x0, x1, y0, y1 := float64(padL), float64(plotW-padR), float64(plotH-padB), float64(padT)
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" class="frame"/>`, x0, y1, x1-x0, y0-y1)
	if len(d.Points) == 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" class="empty">nothing to plot: no evaluation yet, or a detector that reports only what it finds</text></svg>`, (x0+x1)/2, (y0+y1)/2)
		return template.HTML(b.String())
	}
	xmax := float64(requests)
	var smax, thr float64
	for _, p := range d.Points {
		xmax = math.Max(xmax, float64(p.Seq))
		if !math.IsNaN(p.Stat) && !math.IsInf(p.Stat, 0) {
			smax = math.Max(smax, p.Stat)
		}
		if !math.IsNaN(p.Threshold) && !math.IsInf(p.Threshold, 0) {
			thr = math.Max(thr, p.Threshold)
		}
	}
	ymax := math.Max(smax, thr) * 1.1
	if thr > 0 {
		ymax = math.Min(ymax, thr*4) // keep the threshold readable
		ymax = math.Max(ymax, thr*1.25)
	}
	if ymax <= 0 {
		ymax = 1
	}
	if xmax <= 0 {
		xmax = 1
	}
	sx := func(s float64) float64 { return x0 + (x1-x0)*s/xmax }
	sy := func(v float64) float64 { return y0 - (y0-y1)*math.Min(v, ymax)/ymax }
	// Axes: five ticks each.
	for i := 0; i <= 4; i++ {
		yv := ymax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" class="grid"/><text x="%g" y="%.1f" class="ytick">%s</text>`, x0, x1, sy(yv), sy(yv), x0-4, sy(yv)+4, tick(yv))
		xv := xmax * float64(i) / 4
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" class="xtick">%s</text>`, sx(xv), y0+16, tick(math.Round(xv)))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="xlabel">request</text>`, x1, y0+26)
	// Threshold.
	if thr > 0 {
		var pts []string
		for _, p := range d.Points {
			if !math.IsNaN(p.Threshold) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(float64(p.Seq)), sy(p.Threshold)))
			}
		}
		if len(pts) == 1 {
			pts = append([]string{fmt.Sprintf("%.1f,%.1f", x0, sy(d.Points[0].Threshold))}, pts[0], fmt.Sprintf("%.1f,%.1f", x1, sy(d.Points[0].Threshold)))
		}
		fmt.Fprintf(&b, `<polyline points="%s" class="thr"/>`, strings.Join(pts, " "))
	}
	// Statistic.
	var pts []string
	for _, p := range d.Points {
		if math.IsNaN(p.Stat) {
			continue
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(float64(p.Seq)), sy(p.Stat)))
	}
	fmt.Fprintf(&b, `<polyline points="%s" class="stat"/>`, strings.Join(pts, " "))
	for _, p := range d.Points {
		cx, cy := sx(float64(p.Seq)), sy(p.Stat)
		switch {
		case p.Stat > ymax:
			cls := "over"
			if p.Fired {
				cls = "over fired"
			}
			fmt.Fprintf(&b, `<path d="M%.1f %.1f l-4 7 h8 z" class="%s"><title>request %d: %s (off scale)</title></path>`, cx, y1, cls, p.Seq, tick(p.Stat))
		case p.Fired:
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" class="fired"><title>request %d: %s, threshold %s</title></circle>`, cx, cy, p.Seq, tick(p.Stat), tick(p.Threshold))
		case len(d.Points) <= 60:
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2" class="pt"/>`, cx, cy)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func tick(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

var funcs = template.FuncMap{
	"num":  num,
	"p":    pstr,
	"ids":  func(s []string) string { return strings.Join(s, ", ") },
	"show": show,
}

// page is parsed on first use, not at start-up.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Funcs(funcs).Parse(pageHTML))
})

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>aigis monitor: {{len .Alerts}} alert(s)</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 2px}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top;font-size:13px}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.meta{color:#57606a}.badge{display:inline-block;border-radius:10px;padding:1px 9px;margin-right:6px;font-weight:600;font-size:13px}
.trigger,.swap,.canary,.integrity{background:#ffebe9;color:#a40e26}.drift,.llm{background:#fff8c5;color:#7d4e00}.ok{background:#dafbe1;color:#116329}
svg.plot{max-width:100%;height:auto;display:block}
.frame{fill:#fbfbfc;stroke:#d0d7de}.grid{stroke:#eaeef2}.ytick{font-size:10px;text-anchor:end;fill:#57606a}.xtick{font-size:10px;text-anchor:middle;fill:#57606a}
.xlabel{font-size:10px;text-anchor:end;fill:#57606a}.empty{font-size:12px;text-anchor:middle;fill:#57606a}
.stat{fill:none;stroke:#0969da;stroke-width:1.6}.thr{fill:none;stroke:#cf222e;stroke-width:1.2;stroke-dasharray:5 4}
.pt{fill:#0969da}.fired{fill:#cf222e}.over{fill:#0969da}.over.fired{fill:#cf222e}
.legend span{margin-right:14px;font-size:12px;color:#57606a}.key{display:inline-block;width:18px;height:0;border-top:2px solid #0969da;vertical-align:middle;margin-right:4px}
.key.t{border-top:2px dashed #cf222e}
code{font-size:12px}details{margin-top:4px}summary{cursor:pointer;color:#57606a;font-size:12px}dl{margin:4px 0;font-size:12px;display:grid;grid-template-columns:max-content 1fr;gap:2px 10px}dt{color:#57606a}dd{margin:0;word-break:break-word}
</style>
</head>
<body>
<h1>aigis monitor analyze</h1>
<p class="meta">{{.Tool}} {{.Version}} · baseline <code>{{.Baseline.Path}}</code> ({{.Baseline.Requests}} requests) · traffic {{range $i, $t := .Traffic}}{{if $i}}, {{end}}<code>{{$t.Path}}</code> ({{$t.Requests}}){{end}}</p>
<p class="meta">Windows of {{.Settings.Window}} requests (trigger: sliding {{.Settings.TriggerWindow}}); family-wise false-alarm level {{.Settings.Alpha}} over {{.Settings.Horizon}} windows, split among the tests (Bonferroni); above {{.Settings.LargeWindow}} rows a window is judged by distance (PSI {{.Settings.PSI}}, JS {{.Settings.JS}}, Wasserstein {{.Settings.Wasserstein}}).</p>
<p>{{if .Alerts}}{{range .Kinds}}<span class="badge {{.Kind}}">{{.Count}} {{.Kind}}</span>{{end}}{{else}}<span class="badge ok">no alerts</span>{{end}}</p>

<h2>Alerts</h2>
{{if .Sorted}}<table>
<thead><tr><th>request</th><th>detector</th><th>kind</th><th>statistic</th><th>value</th><th>threshold</th><th>p-value</th><th>message</th><th>sample requests</th></tr></thead>
<tbody>{{range .Sorted}}<tr><td class="n">{{.Seq}}</td><td>{{.Detector}}</td><td><span class="badge {{.Kind}}">{{.Kind}}</span></td><td>{{.Statistic}}</td><td class="n">{{num .Value}}</td><td class="n">{{num .Threshold}}</td><td class="n">{{p .P}}</td><td>{{.Message}}{{if .Evidence.Details}}<details><summary>evidence</summary><dl>{{range $k, $v := .Evidence.Details}}<dt>{{$k}}</dt><dd>{{show $v}}</dd>{{end}}</dl></details>{{end}}</td><td><code>{{ids .Evidence.RequestIDs}}</code></td></tr>
{{end}}</tbody></table>{{if .Suppressed}}<p class="meta">{{.Suppressed}} repeat(s) of open alerts were not raised again.</p>{{end}}
{{else}}<p>No detector crossed its threshold.</p>{{end}}

<h2>Detectors over time</h2>
<p class="legend"><span><i class="key"></i>statistic</span><span><i class="key t"></i>threshold</span><span>red: alert</span><span>p-value tests are drawn as −log10 p against −log10 of their threshold</span></p>
{{range .Plots}}<section>
<h3>{{.Name}} <span class="badge {{.Kind}}">{{.Kind}}</span>{{if .Alerts}} <span class="badge {{.Kind}}">{{.Alerts}} alert(s)</span>{{end}}</h3>
<p class="meta">{{.Describe}}</p>
{{.SVG}}
</section>
{{end}}
{{if .Skipped}}<h2>Not run</h2><ul>{{range .Skipped}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body>
</html>
`

// show renders an evidence value compactly: numbers to four significant
// digits, lists and maps inline.
func show(v any) string {
	switch x := v.(type) {
	case float64:
		return num(x)
	case []map[string]any:
		parts := make([]string, len(x))
		for i, m := range x {
			parts[i] = show(m)
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " " + show(x[k])
		}
		return strings.Join(parts, ", ")
	case map[string]float64:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = v
		}
		return show(m)
	case []string:
		return strings.Join(x, ", ")
	}
	return fmt.Sprint(v)
}
