package osvdb

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aigis-dev/aigis/internal/bounded"
)

// Bounds for one export. The real PyPI export is ~17k records and tens of
// MiB; the largest ecosystems are a few hundred thousand records.
const (
	maxExportBytes   = 4 << 30
	maxExportMembers = 2_000_000
	maxProblems      = 20 // problems kept verbatim; the rest are counted
	maxSearchDepth   = 4  // DIR/osv-scanner/<Ecosystem>/all.zip is depth 3
)

// ImportResult says what an import did.
type ImportResult struct {
	// Ecosystems imported; empty when the import failed (it changes
	// nothing then).
	Ecosystems []EcosystemStatus
	// Problems names rejected records and files ("all.zip: PYSEC-1.json:
	// ..."), up to a bound; Invalid in each status has the full count.
	Problems []string
	// Warnings says what the import dropped on purpose (--replace).
	Warnings []string
}

// ImportOptions configures Import.
type ImportOptions struct {
	// Replace lets an export replace an ecosystem's data with fewer
	// advisories, and an unreadable database be rebuilt from the exports
	// alone (dropping its other ecosystems).
	Replace bool
}

// FindExports returns the all.zip files under each source: a source is an
// export itself, or a directory in osv-scanner's offline layout
// (DIR/osv-scanner/<Ecosystem>/all.zip; also DIR/<Ecosystem>/all.zip and
// osv-scalibr's DIR/osv-scalibr/<Ecosystem>/all.zip).
func FindExports(sources ...string) ([]string, error) {
	var out []string
	for _, src := range sources {
		st, err := os.Stat(src)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, src)
			continue
		}
		root := filepath.Clean(src)
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			depth := strings.Count(strings.TrimPrefix(p, root), string(filepath.Separator))
			if d.IsDir() && depth > maxSearchDepth {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() && d.Name() == "all.zip" {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no all.zip export found under %s (expected DIR/osv-scanner/<Ecosystem>/all.zip)", strings.Join(sources, ", "))
	}
	sort.Strings(out)
	return out, nil
}

// Import loads every export found under sources into the store at dbPath,
// creating it if needed. Each export replaces its ecosystem's data; other
// ecosystems are kept. The import is all or nothing: it builds a new file
// and renames it over the old one only when every export was read, so a
// malformed or unreadable export, an export with fewer advisories for its
// ecosystem than the store holds (unless opt.Replace), an interrupt or a
// crash leave the store as it was. A malformed record is counted and named
// in Problems and the import goes on.
func Import(ctx context.Context, dbPath string, sources ...string) (*ImportResult, error) {
	return ImportWith(ctx, dbPath, ImportOptions{}, sources...)
}

// ImportWith is Import with options.
func ImportWith(ctx context.Context, dbPath string, opt ImportOptions, sources ...string) (*ImportResult, error) {
	exports, err := FindExports(sources...)
	if err != nil {
		return nil, err
	}
	// The rename replaces a directory entry: through a symbolic link, it
	// must replace the file the link names, not the link.
	if p, err := filepath.EvalSymlinks(dbPath); err == nil {
		dbPath = p
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o755); err != nil {
		return nil, err
	}
	lock, err := lockWriter(dbPath)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	removeDeadTemps(dbPath)

	res := &ImportResult{}
	old, err := open(dbPath)
	switch {
	case err == nil:
		defer func() {
			if old != nil {
				old.Close()
			}
		}()
	case errors.Is(err, ErrNoDatabase):
		old = nil
	case errors.Is(err, ErrLocked):
		return nil, err
	case opt.Replace:
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s could not be read (%v): rebuilt from these exports alone", dbPath, err))
		old = nil
	default:
		return nil, fmt.Errorf("%s: %w; nothing was imported: pass --replace to rebuild it from these exports alone (its other ecosystems are dropped)", dbPath, err)
	}

	w, err := newBuilder(dbPath)
	if err != nil {
		return nil, err
	}
	defer w.abort()
	written := map[string]bool{}
	fail := func(err error) (*ImportResult, error) {
		res.Ecosystems = nil
		return res, err
	}
	for _, p := range exports {
		st, byName, problems, err := readExport(ctx, p)
		res.Problems = appendBounded(res.Problems, problems...)
		if err != nil {
			return fail(fmt.Errorf("%s: %w; nothing was imported", p, err))
		}
		if prev, ok := old.statusOf(st.Ecosystem); ok && st.Advisories() < prev.Advisories() {
			if !opt.Replace {
				return fail(fmt.Errorf("%s: %w: it holds %d %s advisories, the database %d (imported %s from %s); nothing was imported: pass --replace if the smaller export is what you want",
					p, ErrShrink, st.Advisories(), st.Ecosystem, prev.Advisories(), prev.Imported.Format(time.DateOnly), prev.Source))
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %d advisories replaced %d (--replace)", st.Ecosystem, st.Advisories(), prev.Advisories()))
		}
		if err := w.put(st, byName); err != nil {
			return fail(fmt.Errorf("writing %s into %s: %w", p, w.tmp, err))
		}
		hook("written")
		written[st.Ecosystem] = true
		res.Ecosystems = append(res.Ecosystems, st)
	}
	if old != nil {
		for _, st := range old.ecos {
			if written[st.Ecosystem] {
				continue
			}
			if err := w.copyFrom(old, st); err != nil {
				return fail(fmt.Errorf("copying %s from %s: %w", st.Ecosystem, dbPath, err))
			}
		}
		// Windows cannot rename over a file that is open.
		old.Close()
		old = nil
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := w.commit(); err != nil {
		return fail(fmt.Errorf("replacing %s: %w", dbPath, err))
	}
	return res, nil
}

func appendBounded(dst []string, more ...string) []string {
	for _, m := range more {
		if len(dst) >= maxProblems {
			return dst
		}
		dst = append(dst, m)
	}
	return dst
}

type parsed struct {
	name string
	rec  *Record
	err  error
}

// readExport parses one all.zip on all cores and groups the records by
// normalised package name for the export's ecosystem.
func readExport(ctx context.Context, path string) (EcosystemStatus, map[string][]Record, []string, error) {
	st := EcosystemStatus{Source: path, Imported: time.Now().UTC().Truncate(time.Second)}
	f, err := os.Open(path)
	if err != nil {
		return st, nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return st, nil, nil, err
	}
	if info.Size() > maxExportBytes {
		return st, nil, nil, fmt.Errorf("%d bytes, over the %d byte limit", info.Size(), int64(maxExportBytes))
	}
	zr, err := zip.NewReader(f, info.Size())
	if err != nil {
		return st, nil, nil, fmt.Errorf("not a zip export: %w", err)
	}
	if len(zr.File) > maxExportMembers {
		return st, nil, nil, fmt.Errorf("%d members, over the limit of %d", len(zr.File), maxExportMembers)
	}
	base := filepath.Base(path)

	jobs := make(chan *zip.File)
	results := make(chan parsed)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for zf := range jobs {
				rec, err := readMember(zf)
				results <- parsed{name: zf.Name, rec: rec, err: err}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, zf := range zr.File {
			if ctx.Err() != nil {
				return
			}
			if zf.FileInfo().IsDir() || !strings.HasSuffix(zf.Name, ".json") {
				continue
			}
			jobs <- zf
		}
	}()
	go func() { wg.Wait(); close(results) }()

	var all []*Record
	var problems []string
	for p := range results {
		if p.err != nil {
			st.Invalid++
			problems = append(problems, fmt.Sprintf("%s: %s: %v", base, p.name, p.err))
			continue
		}
		all = append(all, p.rec)
	}
	if err := ctx.Err(); err != nil {
		return st, nil, problems, err
	}
	sort.Strings(problems)
	eco := exportEcosystem(path, all)
	if eco == "" {
		return st, nil, problems, errors.New("no record names a package: cannot tell the ecosystem")
	}
	st.Ecosystem = eco
	byName := map[string][]Record{}
	// A record dated after the import (beyond clock skew) would make the
	// data look fresh for ever: such dates are not believed.
	var newest time.Time
	notAfter := st.Imported.Add(24 * time.Hour)
	for _, r := range all {
		if r.Withdrawn != "" {
			st.Withdrawn++
			continue
		}
		indexed := false
		for _, a := range r.Affected {
			if BaseEcosystem(a.Ecosystem) != eco || a.Name == "" {
				continue // other ecosystems live in their own export
			}
			key := NormalizeName(eco, a.Name)
			slim := *r
			slim.Affected = []Affected{trimAffected(a)}
			// One record may list the same package twice (two entries
			// with different ranges): keep them in one stored record.
			if l := byName[key]; len(l) > 0 && l[len(l)-1].ID == r.ID {
				l[len(l)-1].Affected = append(l[len(l)-1].Affected, slim.Affected[0])
			} else {
				byName[key] = append(byName[key], slim)
			}
			indexed = true
		}
		if !indexed {
			continue
		}
		st.Records++
		if r.IsMalicious() {
			st.Malicious++
		}
		if t, err := time.Parse(time.RFC3339Nano, r.Modified); err == nil && t.After(newest) && !t.After(notAfter) {
			newest = t
		}
	}
	if !newest.IsZero() {
		st.Newest = newest.UTC().Format(time.RFC3339)
	}
	st.Packages = len(byName)
	for _, l := range byName {
		sort.Slice(l, func(i, j int) bool { return l[i].ID < l[j].ID })
	}
	return st, byName, problems, nil
}

// trimAffected drops GIT ranges, which never decide a version match, so
// the store holds only what matching reads.
func trimAffected(a Affected) Affected {
	var rs []Range
	for _, r := range a.Ranges {
		if r.Type == RangeEcosystem || r.Type == RangeSemver {
			rs = append(rs, r)
		}
	}
	a.Ranges = rs
	return a
}

func readMember(zf *zip.File) (*Record, error) {
	if zf.UncompressedSize64 > MaxRecordBytes {
		return nil, fmt.Errorf("%d bytes, over the %d byte limit", zf.UncompressedSize64, MaxRecordBytes)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// The header's size may lie: the bounded read notices.
	b, err := bounded.ReadAll(rc, MaxRecordBytes)
	if err != nil {
		return nil, err
	}
	return ParseRecord(b)
}

// exportEcosystem names the export's ecosystem: the <Ecosystem> directory
// of the offline layout when it agrees with the records, else the
// ecosystem most records name.
func exportEcosystem(path string, recs []*Record) string {
	count := map[string]int{}
	for _, r := range recs {
		for _, a := range r.Affected {
			if a.Ecosystem != "" {
				count[BaseEcosystem(a.Ecosystem)]++
			}
		}
	}
	if dir := filepath.Base(filepath.Dir(path)); count[dir] > 0 {
		return dir
	}
	best, n := "", 0
	for e, c := range count {
		if c > n || (c == n && e < best) {
			best, n = e, c
		}
	}
	return best
}
