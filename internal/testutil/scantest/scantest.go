// Package scantest runs the whole scan engine over in-memory fixtures, so
// each analyser's tests exercise dispatch, recursion and budgets exactly
// as a real scan does.
package scantest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

// Bytes writes data to a temporary file called name and scans it.
func Bytes(t testing.TB, name string, data []byte) report.Artifact {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return scan.New(scan.Options{}).ScanFile(context.Background(), p, name)
}

// Has returns the first finding with this rule, or nil.
func Has(a report.Artifact, rule string) *report.Finding {
	for i := range a.Findings {
		if a.Findings[i].Rule == rule {
			return &a.Findings[i]
		}
	}
	return nil
}

// Dump renders findings for failure messages.
func Dump(a report.Artifact) string {
	var b strings.Builder
	b.WriteString(" [" + a.Format + " " + a.Verdict.String() + "]")
	for _, f := range a.Findings {
		b.WriteString("\n  " + f.Severity.String() + " " + f.Rule + " " + f.Location + ": " + f.Message)
	}
	return b.String()
}

// Case is a table entry: a fixture and what the scan must conclude.
type Case struct {
	Name    string
	File    string // file name (default "x.bin")
	Data    []byte
	Verdict report.Verdict
	Format  string   // expected format, if set
	Rules   []string // findings that must be present
	InMsg   string   // text some message or location must contain
}

// Run checks every case.
func Run(t *testing.T, cases []Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			name := c.File
			if name == "" {
				name = "x.bin"
			}
			a := Bytes(t, name, c.Data)
			if a.Verdict != c.Verdict {
				t.Errorf("verdict %s, want %s%s", a.Verdict, c.Verdict, Dump(a))
			}
			if c.Format != "" && a.Format != c.Format {
				t.Errorf("format %s, want %s%s", a.Format, c.Format, Dump(a))
			}
			for _, r := range c.Rules {
				if Has(a, r) == nil {
					t.Errorf("missing finding %s%s", r, Dump(a))
				}
			}
			if c.InMsg != "" && !strings.Contains(Dump(a), c.InMsg) {
				t.Errorf("nothing mentions %q%s", c.InMsg, Dump(a))
			}
		})
	}
}

// Memory scans data without touching the filesystem (for fuzzing).
func Memory(data []byte, name string) report.Artifact {
	return engine.ScanReaderAt(context.Background(), bytes.NewReader(data), int64(len(data)), name)
}

var engine = scan.New(scan.Options{Workers: 1})

// Fuzz is the invariant every analyser's fuzz target checks: whatever the
// bytes, the scan finishes quickly and without an analyser panic (which
// ScanReaderAt turns into an internal-error finding).
func Fuzz(t *testing.T, data []byte, name string) report.Artifact {
	start := time.Now()
	a := Memory(data, name)
	if f := Has(a, "internal-error"); f != nil {
		t.Fatalf("analyser panic on %d bytes: %s", len(data), f.Message)
	}
	// Inputs are small (a few KiB): anything slow is a complexity bug.
	if d := time.Since(start); d > 2*time.Second && len(data) < 1<<20 {
		t.Fatalf("%d bytes took %v%s", len(data), d, Dump(a))
	}
	return a
}

// Dir writes files (slash-separated names relative to a new directory)
// and scans the directory with every file and directory analyser. It
// returns the directory's own artifact (zero if none) and the report.
func Dir(t testing.TB, files map[string][]byte) (report.Artifact, *report.Report) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := scan.New(scan.Options{}).Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range rep.Artifacts {
		if a.Path == dir {
			return a, rep
		}
	}
	return report.Artifact{}, rep
}
