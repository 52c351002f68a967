package deps

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/osvdb"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/report"
)

// fixtureDB builds a store from small records written here, so these
// tests mean something without ../shared.
func fixtureDB(t *testing.T, records ...string) *osvdb.DB {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "osv-scanner", "PyPI", "all.zip")
	os.MkdirAll(filepath.Dir(p), 0o755)
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i, r := range records {
		w, _ := zw.Create(strings.Repeat("r", i+1) + ".json")
		w.Write([]byte(r))
	}
	zw.Close()
	os.WriteFile(p, b.Bytes(), 0o644)
	return importDB(t, dir)
}

// importDB imports the exports under src into a fresh store and opens it.
func importDB(t *testing.T, src string) *osvdb.DB {
	t.Helper()
	dbp := filepath.Join(t.TempDir(), "osv.db")
	if _, err := osvdb.Import(context.Background(), dbp, src); err != nil {
		t.Fatal(err)
	}
	db, err := osvdb.Open(dbp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func write(t *testing.T, dir, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func torchZip() []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range []string{"model/data.pkl", "model/version", "model/data/0"} {
		w, _ := zw.Create(n)
		w.Write([]byte("\x80\x02}q\x00."))
	}
	zw.Close()
	return b.Bytes()
}

// ggufWithTemplate is a GGUF file whose header carries a chat template,
// which llama-cpp-python renders.
func ggufWithTemplate() []byte {
	return testutil.GGUF([]testutil.GGUFKV{{Key: "tokenizer.chat_template", Value: "{{ messages }}"}}, nil, nil)
}

var fixtureRecords = []string{
	// torch: two records for one CVE (aliases link them) and the
	// weights_only advisory the correlation names.
	`{"id":"PYSEC-T-1","aliases":["CVE-2025-32434"],"details":"torch.load weights_only RCE","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"}],"affected":[{"package":{"ecosystem":"PyPI","name":"torch"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.6.0"}]}]}]}`,
	`{"id":"GHSA-53q9-r3pm-6pq6","aliases":["CVE-2025-32434"],"summary":"torch.load RCE","database_specific":{"severity":"CRITICAL"},"affected":[{"package":{"ecosystem":"PyPI","name":"torch"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.6.0"}]}]}]}`,
	`{"id":"PYSEC-T-2","aliases":["CVE-2099-1"],"details":"unrelated torch bug","affected":[{"package":{"ecosystem":"PyPI","name":"torch"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}]}]}`,
	`{"id":"MAL-2026-2144","aliases":["PYSEC-2026-2"],"summary":"Malicious code in litellm (PyPI)","affected":[{"package":{"ecosystem":"PyPI","name":"litellm"},"versions":["1.82.7","1.82.8"]}]}`,
	`{"id":"PYSEC-N-1","details":"numpy bug","affected":[{"package":{"ecosystem":"PyPI","name":"numpy"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.22.0"}]}]}]}`,
}

func findings[R ~string](a report.Artifact, rule R) []report.Finding {
	var out []report.Finding
	for _, f := range a.Findings {
		if f.Rule == string(rule) {
			out = append(out, f)
		}
	}
	return out
}

func artifact(t *testing.T, r *report.Report, suffix string) report.Artifact {
	t.Helper()
	for _, a := range r.Artifacts {
		if strings.HasSuffix(a.Path, suffix) {
			return a
		}
	}
	t.Fatalf("no artifact %s in %+v", suffix, r.Artifacts)
	return report.Artifact{}
}

func TestScan_MLProject(t *testing.T) {
	db := fixtureDB(t, fixtureRecords...)
	dir := t.TempDir()
	write(t, dir, "requirements.txt", []byte(`--extra-index-url https://download.pytorch.org/whl/cu121
torch==2.5.1+cu121
numpy>=1.20
litellm==1.82.7
pytorch-mutex==1.0
`))
	write(t, dir, "models/classifier.pt", torchZip())
	write(t, dir, "llm/env.yml", nil)
	write(t, dir, "llm/pyproject.toml", []byte("[project]\nname = \"chat\"\ndependencies = [\"llama-cpp-python==0.2.50\", \"deepseeek\"]\n"))
	write(t, dir, "llm/model.gguf", ggufWithTemplate())
	write(t, dir, "broken/poetry.lock", []byte("[[package]\nname = "))
	write(t, dir, ".git/requirements.txt", []byte("litellm==1.82.7\n"))
	rep, err := Scan(context.Background(), []string{dir}, Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Artifacts) != 3 {
		t.Fatalf("want 3 manifests (.git skipped), got %d: %+v", len(rep.Artifacts), rep.Artifacts)
	}

	req := artifact(t, rep, "requirements.txt")
	// torch: one finding for the CVE-2025-32434 group, escalated by the
	// pickle checkpoint, and one for the unrelated record? No: PYSEC-T-2
	// is fixed in 1.0, so 2.5.1+cu121 is not affected.
	tf := findings(req, "GHSA-53q9-r3pm-6pq6")
	if len(tf) != 1 || tf[0].Severity != report.SeverityCritical || !strings.Contains(tf[0].Message, "EXERCISED by 1 model file (") ||
		!strings.Contains(tf[0].Message, "PYSEC-T-1") || !strings.Contains(tf[0].Message, "fixed in 2.6.0") || tf[0].Location != "requirements.txt:2" {
		t.Errorf("torch group: %+v", tf)
	}
	if len(findings(req, "PYSEC-T-1"))+len(findings(req, "PYSEC-T-2")) != 0 {
		t.Error("alias group split, or a fixed record matched")
	}
	if len(findings(req, "deps-ml-torch-load-pickle")) != 0 {
		t.Error("correlation reported twice: it must escalate the matching advisory")
	}
	mal := findings(req, "MAL-2026-2144")
	if len(mal) != 1 || mal[0].Verdict != report.Malicious || mal[0].Severity != report.SeverityCritical || !strings.Contains(mal[0].Message, "PYSEC-2026-2") {
		t.Errorf("litellm: %+v", mal)
	}
	if nl := findings(req, rules.DepsNotLocked); len(nl) != 1 || !strings.Contains(nl[0].Message, "numpy") || nl[0].Severity != report.SeverityLow {
		t.Errorf("numpy>=1.20 must be 'not locked' (the DB has a numpy advisory), never matched at 1.20: %+v", nl)
	}
	if len(findings(req, "PYSEC-N-1")) != 0 {
		t.Error("numpy>=1.20 matched against its lower bound")
	}
	if im := findings(req, rules.DepsImpersonation); len(im) != 1 || !strings.Contains(im[0].Message, "pytorch-mutex") {
		t.Errorf("pytorch-mutex: %+v", im)
	}
	if ei := findings(req, "deps-extra-index"); len(ei) != 1 || ei[0].Location != "requirements.txt:1" {
		t.Errorf("extra index: %+v", ei)
	}
	if req.Verdict != report.Malicious {
		t.Errorf("verdict %v", req.Verdict)
	}

	py := artifact(t, rep, filepath.Join("llm", "pyproject.toml"))
	if c := findings(py, "deps-ml-llama-cpp-python-chat-template"); len(c) != 1 || c[0].Severity != report.SeverityCritical || !strings.Contains(c[0].Message, "model.gguf") {
		t.Errorf("llama-cpp-python correlation without a DB record: %+v", py.Findings)
	}
	if ts := findings(py, rules.DepsTyposquat); len(ts) != 1 || !strings.Contains(ts[0].Message, "deepseek") {
		t.Errorf("deepseeek: %+v", py.Findings)
	}

	bad := artifact(t, rep, filepath.Join("broken", "poetry.lock"))
	if f := findings(bad, rules.DepsManifestInvalid); len(f) != 1 || bad.Verdict != report.Invalid || !strings.Contains(f[0].Message, filepath.Join("broken", "poetry.lock")) {
		t.Errorf("malformed lockfile: %+v", bad)
	}
}

func TestScan_WithoutDatabaseStillRunsNameAndModelChecks(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "requirements.txt", []byte("pytorch-mutex==1.0\ntorch==2.0.0\n"))
	write(t, dir, "ckpt.bin", torchZip()) // content, not the name, makes it a checkpoint
	rep, err := Scan(context.Background(), []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Artifacts[0]
	if len(findings(a, rules.DepsImpersonation)) != 1 || len(findings(a, "deps-ml-torch-load-pickle")) != 1 {
		t.Errorf("%+v", a.Findings)
	}
}

func TestScan_UnlockedRequirementBesideLockfileIsNotReported(t *testing.T) {
	db := fixtureDB(t, fixtureRecords...)
	dir := t.TempDir()
	write(t, dir, "pyproject.toml", []byte("[project]\nname = \"x\"\ndependencies = [\"numpy>=1.20\", \"rich\"]\n"))
	write(t, dir, "uv.lock", []byte("version = 1\n[[package]]\nname = \"numpy\"\nversion = \"1.21.0\"\nsource = { registry = \"https://pypi.org/simple\" }\n"))
	rep, err := Scan(context.Background(), []string{dir}, Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	py := artifact(t, rep, "pyproject.toml")
	nl := findings(py, rules.DepsNotLocked)
	if len(nl) != 1 || !strings.Contains(nl[0].Message, "rich") {
		t.Errorf("only rich is unlocked (numpy is locked by uv.lock): %+v", nl)
	}
	if f := findings(artifact(t, rep, "uv.lock"), "PYSEC-N-1"); len(f) != 1 || f[0].Location != "uv.lock:3" {
		t.Errorf("numpy 1.21.0 in uv.lock: %+v", f)
	}
}

func TestScan_EcosystemMissingFromDatabaseIsInconclusive(t *testing.T) {
	db := fixtureDB(t, fixtureRecords...)
	dir := t.TempDir()
	write(t, dir, "go.mod", []byte("module x\n\ngo 1.22\n\nrequire golang.org/x/text v0.3.0\n"))
	rep, err := Scan(context.Background(), []string{dir}, Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Artifacts[0]
	if f := findings(a, rules.DepsNoAdvisoryData); len(f) != 1 || a.Verdict != report.Inconclusive || !strings.Contains(f[0].Message, "1 locked Go packages") {
		t.Errorf("%+v", a)
	}
}

func TestScan_SingleFileTarget(t *testing.T) {
	db := fixtureDB(t, fixtureRecords...)
	dir := t.TempDir()
	write(t, dir, "requirements-dev.txt", []byte("litellm==1.82.8\n"))
	target := filepath.Join(dir, "requirements-dev.txt")
	rep, err := Scan(context.Background(), []string{target}, Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Artifacts) != 1 || rep.Artifacts[0].Path != target || len(findings(rep.Artifacts[0], "MAL-2026-2144")) != 1 {
		t.Errorf("%+v", rep.Artifacts)
	}
	write(t, dir, "model.pt", torchZip())
	if _, err := Scan(context.Background(), []string{filepath.Join(dir, "model.pt")}, Options{DB: db}); err == nil || !strings.Contains(err.Error(), "not a manifest") {
		t.Errorf("a file that is no manifest: %v", err)
	}
}

// sharedDB imports the shared PyPI export.
func sharedDB(t *testing.T) *osvdb.DB {
	t.Helper()
	return importDB(t, testutil.Shared(t, "osv"))
}

func TestScan_SharedVulnerableML(t *testing.T) {
	db := sharedDB(t)
	rep, err := Scan(context.Background(), []string{testutil.Shared(t, "projects", "vulnerable-ml")}, Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	req := artifact(t, rep, "requirements.txt")
	if f := findings(req, "MAL-2026-2144"); len(f) != 1 || f[0].Location != "requirements.txt:12" || f[0].Severity != report.SeverityCritical {
		t.Errorf("MAL-2026-2144 for litellm==1.82.7: %+v", f)
	}
	if len(findings(req, "MAL-2025-1970")) != 1 || len(findings(req, rules.DepsTyposquat)) != 1 {
		t.Error("deepseeek: want both the MAL record and the typosquat check")
	}
	env := artifact(t, rep, "environment.yml")
	if f := findings(env, "PYSEC-2022-43015"); len(f) != 1 || f[0].Location != "environment.yml:7" {
		t.Errorf("conda pytorch=1.13.0 must be checked as torch 1.13.0: %+v", env.Findings)
	}
	if f := findings(env, "PYSEC-2023-38"); len(f) != 1 {
		t.Errorf("onnx==1.12.0 in the pip section: %+v", env.Findings)
	}
}

// TestExtract_SharedProjectsFindEveryLockedPackage counts packages in each
// real lockfile independently of the extractors and compares.
func TestExtract_SharedProjectsFindEveryLockedPackage(t *testing.T) {
	root := testutil.Shared(t, "projects")
	reqLine := regexp.MustCompile(`(?m)^[A-Za-z0-9][A-Za-z0-9._\[\],-]*\s*==`)
	goReq := regexp.MustCompile(`(?m)^\t[A-Za-z0-9._\-/]+ v\S+`)
	count := func(rel string) int {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		switch filepath.Base(rel) {
		case "uv.lock":
			return strings.Count(s, "\n[[package]]\n") + boolInt(strings.HasPrefix(s, "[[package]]")) - strings.Count(s, `source = { virtual = "." }`)
		case "poetry.lock":
			return strings.Count(s, "[[package]]")
		case "go.mod":
			return len(goReq.FindAllString(s, -1))
		}
		return len(reqLine.FindAllString(s, -1))
	}
	for _, rel := range []string{
		"modelaudit/uv.lock", "aibom-generator/uv.lock", "aibom-generator/requirements.txt",
		"modelscan/poetry.lock", "nannyml/poetry.lock", "evidently/requirements.min.txt",
		"vulnerable-ml/requirements.txt", "kitops/go.mod",
	} {
		t.Run(rel, func(t *testing.T) {
			want := count(rel)
			tr, err := walk(context.Background(), filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.manifests) != 1 || tr.manifests[0].Err != nil {
				t.Fatalf("%+v", tr.manifests)
			}
			locked := 0
			for _, p := range tr.manifests[0].Packages {
				if p.Locked() {
					locked++
				}
			}
			if want == 0 || locked != want {
				t.Errorf("%s: %d locked packages extracted, the file locks %d", rel, locked, want)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// BenchmarkOpenAndScan measures the acceptance figure "open the database
// and scan one project" in-process, for each shared project.
func BenchmarkOpenAndScan(b *testing.B) {
	src := testutil.Shared(b, "osv")
	dbp := filepath.Join(b.TempDir(), "osv.db")
	if _, err := osvdb.Import(context.Background(), dbp, src); err != nil {
		b.Fatal(err)
	}
	projects, _ := filepath.Glob(filepath.Join(testutil.Shared(b, "projects"), "*", ""))
	for _, p := range projects {
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			continue
		}
		b.Run(filepath.Base(p), func(b *testing.B) {
			for b.Loop() {
				db, err := osvdb.Open(dbp)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Scan(context.Background(), []string{p}, Options{DB: db}); err != nil {
					b.Fatal(err)
				}
				db.Close()
			}
		})
	}
}
