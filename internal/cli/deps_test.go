package cli

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/report"
)

// exportDir writes DIR/osv-scanner/PyPI/all.zip with one MAL record.
func exportDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "osv-scanner", "PyPI", "all.zip")
	os.MkdirAll(filepath.Dir(p), 0o755)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("MAL-2026-2144.json")
	w.Write([]byte(`{"id":"MAL-2026-2144","summary":"Malicious code in litellm (PyPI)","affected":[{"package":{"ecosystem":"PyPI","name":"litellm"},"versions":["1.82.7"]}]}`))
	w, _ = zw.Create("bad.json")
	w.Write([]byte(`{"id":`))
	zw.Close()
	f.Close()
	return dir
}

func project(t *testing.T, req string) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte(req), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDBAndDeps_EndToEnd(t *testing.T) {
	dbp := filepath.Join(t.TempDir(), "osv.db")
	r := runCLI(t, nil, "db", "import", "--db", dbp, exportDir(t))
	if r.code != ExitOK || !strings.Contains(r.stdout, "PyPI") || !strings.Contains(r.stderr, "bad.json") {
		t.Fatalf("import: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// AIGIS_DB selects the database like --db.
	env := map[string]string{"AIGIS_DB": dbp}
	if r := runCLI(t, env, "db", "status"); r.code != ExitOK || !strings.Contains(r.stdout, "PyPI       1") {
		t.Errorf("status: %d %s %s", r.code, r.stdout, r.stderr)
	}
	bad := project(t, "litellm==1.82.7\n")
	r = runCLI(t, env, "deps", "-o", "json", bad)
	if r.code != ExitFindings {
		t.Fatalf("malicious dependency: exit %d\n%s", r.code, r.stderr)
	}
	rep, err := report.Decode([]byte(r.stdout))
	if err != nil || len(rep.Artifacts) != 1 || rep.Artifacts[0].Findings[0].Rule != "MAL-2026-2144" || rep.Artifacts[0].Verdict != report.Malicious {
		t.Fatalf("%v %s", err, r.stdout)
	}
	if r := runCLI(t, env, "deps", "--fail-on", "none", bad); r.code != ExitOK {
		t.Errorf("--fail-on none: %d", r.code)
	}
	if r := runCLI(t, env, "deps", "-o", "sarif", bad); r.code != ExitFindings || !strings.Contains(r.stdout, `"ruleId": "MAL-2026-2144"`) {
		t.Errorf("sarif: %d %s", r.code, r.stdout)
	}
	if r := runCLI(t, env, "deps", project(t, "litellm==1.82.6\n")); r.code != ExitOK {
		t.Errorf("clean project: exit %d %s", r.code, r.stdout)
	}
}

func TestDeps_MissingDatabaseIsAUsageError(t *testing.T) {
	env := map[string]string{"AIGIS_DB": filepath.Join(t.TempDir(), "none.db")}
	dir := project(t, "pytorch-mutex==1.0\n")
	r := runCLI(t, env, "deps", dir)
	if r.code != ExitError || !strings.Contains(r.stderr, "aigis db import") || !strings.Contains(r.stderr, "--skip-vulns") {
		t.Errorf("%d %s", r.code, r.stderr)
	}
	// --skip-vulns is the named way to run without one; the typosquat
	// check still fails the build.
	r = runCLI(t, env, "deps", "--skip-vulns", dir)
	if r.code != ExitFindings || !strings.Contains(r.stdout, "deps-impersonation") {
		t.Errorf("--skip-vulns: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, env, "db", "status"); r.code != ExitError {
		t.Errorf("status of a missing db: %d", r.code)
	}
}

func TestDBUpdate_OfflineFailsClearly(t *testing.T) {
	dbp := filepath.Join(t.TempDir(), "osv.db")
	r := runCLI(t, nil, "db", "update", "--db", dbp, "--url", "http://127.0.0.1:1", "--ecosystem", "PyPI", "--timeout", "5s")
	if r.code != ExitError || !strings.Contains(r.stderr, "cannot be reached") {
		t.Errorf("%d %s", r.code, r.stderr)
	}
}

// pypiExport writes DIR/osv-scanner/PyPI/all.zip with n records, each
// modified at the given time.
func pypiExport(t *testing.T, n int, modified time.Time) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "osv-scanner", "PyPI", "all.zip")
	os.MkdirAll(filepath.Dir(p), 0o755)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for i := range n {
		w, _ := zw.Create(fmt.Sprintf("P-%d.json", i))
		fmt.Fprintf(w, `{"id":"P-%d","modified":%q,"affected":[{"package":{"ecosystem":"PyPI","name":"pkg%d"},"versions":["1.0"]}]}`, i, modified.UTC().Format(time.RFC3339), i)
	}
	zw.Close()
	f.Close()
	return dir
}

// TestDB_CorruptDatabaseExits2: a truncated or damaged database makes
// deps, db status and db import exit 2 with a clear message, never panic
// (the old code panicked in bbolt: "Page expected to be ..."); db import
// --replace rebuilds it.
func TestDB_CorruptDatabaseExits2(t *testing.T) {
	dbp := filepath.Join(t.TempDir(), "osv.db")
	export := pypiExport(t, 300, time.Now())
	if r := runCLI(t, nil, "db", "import", "--db", dbp, export); r.code != ExitOK {
		t.Fatalf("import: %d %s", r.code, r.stderr)
	}
	full, err := os.ReadFile(dbp)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AIGIS_DB": dbp}
	dir := project(t, "pkg1==1.0\n")
	for _, damage := range []struct {
		name string
		data []byte
	}{
		{"truncated to half", full[:len(full)/2]},
		{"truncated by one page", full[:len(full)-4096]},
		{"page header flipped", func() []byte {
			b := bytes.Clone(full)
			for i := 2 * 4096; i < len(b); i += 4096 {
				b[i] ^= 0xff // every page's id
			}
			return b
		}()},
	} {
		os.WriteFile(dbp, damage.data, 0o644)
		for _, args := range [][]string{{"deps", dir}, {"db", "status"}, {"db", "import", export}} {
			r := runCLI(t, env, args...)
			if r.code != ExitError || !strings.Contains(r.stderr, "corrupt or truncated") || strings.Contains(r.stderr, "panic") {
				t.Errorf("%s: %v: exit %d, stderr %q", damage.name, args, r.code, r.stderr)
			}
			if args[0] == "db" && args[1] == "import" && !strings.Contains(r.stderr, "--replace") {
				t.Errorf("%s: import must name --replace: %q", damage.name, r.stderr)
			}
		}
		if r := runCLI(t, env, "db", "import", "--replace", export); r.code != ExitOK || !strings.Contains(r.stderr, "rebuilt") {
			t.Fatalf("%s: --replace: %d %q", damage.name, r.code, r.stderr)
		}
		if r := runCLI(t, env, "deps", "--fail-on", "none", dir); r.code != ExitOK {
			t.Errorf("%s: deps after the rebuild: %d %q", damage.name, r.code, r.stderr)
		}
	}
}

// TestDB_ImportRefusesASmallerExport: a 5-record export does not replace
// 300 records without --replace (the old import replaced 2,655 PyPI
// records with 5 without a word).
func TestDB_ImportRefusesASmallerExport(t *testing.T) {
	dbp := filepath.Join(t.TempDir(), "osv.db")
	if r := runCLI(t, nil, "db", "import", "--db", dbp, pypiExport(t, 300, time.Now())); r.code != ExitOK {
		t.Fatalf("import: %d %s", r.code, r.stderr)
	}
	small := pypiExport(t, 5, time.Now())
	r := runCLI(t, nil, "db", "import", "--db", dbp, small)
	if r.code != ExitError || !strings.Contains(r.stderr, "5 PyPI advisories, the database 300") || !strings.Contains(r.stderr, "--replace") || strings.Contains(r.stdout, "imported into") {
		t.Fatalf("smaller export: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, nil, "db", "status", "--db", dbp); !strings.Contains(r.stdout, "PyPI       300") {
		t.Errorf("the refused import changed the database:\n%s", r.stdout)
	}
	if r := runCLI(t, nil, "db", "import", "--db", dbp, "--replace", small); r.code != ExitOK || !strings.Contains(r.stdout, "PyPI       5") {
		t.Errorf("--replace: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// TestDeps_StalenessIsTheAgeOfTheData: data whose newest record is 30
// days old is stale however recently it was imported (the old check
// looked only at the import time, so a fresh import of old data never
// warned); fresh data is not; status shows both times.
func TestDeps_StalenessIsTheAgeOfTheData(t *testing.T) {
	dir := project(t, "pkg1==1.0\n")
	for _, c := range []struct {
		age   time.Duration
		stale bool
	}{{30 * 24 * time.Hour, true}, {8 * 24 * time.Hour, true}, {6 * 24 * time.Hour, false}, {time.Hour, false}} {
		dbp := filepath.Join(t.TempDir(), "osv.db")
		newest := time.Now().Add(-c.age)
		if r := runCLI(t, nil, "db", "import", "--db", dbp, pypiExport(t, 3, newest)); r.code != ExitOK {
			t.Fatalf("import: %d %s", r.code, r.stderr)
		}
		env := map[string]string{"AIGIS_DB": dbp}
		r := runCLI(t, env, "deps", "--fail-on", "none", dir)
		warned := strings.Contains(r.stderr, "PyPI advisories are stale")
		if warned != c.stale || (c.stale && !strings.Contains(r.stderr, fmt.Sprintf("modified %d days ago", int(c.age.Hours()/24)))) {
			t.Errorf("data %s old: stale warning %v, want %v: %q", c.age, warned, c.stale, r.stderr)
		}
		st := runCLI(t, env, "db", "status")
		if !strings.Contains(st.stdout, "IMPORTED") || !strings.Contains(st.stdout, newest.UTC().Format(time.RFC3339)) || strings.Contains(st.stdout, "stale") != c.stale {
			t.Errorf("status for data %s old:\n%s", c.age, st.stdout)
		}
	}
	// An export without modified dates cannot be judged: say so.
	dbp := filepath.Join(t.TempDir(), "osv.db")
	runCLI(t, nil, "db", "import", "--db", dbp, exportDir(t))
	if r := runCLI(t, map[string]string{"AIGIS_DB": dbp}, "deps", "--fail-on", "none", dir); !strings.Contains(r.stderr, "no modified dates") {
		t.Errorf("undated data: %q", r.stderr)
	}
}
