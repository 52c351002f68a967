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

func TestSARIFStructure(t *testing.T) {
	var b bytes.Buffer
	if err := SARIF(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region *struct {
							ByteOffset int64 `json:"byteOffset"`
							StartLine  int   `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("header: %+v", log)
	}
	run := log.Runs[0]
	if len(run.Results) != 4 || len(run.Tool.Driver.Rules) != 4 {
		t.Fatalf("results %d rules %d", len(run.Results), len(run.Tool.Driver.Rules))
	}
	for _, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("ruleIndex %d does not point at %s", res.RuleIndex, res.RuleID)
		}
	}
	if u := run.Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI; u != "models/x%20y.pt" {
		t.Errorf("uri %q", u)
	}
	if run.Results[0].Level != "error" {
		t.Errorf("critical should be error, got %s", run.Results[0].Level)
	}
	if r := run.Results[1].Locations[0].PhysicalLocation.Region; r == nil || r.ByteOffset != 99 {
		t.Errorf("top-level offset should become a region: %+v", r)
	}
	if r := run.Results[2].Locations[0].PhysicalLocation.Region; r == nil || r.StartLine != 12 {
		t.Errorf("file:line should become a startLine: %+v", r)
	}
	if r := run.Results[3].Locations[0].PhysicalLocation.Region; r != nil {
		t.Errorf("pkg@version is neither an offset nor a line: %+v", r)
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
