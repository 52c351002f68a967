package osvdb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseRecord feeds arbitrary bytes to the record parser and, when a
// record parses, matches arbitrary versions against it and scores it:
// none of it may panic or hang.
func FuzzParseRecord(f *testing.F) {
	for _, s := range fixtureExport {
		f.Add([]byte(s), "1.0")
	}
	f.Add([]byte(`{"id":"X","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],"affected":[{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"1.0"},{"limit":"*"}]},{"type":"SEMVER","events":[{"introduced":"1.0.0-rc.1"},{"fixed":"1.0.1"}]}],"versions":["1.0+local"]}]}`), "1.0+cu121")
	f.Add([]byte(`{"id":"X","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"v1.2.3"}]}]}]}`), "v1.2.2")
	f.Add([]byte(`{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"m"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2.3"}]}]}]}`), "1.2.3-beta")
	f.Fuzz(func(t *testing.T, b []byte, version string) {
		r, err := ParseRecord(b)
		if err != nil {
			return
		}
		ScoreOf(r, nil)
		for i := range r.Affected {
			a := &r.Affected[i]
			a.Affects(version)
			a.FixedVersions()
			ScoreOf(r, a)
			r.Match(a.Ecosystem, a.Name, version)
		}
	})
}

// FuzzOpen mutates a small real database file (1 KiB pages, an inline
// bucket, one ecosystem) and runs every read path and an import over it:
// none may panic, fault or hang, and every error must be a clear one.
func FuzzOpen(f *testing.F) {
	defer func(ps int) { buildPageSize = ps }(buildPageSize)
	buildPageSize = 1024
	dir := f.TempDir()
	export := writeExport(f, "PyPI", fixtureExport)
	seed := filepath.Join(dir, "seed.db")
	if _, err := Import(context.Background(), seed, export); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add(b[:3*1024])
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "osv.db")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		err := exercise(t, p, fixtureNames)
		mustBeCorrupt(t, "open", err)
		_, err = Import(context.Background(), p, export)
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSchema) && !errors.Is(err, ErrShrink) {
			t.Fatalf("import over it: %v", err)
		}
	})
}
