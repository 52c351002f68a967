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
	r.Artifacts = append(r.Artifacts, a, d, report.Artifact{Path: "models/clean.pt", Format: "pytorch-zip"})
	r.Finish()
	return r
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := Table(&b, sample()); err != nil {
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

func TestLookup(t *testing.T) {
	for _, f := range Formats() {
		if _, err := Lookup(f); err != nil {
			t.Error(err)
		}
	}
	if _, err := Lookup("xml"); err == nil {
		t.Error("unknown format accepted")
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
		if err := JSON(&b, r); err != nil {
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
