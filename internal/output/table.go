package output

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aigis-dev/aigis/report"
)

// Table writes one line per artifact that is not clean (or has findings),
// its findings indented beneath, then a summary line. Clean artifacts are
// counted, not listed: a model directory can hold thousands of files.
func Table(w io.Writer, r *report.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var flagged []*report.Artifact
	for i := range r.Artifacts {
		a := &r.Artifacts[i]
		if a.Verdict == report.Clean && len(a.Findings) == 0 {
			continue
		}
		if len(flagged) == 0 {
			fmt.Fprintln(tw, "PATH\tFORMAT\tVERDICT\tFINDINGS")
		}
		flagged = append(flagged, a)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", a.Path, a.Format, strings.ToUpper(a.Verdict.String()), len(a.Findings))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range flagged {
		if len(a.Findings) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", a.Path)
		for _, f := range a.Findings {
			loc := ""
			if f.Location != "" {
				loc = " at " + oneLine(f.Location)
			}
			fmt.Fprintf(w, "  %-8s %s%s: %s\n", f.Severity, f.Rule, loc, oneLine(f.Message))
		}
	}
	if len(flagged) > 0 {
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintln(w, summaryLine(r))
	return err
}

func summaryLine(r *report.Report) string {
	var parts []string
	for v := report.Malicious; v >= report.Clean; v-- {
		if n := r.Summary.Verdicts[v.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, v))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing found")
	}
	return fmt.Sprintf("%d artifacts: %s", r.Summary.Artifacts, strings.Join(parts, ", "))
}

// oneLine keeps table rows on one line and bounded, whatever a hostile
// file put in a message.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	const max = 240
	if len(s) > max {
		cut := max
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
