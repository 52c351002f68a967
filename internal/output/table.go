package output

import (
	"fmt"
	"io"
	"strings"

	"github.com/aigis-dev/aigis/report"
)

// tableWriter writes, for each artifact that is not clean (or has
// findings), a line with its verdict, path and format and its findings
// indented beneath, as the artifacts come; then a summary line. Clean
// artifacts are counted, not listed: a model directory can hold thousands
// of files.
type tableWriter struct {
	w       io.Writer
	sum     report.Summary
	flagged int
	err     error
}

func newTable(w io.Writer, _ Meta) Writer { return &tableWriter{w: w, sum: report.NewSummary()} }

func (t *tableWriter) printf(format string, a ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, a...)
	}
}

func (t *tableWriter) Artifact(a *report.Artifact) error {
	t.sum.Add(a)
	if a.Verdict == report.Clean && len(a.Findings) == 0 {
		return t.err
	}
	if t.flagged > 0 {
		t.printf("\n")
	}
	t.flagged++
	t.printf("%-12s %s  (%s, %s)\n", strings.ToUpper(a.Verdict.String()), oneLine(a.Path), oneLine(a.Format), plural(len(a.Findings), "finding"))
	for _, f := range a.Findings {
		loc := ""
		if f.Location != "" {
			loc = " at " + oneLine(f.Location)
		}
		t.printf("  %-8s %s%s: %s\n", f.Severity, f.Rule, loc, oneLine(f.Message))
	}
	return t.err
}

func (t *tableWriter) Close() error {
	if t.flagged > 0 {
		t.printf("\n")
	}
	t.printf("%s\n", summaryLine(t.sum))
	return t.err
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func summaryLine(s report.Summary) string {
	var parts []string
	for v := report.Malicious; v >= report.Clean; v-- {
		if n := s.Verdicts[v.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, v))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing found")
	}
	return fmt.Sprintf("%s: %s", plural(s.Artifacts, "artifact"), strings.Join(parts, ", "))
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
