package output

import (
	"bytes"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/sarifschema"
	"github.com/aigis-dev/aigis/report"
)

// root is the %SRCROOT% of the tests: the working directory they pretend
// aigis ran in.
var root = filepath.FromSlash("/work/repo")

func encode(t *testing.T, r *report.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := encodeSARIF(&b, r, root); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// check encodes r and checks it against GitHub's rules, and against the
// SARIF schema when the shared material is there (TestSARIFSchema
// insists on it).
func check(t *testing.T, r *report.Report) *sarifschema.Log {
	t.Helper()
	return checkDoc(t, encode(t, r))
}

func checkDoc(t *testing.T, doc []byte) *sarifschema.Log {
	t.Helper()
	if _, ok := testutil.SharedPath("schemas", "sarif", sarifschema.File); ok {
		return sarifschema.Load(t).Check(t, doc)
	}
	return sarifschema.CheckGitHub(t, doc)
}

func TestSARIFSchema(t *testing.T) {
	sch := sarifschema.Load(t)
	for _, r := range []*report.Report{sample(), {}} {
		sch.Check(t, encode(t, r))
	}
}

func loc(res sarifschema.Result) (uri string, line int, off int64, logical string) {
	pl := res.Locations[0].PhysicalLocation
	off = -1
	if pl.Region.ByteOffset != nil {
		off = *pl.Region.ByteOffset
	}
	if ll := res.Locations[0].LogicalLocations; len(ll) > 0 {
		logical = ll[0].FullyQualifiedName
	}
	return pl.ArtifactLocation.URI, pl.Region.StartLine, off, logical
}

func TestSARIFStructure(t *testing.T) {
	log := check(t, sample())
	if len(log.Runs) != 1 {
		t.Fatalf("runs: %d", len(log.Runs))
	}
	run := log.Runs[0]
	if len(run.Results) != 4 || len(run.Tool.Driver.Rules) != 4 {
		t.Fatalf("results %d rules %d", len(run.Results), len(run.Tool.Driver.Rules))
	}
	if b := run.OriginalURIBaseIDs["%SRCROOT%"].URI; b != "file:///work/repo/" && filepath.Separator == '/' {
		t.Errorf("%%SRCROOT%% = %q", b)
	}
	byRule := map[string]sarifschema.Result{}
	for _, res := range run.Results {
		byRule[res.RuleID] = res
	}
	exec := byRule["pickle-process-exec"]
	if u, line, off, logical := loc(exec); u != "models/x%20y.pt" || line != 1 || off != -1 || logical != "x/data.pkl@57" {
		t.Errorf("nested member: uri %q line %d offset %d logical %q", u, line, off, logical)
	}
	if exec.Level != "error" || exec.Kind != "" || !strings.HasSuffix(exec.Message.Text, "(at x/data.pkl@57)") {
		t.Errorf("critical finding: %+v", exec)
	}
	if exec.Properties["location"] != "x/data.pkl@57" || exec.Properties["verdict"] != "malicious" {
		t.Errorf("properties: %v", exec.Properties)
	}
	if _, line, off, logical := loc(byRule["truncated"]); line != 1 || off != 99 || logical != "" {
		t.Errorf("top-level offset: line %d offset %d logical %q", line, off, logical)
	}
	if m := byRule["truncated"].Message.Text; m != "truncated (at byte 99)" {
		t.Errorf("empty message: %q", m)
	}
	if u, line, off, _ := loc(byRule["PYSEC-1"]); u != "proj/requirements.txt" || line != 12 || off != -1 {
		t.Errorf("file:line: uri %q line %d offset %d", u, line, off)
	}
	if _, line, off, logical := loc(byRule["MAL-1"]); line != 1 || off != -1 || logical != "x@2" {
		t.Errorf("pkg@version: line %d offset %d logical %q", line, off, logical)
	}
	for _, r := range run.Tool.Driver.Rules {
		switch r.ID {
		case "pickle-process-exec":
			if r.Default.Level != "error" || r.Properties["security-severity"] != "9.5" || r.FullDescription.Text != "Runs commands." {
				t.Errorf("rule: %+v", r)
			}
		case "truncated":
			if r.Default.Level != "warning" || r.Properties["security-severity"] != "5.5" {
				t.Errorf("rule: %+v", r)
			}
		}
	}
}

// Paths become URIs GitHub resolves in the checkout: relative to the
// working directory when inside it, absolute file URIs otherwise, every
// odd character percent-encoded.
func TestSARIFArtifactURIs(t *testing.T) {
	abs := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	for _, c := range []struct{ path, uri, base string }{
		{"models/a.pt", "models/a.pt", "%SRCROOT%"},
		{"./models/a.pt", "models/a.pt", "%SRCROOT%"},
		{abs("models/a.pt"), "models/a.pt", "%SRCROOT%"},
		{".", "./", "%SRCROOT%"},
		{root, "./", "%SRCROOT%"},
		{"a b/c#d%e?f.pt", "a%20b/c%23d%25e%3Ff.pt", "%SRCROOT%"},
		{"x:y/ü[1].pt", "x%3Ay/%C3%BC%5B1%5D.pt", "%SRCROOT%"},
		{"../other/m.pt", "file:///work/other/m.pt", ""},
		{"/tmp/m n.pt", "file:///tmp/m%20n.pt", ""},
	} {
		if filepath.Separator != '/' && strings.HasPrefix(c.uri, "file:") {
			continue
		}
		r := &report.Report{Artifacts: []report.Artifact{{Path: c.path, Findings: []report.Finding{{Rule: "r", Severity: report.SeverityHigh, Verdict: report.Suspicious}}}}}
		log := check(t, r)
		al := log.Runs[0].Results[0].Locations[0].PhysicalLocation.ArtifactLocation
		if al.URI != c.uri || al.URIBaseID != c.base {
			t.Errorf("%q: uri %q base %q, want %q %q", c.path, al.URI, al.URIBaseID, c.uri, c.base)
		}
	}
}

// Run at the file system root, %SRCROOT% is still one absolute URI
// ending in a single slash.
func TestSARIFRootDirectory(t *testing.T) {
	if filepath.Separator != '/' {
		t.Skip("Unix paths")
	}
	var b bytes.Buffer
	r := &report.Report{Artifacts: []report.Artifact{{Path: "etc/m.pt", Findings: []report.Finding{{Rule: "r", Severity: report.SeverityLow, Verdict: report.Suspicious}}}}}
	if err := encodeSARIF(&b, r, "/"); err != nil {
		t.Fatal(err)
	}
	run := checkDoc(t, b.Bytes()).Runs[0]
	if u := run.OriginalURIBaseIDs["%SRCROOT%"].URI; u != "file:///" {
		t.Errorf("%%SRCROOT%% = %q", u)
	}
	if u := run.Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI; u != "etc/m.pt" {
		t.Errorf("uri %q", u)
	}
}

// A repository directory reports "sub/modeling.py:3": the result is on
// that file and line. The same finding attributed to the file's own
// artifact is the same result, written once.
func TestSARIFDirectoryFindings(t *testing.T) {
	f := report.Finding{Rule: "python-sink-on-load", Severity: report.SeverityCritical, Verdict: report.Malicious, Message: "os.system on load", Location: "sub/modeling.py:3"}
	cfg := report.Finding{Rule: "hf-remote-code", Severity: report.SeverityMedium, Verdict: report.Suspicious, Message: "auto_map", Location: "config.json"}
	r := &report.Report{}
	dir := report.Artifact{Path: "models/bert", Format: "hf-repo"}
	dir.Add(f)
	dir.Add(cfg)
	file := report.Artifact{Path: "models/bert/sub/modeling.py", Format: "other"}
	file.Add(f)
	conf := report.Artifact{Path: "models/bert/config.json", Format: "config"}
	conf.Add(cfg)
	r.Artifacts = []report.Artifact{file, conf, dir}
	r.Finish()
	run := check(t, r).Runs[0]
	var got []string
	for _, res := range run.Results {
		u, line, _, logical := loc(res)
		got = append(got, res.RuleID+" "+u+":"+itoa(line)+" "+logical)
	}
	// In walk order: the directory's own artifact after its files.
	want := []string{
		"python-sink-on-load models/bert/sub/modeling.py:3 ",
		"hf-remote-code models/bert/config.json:1 config.json",
		"hf-remote-code models/bert:1 config.json",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(n int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// Clean findings (a verified signature) are information: kind
// "informational", level "none", as the spec requires for a non-failure.
func TestSARIFInformational(t *testing.T) {
	r := &report.Report{Artifacts: []report.Artifact{{Path: "m/model.sig"}}}
	r.Artifacts[0].Add(report.Finding{Rule: "verified", Verdict: report.Clean, Message: "3 files match"})
	res := check(t, r).Runs[0].Results[0]
	if res.Kind != "informational" || res.Level != "none" {
		t.Errorf("kind %q level %q", res.Kind, res.Level)
	}
}

func TestSARIFEmpty(t *testing.T) {
	r := &report.Report{Tool: "aigis", Command: "deps"}
	r.Finish()
	run := check(t, r).Runs[0]
	if run.Results == nil || run.Tool.Driver.Rules == nil || len(run.Results) != 0 {
		t.Errorf("an empty run has empty lists: %+v", run)
	}
	if !bytes.Contains(encode(t, r), []byte(`"results": []`)) {
		t.Errorf("results not an empty list:\n%s", encode(t, r))
	}
}

// fingerprints maps rule, URI and raw location to the fingerprint.
func fingerprints(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	log := checkDoc(t, doc)
	m := map[string]string{}
	for _, res := range log.Runs[0].Results {
		u, _, _, _ := loc(res)
		m[res.RuleID+" "+u+" "+res.Properties["location"].(string)] = res.PartialFingerprints["aigis/v1"]
	}
	return m
}

// Fingerprints are the same for the same findings, whatever the order of
// the output; they survive a finding moving in its file and a changing
// count in its message, and change with what identifies the finding.
func TestSARIFFingerprints(t *testing.T) {
	a := encode(t, sample())
	if b := encode(t, sample()); !bytes.Equal(a, b) {
		t.Fatal("two encodings of one report differ")
	}
	base := fingerprints(t, a)
	if len(base) != 4 {
		t.Fatalf("fingerprints: %v", base)
	}
	for k, v := range base {
		if !strings.HasSuffix(v, ":1") || len(v) != 34 {
			t.Errorf("%s: fingerprint %q", k, v)
		}
	}

	// Reversed artifact and finding order: the same fingerprints.
	r := sample()
	sort.Slice(r.Artifacts, func(i, j int) bool { return r.Artifacts[i].Path > r.Artifacts[j].Path })
	for i := range r.Artifacts {
		fs := r.Artifacts[i].Findings
		for l, h := 0, len(fs)-1; l < h; l, h = l+1, h-1 {
			fs[l], fs[h] = fs[h], fs[l]
		}
	}
	if got := fingerprints(t, encode(t, r)); !equalMaps(got, base) {
		t.Errorf("order changed fingerprints:\n%v\n%v", got, base)
	}

	// Moved by some lines or bytes, with other numbers in the message:
	// the same fingerprint.
	r = sample()
	r.Artifacts[1].Findings[0].Location = "x/data.pkl@4096"
	r.Artifacts[1].Findings[0].Message = strings.Replace(r.Artifacts[1].Findings[0].Message, "os.system", "os.system 3 times at 0x1f", 1)
	r.Artifacts[2].Findings[0].Location = "requirements.txt:14"
	moved := fingerprints(t, encode(t, r))
	for k, v := range base {
		k2 := strings.Replace(strings.Replace(k, "@57", "@4096", 1), ":12", ":14", 1)
		if moved[k2] != v && !strings.Contains(k, "pickle-process-exec") {
			t.Errorf("%s moved: fingerprint %q, was %q", k, moved[k2], v)
		}
	}
	if moved["pickle-process-exec models/x%20y.pt x/data.pkl@4096"] == base["pickle-process-exec models/x%20y.pt x/data.pkl@57"] {
		t.Error("a message with other words kept its fingerprint")
	}
	one := func(msg, at string) string {
		r := &report.Report{Artifacts: []report.Artifact{{Path: "m.pkl"}}}
		r.Artifacts[0].Add(report.Finding{Rule: "pickle-process-exec", Severity: report.SeverityCritical, Verdict: report.Malicious, Message: msg, Location: at})
		return fingerprints(t, encode(t, r))["pickle-process-exec m.pkl "+at]
	}
	if a, b := one("calls os.system 2 times, 14 bytes in", "x>y@57"), one("calls os.system 5 times, 20 bytes in", "x>y@60"); a != b || a == "" {
		t.Errorf("numbers and offset changed the fingerprint: %q %q", a, b)
	}
	if a, b := one("calls os.system", "x>y@57"), one("calls os.system", "x>z@57"); a == b {
		t.Errorf("another member kept the fingerprint: %q", a)
	}
	if a, b := one("calls os.system", "@57"), one("calls os.popen", "@57"); a == b {
		t.Errorf("another message kept the fingerprint: %q", a)
	}

	// Two findings that differ only by offset are told apart by their
	// occurrence, not merged.
	r = &report.Report{Artifacts: []report.Artifact{{Path: "m.pkl"}}}
	r.Artifacts[0].Add(report.Finding{Rule: "pickle-process-exec", Severity: report.SeverityCritical, Verdict: report.Malicious, Message: "imports os.system", Location: "@10"})
	r.Artifacts[0].Add(report.Finding{Rule: "pickle-process-exec", Severity: report.SeverityCritical, Verdict: report.Malicious, Message: "imports os.system", Location: "@90"})
	twins := fingerprints(t, encode(t, r))
	f10, f90 := twins["pickle-process-exec m.pkl @10"], twins["pickle-process-exec m.pkl @90"]
	if f10 == f90 || f10[:32] != f90[:32] || !strings.HasSuffix(f10, ":1") || !strings.HasSuffix(f90, ":2") {
		t.Errorf("twins: %q %q", f10, f90)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestNormaliseMessage(t *testing.T) {
	for in, want := range map[string]string{
		"only 1 of 12 shared tensors changed (8.33%)":        "only # of # shared tensors changed (#.#%)",
		"litellm 1.82.7 is malicious (MAL-2026-2144)":        "litellm #.#.# is malicious (MAL-#-#)",
		"tensor layer5: max |change| 3.5e-05 at 0x1f":        "tensor layer5: max |change| #.#-# at #",
		"digest sha256:deadbeefdeadbeefdeadbeef differs":     "digest sha256:# differs",
		"imports os.system from python3 (builtins.exec)":     "imports os.system from python3 (builtins.exec)",
		"tokenizer.json: 7 bytes, signed 9; content differs": "tokenizer.json: # bytes, signed #; content differs",
	} {
		if got := normaliseMessage(in); got != want {
			t.Errorf("normaliseMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFirstSentence(t *testing.T) {
	for in, want := range map[string]string{
		"Runs commands.": "Runs commands.",
		"A truncated file is malformed; loaders may still have acted on the part before the cut.": "A truncated file is malformed; loaders may still have acted on the part before the cut.",
		"Budgets bound every parser. Content past a limit is not checked.":                        "Budgets bound every parser.",
		"Some tools (e.g. Foo) do this. Others do not.":                                           "Some tools (e.g. Foo) do this.",
		"version 1.2 is old. Upgrade.":                                                            "version 1.2 is old.",
		"a file nobody signed can change what loading the model does":                             "a file nobody signed can change what loading the model does",
	} {
		if got := firstSentence(in); got != want {
			t.Errorf("firstSentence(%q) = %q, want %q", in, got, want)
		}
	}
}
