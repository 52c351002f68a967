package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/report"
)

func sample() *report.Report {
	r := &report.Report{Tool: "aigis", Version: "test", Command: "scan"}
	a := report.Artifact{Path: "models/x y.pt", Format: "pytorch-zip"}
	a.Add(report.Finding{Rule: "pickle-process-exec", Severity: report.SeverityCritical, Verdict: report.Malicious,
		Message: "imports os.system\nand calls it", Location: "x/data.pkl@57", Reason: "Runs commands."})
	a.Add(report.Finding{Rule: "truncated", Severity: report.SeverityMedium, Verdict: report.Invalid, Location: "@99"})
	d := report.Artifact{Path: "proj/requirements.txt", Format: "python/requirements"}
	d.Add(report.Finding{Rule: "PYSEC-1", Severity: report.SeverityHigh, Verdict: report.Suspicious, Location: "requirements.txt:12"})
	d.Add(report.Finding{Rule: "MAL-1", Severity: report.SeverityCritical, Verdict: report.Malicious, Location: "x@2"})
	r.Artifacts = append(r.Artifacts, report.Artifact{Path: "models/clean.pt", Format: "pytorch-zip"}, a, d)
	r.Finish()
	return r
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := Encode("table", &b, sample()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"models/x y.pt", "MALICIOUS", "pickle-process-exec at x/data.pkl@57", "imports os.system and calls it", "3 artifacts: 2 malicious, 1 clean"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "models/clean.pt") {
		t.Error("clean artifacts are counted, not listed")
	}
}

func TestCheck(t *testing.T) {
	for _, f := range Formats() {
		if err := Check(f); err != nil {
			t.Error(err)
		}
	}
	if err := Check("xml"); err == nil {
		t.Error("unknown format accepted")
	}
}

// The streaming JSON writer gives the bytes encoding/json gives for the
// whole report.
func TestJSONStreamEqualsWholeReport(t *testing.T) {
	r := sample()
	var b bytes.Buffer
	if err := Encode("json", &b, r); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	if b.String() != want.String() {
		t.Errorf("stream:\n%s\nwhole:\n%s", b.String(), want.String())
	}
}

// Every format writes as the artifacts come: what an artifact adds is on
// the writer before the next one is handed over.
func TestWritersStream(t *testing.T) {
	for _, f := range Formats() {
		var b bytes.Buffer
		w, err := New(f, &b, Meta{Tool: "aigis", Command: "scan"})
		if err != nil {
			t.Fatal(err)
		}
		r := sample()
		before := b.Len()
		w.Artifact(&r.Artifacts[1])
		if b.Len() == before || !strings.Contains(b.String(), "pickle-process-exec") {
			t.Errorf("%s: nothing written after the first artifact: %q", f, b.String())
		}
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	}
}

// No artifacts is an empty list, with or without Finish: readers index
// into "artifacts" without a null check.
func TestJSONEmptyArtifacts(t *testing.T) {
	for _, finish := range []bool{true, false} {
		r := &report.Report{Tool: "aigis", Version: "test", Command: "deps"}
		if finish {
			r.Finish()
		}
		var b bytes.Buffer
		if err := Encode("json", &b, r); err != nil {
			t.Fatal(err)
		}
		var generic map[string]json.RawMessage
		if err := json.Unmarshal(b.Bytes(), &generic); err != nil {
			t.Fatal(err)
		}
		if got := string(generic["artifacts"]); got != "[]" {
			t.Errorf("finish=%v: \"artifacts\": %s, want []\n%s", finish, got, b.String())
		}
		if r.Artifacts == nil && finish {
			t.Error("Finish left Artifacts nil")
		}
	}
}
