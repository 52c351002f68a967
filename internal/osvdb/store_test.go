package osvdb

import (
	"archive/zip"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigis-dev/aigis/internal/testutil"
)

// writeExport writes members into DIR/osv-scanner/<eco>/all.zip and
// returns DIR.
func writeExport(t testing.TB, eco string, members map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "osv-scanner", eco, "all.zip")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range members {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return dir
}

var fixtureExport = map[string]string{
	"A-1.json":     `{"id":"A-1","aliases":["CVE-1"],"summary":"bad thing","affected":[{"package":{"ecosystem":"PyPI","name":"Foo_Bar"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]}]}`,
	"A-2.json":     `{"id":"A-2","withdrawn":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"foo-bar"},"versions":["1.0"]}]}`,
	"MAL-1.json":   `{"id":"MAL-1","affected":[{"package":{"ecosystem":"PyPI","name":"evil"},"versions":["0.1"]}]}`,
	"broken.json":  `{"id": "BROKEN", "affected": [`,
	"other.json":   `{"id":"N-1","affected":[{"package":{"ecosystem":"npm","name":"foo-bar"},"versions":["1.0"]}]}`,
	"README.txt":   `not a record`,
	"A-3.json":     `{"id":"A-3","modified":"2026-01-02T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"foo.bar"},"versions":["1.5"]}]}`,
	"dir/A-4.json": `{"id":"A-4","affected":[{"package":{"ecosystem":"PyPI","name":"baz"},"versions":["1.0"]},{"package":{"ecosystem":"PyPI","name":"baz"},"versions":["2.0"]}]}`,
}

func TestImport_IndexesByNormalisedNameAndSkipsWithdrawn(t *testing.T) {
	dir := writeExport(t, "PyPI", fixtureExport)
	dbp := filepath.Join(t.TempDir(), "sub", "osv.db")
	res, err := Import(context.Background(), dbp, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ecosystems) != 1 {
		t.Fatalf("ecosystems %+v", res.Ecosystems)
	}
	st := res.Ecosystems[0]
	if st.Ecosystem != "PyPI" || st.Records != 4 || st.Withdrawn != 1 || st.Invalid != 1 || st.Malicious != 1 || st.Packages != 3 || st.Newest != "2026-01-02T00:00:00Z" {
		t.Errorf("status %+v", st)
	}
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "all.zip: broken.json") {
		t.Errorf("problems %q: want one naming all.zip: broken.json", res.Problems)
	}
	db, err := Open(dbp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Lookup("PyPI", "FOO.bar")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "A-1,A-3" {
		t.Errorf("foo-bar records %v, want A-1,A-3 (A-2 is withdrawn, N-1 is npm)", ids)
	}
	baz, _ := db.Lookup("PyPI", "baz")
	if len(baz) != 1 || len(baz[0].Affected) != 2 {
		t.Errorf("a record listing one package twice must stay one record with both entries: %+v", baz)
	}
	if h, _ := baz[0].Match("PyPI", "baz", "2.0"); len(h) != 1 {
		t.Error("second entry of A-4 lost")
	}
	if r, _ := db.Lookup("npm", "foo-bar"); len(r) != 0 || db.HasEcosystem("npm") {
		t.Error("npm entries of a PyPI export must not be indexed")
	}
}

func TestImport_ReplacesOnlyTheEcosystemImported(t *testing.T) {
	dbp := filepath.Join(t.TempDir(), "osv.db")
	if _, err := Import(context.Background(), dbp, writeExport(t, "PyPI", fixtureExport)); err != nil {
		t.Fatal(err)
	}
	npm := writeExport(t, "npm", map[string]string{"N-1.json": fixtureExport["other.json"]})
	if _, err := Import(context.Background(), dbp, npm); err != nil {
		t.Fatal(err)
	}
	smaller := writeExport(t, "PyPI", map[string]string{"A-9.json": `{"id":"A-9","affected":[{"package":{"ecosystem":"PyPI","name":"new"},"versions":["1"]}]}`})
	// A smaller export replaces the data only with Replace (see
	// TestImport_RefusesASmallerExport).
	if _, err := ImportWith(context.Background(), dbp, ImportOptions{Replace: true}, smaller); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dbp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if r, _ := db.Lookup("PyPI", "foo-bar"); len(r) != 0 {
		t.Error("re-import kept records of the old PyPI export")
	}
	if r, _ := db.Lookup("PyPI", "new"); len(r) != 1 {
		t.Error("re-import lost the new record")
	}
	if r, _ := db.Lookup("npm", "foo-bar"); len(r) != 1 {
		t.Error("re-importing PyPI dropped npm")
	}
	st := db.Status()
	if len(st) != 2 || st[0].Ecosystem != "PyPI" || st[1].Ecosystem != "npm" || st[0].Records != 1 {
		t.Errorf("status %+v", st)
	}
}

func TestImport_MalformedExportNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "all.zip")
	os.WriteFile(bad, []byte("PK\x03\x04 this is not a zip"), 0o644)
	_, err := Import(context.Background(), filepath.Join(dir, "osv.db"), bad)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v must name %s", err, bad)
	}
	if _, err := Import(context.Background(), filepath.Join(dir, "osv.db"), t.TempDir()); err == nil || !strings.Contains(err.Error(), "no all.zip") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestOpen_MissingDatabaseSaysHowToCreateIt(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "none.db"))
	if !errors.Is(err, ErrNoDatabase) || !strings.Contains(err.Error(), "aigis db import") {
		t.Errorf("%v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(junk, []byte(strings.Repeat("x", 8192)), 0o644)
	if _, err := Open(junk); err == nil {
		t.Error("opened a junk file")
	}
}

func TestUpdate_DownloadsAndImports(t *testing.T) {
	export, err := os.ReadFile(filepath.Join(writeExport(t, "PyPI", fixtureExport), "osv-scanner", "PyPI", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if r.URL.Path == "/PyPI/all.zip" {
			w.Write(export)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	dbp := filepath.Join(t.TempDir(), "osv.db")
	res, err := Update(context.Background(), dbp, UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"PyPI"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ecosystems) != 1 || res.Ecosystems[0].Records != 4 {
		t.Errorf("%+v", res.Ecosystems)
	}
	if _, err := Update(context.Background(), dbp, UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Nope"}}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing export: %v", err)
	}
	if _, err := Update(context.Background(), dbp, UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"../x"}}); err == nil {
		t.Error("path in ecosystem name accepted")
	}
}

func TestUpdate_OfflineIsAClearError(t *testing.T) {
	// A port that was just closed refuses connections: the offline case
	// without touching any network beyond loopback.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dbp := filepath.Join(t.TempDir(), "osv.db")
	_, err = Update(context.Background(), dbp, UpdateOptions{BaseURL: "http://" + addr, Ecosystems: []string{"PyPI"}, Client: &http.Client{Timeout: 5 * time.Second}})
	if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), "aigis db import") {
		t.Errorf("%v", err)
	}
	if _, err := os.Stat(dbp); err == nil {
		t.Error("a failed update created the database")
	}
}

func TestImport_SharedPyPIExport(t *testing.T) {
	dir := testutil.Shared(t, "osv")
	dbp := filepath.Join(t.TempDir(), "osv.db")
	res, err := Import(context.Background(), dbp, dir)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Ecosystems[0]
	// 2665 members: 10 withdrawn, 0 invalid, 4 MAL-.
	if st.Records+st.Withdrawn+st.Invalid != 2665 || st.Withdrawn != 10 || st.Invalid != 0 || st.Malicious != 4 {
		t.Errorf("%+v problems %v", st, res.Problems)
	}
	db, err := Open(dbp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, _ := db.Lookup("PyPI", "LiteLLM")
	found := false
	for _, r := range recs {
		if h, _ := r.Match("PyPI", "litellm", "1.82.7"); len(h) > 0 && r.ID == "MAL-2026-2144" {
			found = true
		}
	}
	if !found {
		t.Error("MAL-2026-2144 not found for litellm 1.82.7")
	}
}

func BenchmarkImportSharedPyPI(b *testing.B) {
	dir := testutil.Shared(b, "osv")
	for b.Loop() {
		dbp := filepath.Join(b.TempDir(), "osv.db")
		if _, err := Import(context.Background(), dbp, dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenSharedPyPI is what every deps run pays before its first
// lookup: mapping the file and checking every reachable page.
func BenchmarkOpenSharedPyPI(b *testing.B) {
	p, _ := importShared(b)
	for b.Loop() {
		db, err := Open(p)
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}
