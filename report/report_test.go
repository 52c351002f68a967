package report

import (
	"encoding/json"
	"testing"
)

func TestVerdictOrderAndAdd(t *testing.T) {
	var a Artifact
	a.Add(Finding{Rule: "x", Verdict: Invalid, Severity: SeverityMedium})
	a.Add(Finding{Rule: "y", Verdict: Suspicious, Severity: SeverityLow})
	if a.Verdict != Suspicious {
		t.Fatalf("verdict %v", a.Verdict)
	}
	a.Add(Finding{Rule: "z", Verdict: Inconclusive})
	if a.Verdict != Suspicious {
		t.Fatalf("a lesser verdict lowered the artifact: %v", a.Verdict)
	}
	if m, _ := a.MaxSeverity(); m != SeverityMedium {
		t.Fatalf("max severity %v", m)
	}
}

func TestJSONNames(t *testing.T) {
	r := &Report{Artifacts: []Artifact{{Path: "b"}, {Path: "a", Verdict: Malicious, Findings: []Finding{{Rule: "r", Severity: SeverityCritical, Verdict: Malicious, Location: "x@1"}}}}}
	r.Finish()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var generic struct {
		Artifacts []map[string]any `json:"artifacts"`
	}
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	// Finish keeps the producer's order (scan's is the walk's).
	first := generic.Artifacts[1]
	if first["path"] != "a" || first["verdict"] != "malicious" {
		t.Fatalf("reordered or wrong names: %v", first)
	}
	f := first["findings"].([]any)[0].(map[string]any)
	if f["severity"] != "critical" || f["location"] != "x@1" || f["rule"] != "r" {
		t.Fatalf("finding fields: %v", f)
	}
	if generic.Artifacts[0]["findings"] == nil {
		t.Fatal("clean artifact must carry an empty findings list, not null")
	}
	back, err := Decode(b)
	if err != nil || back.Artifacts[1].Findings[0].Severity != SeverityCritical {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	if !r.Fails(Gate{Threshold: SeverityHigh}) || r.Fails(Gate{Threshold: SeverityCritical + 1}) {
		t.Fatal("Fails threshold")
	}
}

func TestGate(t *testing.T) {
	mal := Artifact{}
	mal.Add(Finding{Rule: "m", Severity: SeverityCritical, Verdict: Malicious})
	low := Artifact{}
	low.Add(Finding{Rule: "l", Severity: SeverityLow, Verdict: Suspicious})
	var inc [3]Artifact
	for i, v := range []Verdict{Invalid, Inconclusive, Unsupported} {
		inc[i].Add(Finding{Rule: "i", Severity: SeverityLow, Verdict: v})
	}
	clean := Artifact{}
	clean.Add(Finding{Rule: "c", Severity: SeverityInfo, Verdict: Clean})
	cases := []struct {
		g    Gate
		a    *Artifact
		fail bool
	}{
		{Gate{Threshold: SeverityHigh}, &mal, true},
		{Gate{Threshold: SeverityHigh, AllowIncomplete: true}, &mal, true},
		{Gate{NoThreshold: true, AllowIncomplete: true}, &mal, false},
		{Gate{Threshold: SeverityHigh}, &low, false},
		{Gate{Threshold: SeverityLow}, &low, true},
		{Gate{Threshold: SeverityHigh}, &inc[0], true},
		{Gate{Threshold: SeverityCritical}, &inc[1], true},
		{Gate{NoThreshold: true}, &inc[2], true},
		{Gate{Threshold: SeverityHigh, AllowIncomplete: true}, &inc[0], false},
		{Gate{Threshold: SeverityLow, AllowIncomplete: true}, &inc[1], true},
		{Gate{}, &clean, true}, // the zero gate fails on any finding
		{Gate{Threshold: SeverityLow}, &clean, false},
		{Gate{}, &Artifact{}, false},
	}
	for i, c := range cases {
		if got, why := c.g.Fails(c.a); got != c.fail || got && why == "" {
			t.Errorf("case %d: %+v on %s: %v %q", i, c.g, c.a.Verdict, got, why)
		}
	}
}

func TestParseNames(t *testing.T) {
	for _, s := range []string{"info", "LOW", "Medium", "high", "critical"} {
		if _, err := ParseSeverity(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Error("accepted unknown severity")
	}
	for v := Clean; v <= Malicious; v++ {
		if got, err := ParseVerdict(v.String()); err != nil || got != v {
			t.Errorf("verdict %v round trip: %v %v", v, got, err)
		}
	}
}

func TestFileLine(t *testing.T) {
	for _, c := range []struct {
		loc, file string
		line      int
	}{
		{"sub/modeling.py:3", "sub/modeling.py", 3},
		{"requirements.txt:12", "requirements.txt", 12},
		{"config.json", "config.json", 0},
		{"a.zip>b/data.pkl@57", "a.zip>b/data.pkl@57", 0},
		{"x:+3", "x:+3", 0},
		{"x:", "x:", 0},
		{":7", ":7", 0},
	} {
		if f, l := FileLine(c.loc); f != c.file || l != c.line {
			t.Errorf("FileLine(%q) = %q, %d; want %q, %d", c.loc, f, l, c.file, c.line)
		}
	}
}

func TestFinishEmptyArtifactsIsAList(t *testing.T) {
	r := &Report{Tool: "aigis", Command: "scan"}
	r.Finish()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]json.RawMessage
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	if got := string(generic["artifacts"]); got != "[]" {
		t.Fatalf(`"artifacts": %s, want []`, got)
	}
}
