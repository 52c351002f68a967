package osvdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aigis-dev/aigis/internal/testutil"
)

// fixtureNames are the keys the fixture export stores, plus one it does
// not.
var fixtureNames = []string{"foo-bar", "evil", "baz", "absent"}

// importFixture imports the fixture export into a new database and returns
// its path and bytes.
func importFixture(t testing.TB) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "export", "osv-scanner", "PyPI", "all.zip")
	os.MkdirAll(filepath.Dir(p), 0o755)
	var entries []testutil.ZipEntry
	for name, body := range fixtureExport {
		entries = append(entries, testutil.ZipEntry{Name: name, Data: []byte(body), Deflate: true})
	}
	if err := os.WriteFile(p, testutil.Zip(t, entries...), 0o644); err != nil {
		t.Fatal(err)
	}
	dbp := filepath.Join(dir, "osv.db")
	if _, err := Import(context.Background(), dbp, p); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dbp)
	if err != nil {
		t.Fatal(err)
	}
	return dbp, b
}

// importGenerated imports a generated export of 150 packages into a
// database of 1 KiB pages: small enough to damage every byte of, with
// branch pages, overflow pages (a package with 40 records) and buckets
// of every kind, which the fixture's few keys do not have.
func importGenerated(t testing.TB) (string, []byte) {
	t.Helper()
	defer func(ps int) { buildPageSize = ps }(buildPageSize)
	buildPageSize = 1024
	members := map[string]string{}
	for i := range 150 {
		n := 1
		if i == 7 {
			n = 40
		}
		for j := range n {
			id := fmt.Sprintf("G-%d-%d", i, j)
			members[id+".json"] = fmt.Sprintf(`{"id":%q,"modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"pkg%03d"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"%d.0"}]}]}]}`, id, i, j+1)
		}
	}
	dbp := filepath.Join(t.TempDir(), "osv.db")
	if _, err := Import(context.Background(), dbp, writeExport(t, "PyPI", members)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dbp)
	if err != nil {
		t.Fatal(err)
	}
	return dbp, b
}

var generatedNames = []string{"pkg000", "pkg007", "pkg075", "pkg149", "absent"}

func TestGeneratedDatabase_HasEveryKindOfPage(t *testing.T) {
	p, _ := importGenerated(t)
	b, err := bolt.Open(p, 0, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(ecoBucket("PyPI")).Stats()
		if st.BranchPageN == 0 || st.LeafOverflowN == 0 {
			t.Errorf("the generated database lacks branch or overflow pages: %+v", st)
		}
		return nil
	})
	if err := exercise(t, p, generatedNames); err != nil {
		t.Fatal(err)
	}
}

// importShared imports the shared PyPI export (skipping without it).
func importShared(t testing.TB) (string, []byte) {
	t.Helper()
	src := testutil.Shared(t, "osv")
	dbp := filepath.Join(t.TempDir(), "osv.db")
	if _, err := Import(context.Background(), dbp, src); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dbp)
	if err != nil {
		t.Fatal(err)
	}
	return dbp, b
}

// exercise runs every read path on the database at p: Open, Status,
// HasEcosystem and Lookup of names. It returns the first error, which must
// say the database is corrupt; a panic or fault fails the test binary.
func exercise(t testing.TB, p string, names []string) error {
	t.Helper()
	db, err := Open(p)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, s := range db.Status() {
		s.DataAge(time.Now())
		db.HasEcosystem(s.Ecosystem)
	}
	for _, n := range names {
		if _, err := db.Lookup("PyPI", n); err != nil {
			return err
		}
	}
	return nil
}

// usedSize is the size of the pages in use in the bbolt file at p.
func usedSize(t testing.TB, p string) int {
	t.Helper()
	b, err := bolt.Open(p, 0, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var n int64
	b.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return int(n)
}

func mustBeCorrupt(t testing.TB, what string, err error) {
	t.Helper()
	// A flip can also turn schema "1" into "0": a database of another
	// version, as far as anyone can tell.
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSchema) {
		t.Fatalf("%s: error %v does not say the database is corrupt", what, err)
	}
}

// TestOpen_TruncatedDatabaseIsAnError truncates a real database at every
// 97th byte and at each page boundary (and one byte either side): each
// copy must be refused by Open as corrupt, never read or panic. The old
// Open faulted (SIGBUS/SIGSEGV) or panicked with "Page expected to be".
func TestOpen_TruncatedDatabaseIsAnError(t *testing.T) {
	for _, c := range []struct {
		name  string
		db    func(testing.TB) (string, []byte)
		every int
	}{{"fixture", importFixture, 1}, {"generated", importGenerated, 1}, {"shared PyPI", importShared, 4099}} {
		t.Run(c.name, func(t *testing.T) {
			_, full := c.db(t)
			names := append(append([]string{"litellm", "torch"}, fixtureNames...), generatedNames...)
			p := filepath.Join(t.TempDir(), "t.db")
			if err := os.WriteFile(p, full, 0o644); err != nil {
				t.Fatal(err)
			}
			// Every byte of the fixture, every 4099th of the shared
			// database plus each page boundary and one byte either
			// side; shortest last, so one file is cut ever shorter.
			// Bytes past the pages in use (bbolt grows a file ahead of
			// its data) can go without loss.
			used := usedSize(t, p)
			n := 0
			for o := len(full) - 1; o >= 0; o-- {
				if o%c.every != 0 && (o+1)%4096 > 2 {
					continue
				}
				if err := os.Truncate(p, int64(o)); err != nil {
					t.Fatal(err)
				}
				n++
				err := exercise(t, p, names)
				if o >= used {
					if err != nil {
						t.Fatalf("cut at %d, past the %d bytes in use: %v", o, used, err)
					}
				} else if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("truncated at %d of %d: %v, want a corrupt-database error", o, used, err)
				}
			}
			t.Logf("%d truncations of %d bytes refused", n, len(full))
		})
	}
}

// TestOpen_FlippedBytesNeverPanic damages every byte of the fixture
// database and every page header of the generated one three ways (the
// first 64 bytes of a page hold its header and element array), the other
// bytes once (every fifth in the generated database), and a sample of the
// shared one, and runs every read path: each copy either reads or gives a
// clear error. The old code panicked or faulted on many of them.
func TestOpen_FlippedBytesNeverPanic(t *testing.T) {
	for _, c := range []struct {
		name  string
		db    func(testing.TB) (string, []byte)
		names []string
		flips int // 0: every byte
	}{
		{"fixture", importFixture, fixtureNames, 0},
		{"generated", importGenerated, generatedNames, 0},
		{"shared PyPI", importShared, []string{"litellm", "torch", "django", "requests", "absent"}, 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, full := c.db(t)
			p := filepath.Join(t.TempDir(), "t.db")
			if err := os.WriteFile(p, full, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			n, refused := 0, 0
			flip := func(i int, x byte) {
				f.WriteAt([]byte{full[i] ^ x}, int64(i))
				err := exercise(t, p, c.names)
				mustBeCorrupt(t, fmt.Sprintf("byte %d ^ %#x", i, x), err)
				f.WriteAt(full[i:i+1], int64(i))
				n++
				if err != nil {
					refused++
				}
			}
			if c.flips == 0 {
				ps := 4096
				if c.name == "generated" {
					ps = 1024
				}
				for i := range full {
					switch {
					case i%ps < 64:
						flip(i, 0xff)
						flip(i, 0x01)
						flip(i, 0x80)
					case c.name != "generated" || i%5 == 0:
						flip(i, 0xff)
					}
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for range c.flips {
				i := rng.IntN(len(full))
				// Page headers and element arrays, where a flip
				// misleads bbolt, get half the flips.
				if rng.IntN(2) == 0 {
					i = i/4096*4096 + rng.IntN(64)
				}
				flip(i, byte(1+rng.IntN(255)))
			}
			t.Logf("%d of %d damaged copies refused; the rest read (free space, JSON that still decodes)", refused, n)
		})
	}
}

// TestImport_OverACorruptDatabase: db import onto a damaged file is
// refused without --replace (the file is left as it was, for inspection)
// and rebuilds it with --replace. The old import panicked inside bbolt.
func TestImport_OverACorruptDatabase(t *testing.T) {
	dbp, full := importFixture(t)
	export := writeExport(t, "PyPI", fixtureExport)
	for _, o := range []int{0, 100, 4096, 8192, len(full) / 2, len(full) - 4096, len(full) - 1} {
		for _, flip := range []bool{false, true} {
			b := full[:o]
			if flip {
				b = bytes.Clone(full)
				b[o] ^= 0x5a
			}
			os.WriteFile(dbp, b, 0o644)
			_, err := Import(context.Background(), dbp, export)
			if !flip || err != nil {
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "--replace") || !strings.Contains(err.Error(), "nothing was imported") {
					t.Fatalf("offset %d flip %v: %v", o, flip, err)
				}
				if now, _ := os.ReadFile(dbp); !bytes.Equal(now, b) {
					t.Fatalf("offset %d: a refused import changed the file", o)
				}
			}
			res, err := ImportWith(context.Background(), dbp, ImportOptions{Replace: true}, export)
			if err != nil {
				t.Fatalf("offset %d flip %v: --replace: %v", o, flip, err)
			}
			if !flip && len(res.Warnings) != 1 {
				t.Errorf("rebuilding a corrupt database must say so: %q", res.Warnings)
			}
			if err := exercise(t, dbp, fixtureNames); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestCheckFile_AcceptsValidBoltFiles: checkFile has no false positives on
// files bbolt itself wrote through many transactions of puts and deletes,
// nested and inline buckets and values spanning overflow pages, and agrees
// with bbolt's own Tx.Check.
func TestCheckFile_AcceptsValidBoltFiles(t *testing.T) {
	for seed := range uint64(6) {
		for _, ps := range []int{1024, 4096} {
			p := filepath.Join(t.TempDir(), "x.db")
			b, err := bolt.Open(p, 0o644, &bolt.Options{PageSize: ps, NoFreelistSync: seed%2 == 0})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(seed, 7))
			for range 30 {
				err := b.Update(func(tx *bolt.Tx) error {
					for range 200 {
						bk, _ := tx.CreateBucketIfNotExists(fmt.Appendf(nil, "b%d", rng.IntN(5)))
						if rng.IntN(10) == 0 {
							bk, _ = bk.CreateBucketIfNotExists(fmt.Appendf(nil, "sub%d", rng.IntN(3)))
						}
						k := fmt.Appendf(nil, "k%05d", rng.IntN(3000))
						if rng.IntN(3) == 0 {
							if err := bk.Delete(k); err != nil {
								return err
							}
							continue
						}
						if err := bk.Put(k, bytes.Repeat([]byte{'v'}, 1+rng.IntN(3*ps))); err != nil {
							return err
						}
					}
					if rng.IntN(8) == 0 {
						tx.DeleteBucket(fmt.Appendf(nil, "b%d", rng.IntN(5)))
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			b.View(func(tx *bolt.Tx) error {
				for err := range tx.Check() {
					// Pages bbolt has not yet put on its freelist
					// are harmless; anything else is not.
					if !strings.Contains(err.Error(), "unreachable unfreed") {
						t.Errorf("bbolt's own check: %v", err)
					}
				}
				return nil
			})
			b.Close()
			rb, err := openBolt(p)
			if err != nil {
				t.Fatalf("seed %d page size %d: a valid bbolt file refused: %v", seed, ps, err)
			}
			rb.Close()
		}
	}
}

// TestImport_RefusesASmallerExport is the 2,655-record PyPI data replaced
// by a 5-record zip without a word: now refused unless Replace, and the
// file is left byte for byte.
func TestImport_RefusesASmallerExport(t *testing.T) {
	four := map[string]string{}
	for i := range 4 {
		four[fmt.Sprintf("P-%d.json", i)] = fmt.Sprintf(`{"id":"P-%d","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"p%d"},"versions":["1"]}]}`, i, i)
	}
	small := writeExport(t, "PyPI", four)
	for _, c := range []struct {
		name string
		db   func(testing.TB) (string, []byte)
		was  int
	}{
		{"fixture", importFixture, 5},       // 4 indexed, 1 withdrawn
		{"shared PyPI", importShared, 2665}, // 2655 indexed, 10 withdrawn
	} {
		t.Run(c.name, func(t *testing.T) {
			dbp, before := c.db(t)
			res, err := Import(context.Background(), dbp, small)
			if !errors.Is(err, ErrShrink) || !strings.Contains(err.Error(), "--replace") || !strings.Contains(err.Error(), fmt.Sprint(c.was)) {
				t.Fatalf("%v", err)
			}
			if len(res.Ecosystems) != 0 {
				t.Errorf("a refused import reports ecosystems %+v", res.Ecosystems)
			}
			if after, _ := os.ReadFile(dbp); !bytes.Equal(before, after) {
				t.Fatal("a refused import changed the database")
			}
			res, err = ImportWith(context.Background(), dbp, ImportOptions{Replace: true}, small)
			if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "replaced") {
				t.Fatalf("--replace: %v %q", err, res.Warnings)
			}
			db, err := Open(dbp)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if st := db.Status(); st[0].Advisories() >= c.was {
				t.Errorf("%+v", st)
			}
		})
	}
}

// TestImport_WithdrawalIsNotShrinking: an export in which a record was
// withdrawn has one indexed record fewer but as many advisories; it is
// the normal course of an update and is accepted.
func TestImport_WithdrawalIsNotShrinking(t *testing.T) {
	dbp, _ := importFixture(t)
	next := map[string]string{}
	for k, v := range fixtureExport {
		next[k] = v
	}
	next["MAL-1.json"] = `{"id":"MAL-1","withdrawn":"2026-01-03T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"evil"},"versions":["0.1"]}]}`
	res, err := Import(context.Background(), dbp, writeExport(t, "PyPI", next))
	if err != nil || res.Ecosystems[0].Records != 3 || res.Ecosystems[0].Withdrawn != 2 {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestUpdate_RefusesASmallerExport(t *testing.T) {
	dbp, before := importFixture(t)
	small, err := os.ReadFile(filepath.Join(writeExport(t, "PyPI", map[string]string{"A-9.json": `{"id":"A-9","affected":[{"package":{"ecosystem":"PyPI","name":"new"},"versions":["1"]}]}`}), "osv-scanner", "PyPI", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, map[string][]byte{"/PyPI/all.zip": small})
	_, err = Update(context.Background(), dbp, UpdateOptions{BaseURL: srv, Ecosystems: []string{"PyPI"}})
	if !errors.Is(err, ErrShrink) {
		t.Fatalf("%v", err)
	}
	if after, _ := os.ReadFile(dbp); !bytes.Equal(before, after) {
		t.Fatal("a refused update changed the database")
	}
	if _, err := Update(context.Background(), dbp, UpdateOptions{BaseURL: srv, Ecosystems: []string{"PyPI"}, Replace: true}); err != nil {
		t.Fatal(err)
	}
}

// TestImport_AllOrNothing: a malformed second export, or an interrupt,
// leaves the database as it was (the old import kept the exports read
// before the failure, half an update), and no temporary file behind.
func TestImport_AllOrNothing(t *testing.T) {
	dbp, before := importFixture(t)
	dir := writeExport(t, "PyPI", fixtureExport)
	bad := filepath.Join(dir, "osv-scanner", "npm", "all.zip")
	os.MkdirAll(filepath.Dir(bad), 0o755)
	os.WriteFile(bad, []byte("PK\x03\x04 not a zip"), 0o644)
	res, err := Import(context.Background(), dbp, dir)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "nothing was imported") || len(res.Ecosystems) != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Import(ctx, dbp, writeExport(t, "npm", map[string]string{"N-1.json": fixtureExport["other.json"]})); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if after, _ := os.ReadFile(dbp); !bytes.Equal(before, after) {
		t.Fatal("a failed import changed the database")
	}
	assertNoTemps(t, dbp)
}

func assertNoTemps(t *testing.T, dbp string) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Dir(dbp))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPattern(dbp)) {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestImport_ThroughASymlink: an import through a link to the database
// replaces the file it names and keeps the link (a bare rename would
// replace the link with a file beside it).
func TestImport_ThroughASymlink(t *testing.T) {
	dbp, _ := importFixture(t)
	link := filepath.Join(t.TempDir(), "osv.db")
	if err := os.Symlink(dbp, link); err != nil {
		t.Skip(err)
	}
	npm := writeExport(t, "npm", map[string]string{"N-1.json": fixtureExport["other.json"]})
	if _, err := Import(context.Background(), link, npm); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	db, err := Open(dbp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !db.HasEcosystem("npm") || !db.HasEcosystem("PyPI") {
		t.Errorf("%+v", db.Status())
	}
}

// TestImport_OpenReaderKeepsItsData: a DB opened before an import reads
// the data it was opened on, whole, after the new file is swapped in; a
// DB opened after reads the new data. The old import wrote the live file
// in place, so it could not even start while a reader had it open (it
// waited for the lock and failed).
func TestImport_OpenReaderKeepsItsData(t *testing.T) {
	dbp, _ := importFixture(t)
	old, err := Open(dbp)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	bigger := map[string]string{"A-10.json": `{"id":"A-10","affected":[{"package":{"ecosystem":"PyPI","name":"foo-bar"},"versions":["9"]}]}`}
	for k, v := range fixtureExport {
		bigger[k] = v
	}
	if _, err := Import(context.Background(), dbp, writeExport(t, "PyPI", bigger)); err != nil {
		t.Fatal(err)
	}
	if r, err := old.Lookup("PyPI", "foo-bar"); err != nil || len(r) != 2 || old.Status()[0].Records != 4 {
		t.Errorf("the open reader sees %d records for foo-bar, %v: want the 2 it was opened on", len(r), err)
	}
	now, err := Open(dbp)
	if err != nil {
		t.Fatal(err)
	}
	defer now.Close()
	if r, _ := now.Lookup("PyPI", "foo-bar"); len(r) != 3 || now.Status()[0].Records != 5 {
		t.Errorf("a new reader sees %d records for foo-bar, want 3", len(r))
	}
}

// TestImport_ConcurrentReaders runs readers in a loop while imports swap
// two versions of the data: no reader ever fails, waits on a lock, or
// sees a mix (the status and the lookups of one Open always agree).
func TestImport_ConcurrentReaders(t *testing.T) {
	dbp, _ := importFixture(t)
	v2 := map[string]string{"A-10.json": `{"id":"A-10","affected":[{"package":{"ecosystem":"PyPI","name":"foo-bar"},"versions":["9"]}]}`}
	for k, v := range fixtureExport {
		v2[k] = v
	}
	exports := []string{writeExport(t, "PyPI", fixtureExport), writeExport(t, "PyPI", v2)}
	want := map[int]int{4: 2, 5: 3} // records -> foo-bar records
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	reads := 0
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := func() error {
					db, err := Open(dbp)
					if err != nil {
						return err
					}
					defer db.Close()
					n := db.Status()[0].Records
					r, err := db.Lookup("PyPI", "foo-bar")
					if err != nil {
						return err
					}
					if want[n] != len(r) {
						return fmt.Errorf("status says %d records, lookup found %d for foo-bar", n, len(r))
					}
					return nil
				}()
				mu.Lock()
				reads++
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range 20 {
		if _, err := ImportWith(context.Background(), dbp, ImportOptions{Replace: true}, exports[i%2]); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d reads failed, first: %v", len(errs), reads, errs[0])
	}
	t.Logf("%d reads during 20 imports", reads)
}

// TestLocks_AreBounded: a second writer gives up after lockTimeout with a
// clear error instead of hanging, and so does a reader facing a process
// that holds the database file itself (an older aigis writing in place).
func TestLocks_AreBounded(t *testing.T) {
	defer func(d time.Duration) { lockTimeout = d }(lockTimeout)
	lockTimeout = 300 * time.Millisecond
	dbp, before := importFixture(t)

	held, err := lockWriter(dbp)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err = Import(context.Background(), dbp, writeExport(t, "PyPI", fixtureExport))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "another 'aigis db import'") || time.Since(began) > 5*time.Second {
		t.Fatalf("second writer: %v after %s", err, time.Since(began))
	}
	held.Close()
	if after, _ := os.ReadFile(dbp); !bytes.Equal(before, after) {
		t.Fatal("a locked-out import changed the database")
	}
	if _, err := Import(context.Background(), dbp, writeExport(t, "PyPI", fixtureExport)); err != nil {
		t.Fatalf("after the lock was released: %v", err)
	}

	w, err := bolt.Open(dbp, 0o644, &bolt.Options{}) // takes the file's exclusive lock
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	began = time.Now()
	if _, err := Open(dbp); !errors.Is(err, ErrLocked) || time.Since(began) > 5*time.Second {
		t.Fatalf("reader: %v after %s", err, time.Since(began))
	}
}

// TestImport_NewestModified: the data's age is its newest parseable
// "modified" date, compared as a time (not as a string, which ranks
// "2026-01-02T00:00:00+05:00" above "2026-01-01T23:00:00Z"), and a date
// after the import is not believed: one record dated 2999 would
// otherwise keep the data "fresh" for ever.
func TestImport_NewestModified(t *testing.T) {
	recent := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	dir := writeExport(t, "PyPI", map[string]string{
		"A.json": fmt.Sprintf(`{"id":"A","modified":%q,"affected":[{"package":{"ecosystem":"PyPI","name":"a"},"versions":["1"]}]}`, recent.Format(time.RFC3339Nano)),
		"B.json": fmt.Sprintf(`{"id":"B","modified":%q,"affected":[{"package":{"ecosystem":"PyPI","name":"b"},"versions":["1"]}]}`, recent.Add(-time.Hour).In(time.FixedZone("", 5*3600)).Format(time.RFC3339)),
		"C.json": `{"id":"C","modified":"2999-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"c"},"versions":["1"]}]}`,
		"D.json": `{"id":"D","modified":"not a date","affected":[{"package":{"ecosystem":"PyPI","name":"d"},"versions":["1"]}]}`,
	})
	res, err := Import(context.Background(), filepath.Join(t.TempDir(), "osv.db"), dir)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Ecosystems[0]
	if st.Newest != recent.Format(time.RFC3339) {
		t.Errorf("newest %q, want %q", st.Newest, recent.Format(time.RFC3339))
	}
	if age, ok := st.DataAge(time.Now()); !ok || age < 29*24*time.Hour {
		t.Errorf("age %s %v", age, ok)
	}
	if _, ok := (EcosystemStatus{}).DataAge(time.Now()); ok {
		t.Error("no dates must give no age")
	}
}

func serve(t *testing.T, files map[string][]byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := files[r.URL.Path]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestImport_CrashLeavesTheOldDatabase kills (SIGKILL) an import running
// in a child process, once after it has written the new data and once
// just before the rename: the old database is intact byte for byte and
// opens, the dead import's lock is gone with it, and the next import
// succeeds and removes the temporary file it left.
func TestImport_CrashLeavesTheOldDatabase(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("needs a child process to kill")
	}
	for _, stage := range []string{"written", "rename"} {
		t.Run(stage, func(t *testing.T) {
			dbp, before := importFixture(t)
			bigger := map[string]string{"A-10.json": `{"id":"A-10","affected":[{"package":{"ecosystem":"PyPI","name":"foo-bar"},"versions":["9"]}]}`}
			for k, v := range fixtureExport {
				bigger[k] = v
			}
			export := writeExport(t, "PyPI", bigger)
			ready := filepath.Join(t.TempDir(), "ready")
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashingImport$")
			cmd.Env = append(os.Environ(), "AIGIS_CRASH_DB="+dbp, "AIGIS_CRASH_EXPORT="+export, "AIGIS_CRASH_STAGE="+stage, "AIGIS_CRASH_READY="+ready)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				if _, err := os.Stat(ready); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("the child import never reached %q:\n%s", stage, out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			cmd.Process.Kill()
			cmd.Wait()
			if after, _ := os.ReadFile(dbp); !bytes.Equal(before, after) {
				t.Fatal("a killed import changed the database")
			}
			if err := exercise(t, dbp, fixtureNames); err != nil {
				t.Fatal(err)
			}
			if m, _ := filepath.Glob(filepath.Join(filepath.Dir(dbp), tempPattern(dbp)+"*")); len(m) != 1 {
				t.Fatalf("the killed import should have left its temporary file: %v", m)
			}
			if _, err := Import(context.Background(), dbp, export); err != nil {
				t.Fatalf("import after the crash: %v", err)
			}
			assertNoTemps(t, dbp)
			db, err := Open(dbp)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.Status()[0].Records != 5 {
				t.Errorf("%+v", db.Status())
			}
		})
	}
}

// TestHelperCrashingImport is the child of TestImport_CrashLeavesTheOldDatabase.
func TestHelperCrashingImport(t *testing.T) {
	dbp := os.Getenv("AIGIS_CRASH_DB")
	if dbp == "" {
		t.Skip("run by TestImport_CrashLeavesTheOldDatabase")
	}
	importHook = func(stage string) {
		if stage == os.Getenv("AIGIS_CRASH_STAGE") {
			os.WriteFile(os.Getenv("AIGIS_CRASH_READY"), nil, 0o644)
			time.Sleep(time.Minute) // killed here
		}
	}
	Import(context.Background(), dbp, os.Getenv("AIGIS_CRASH_EXPORT"))
	t.Fatal("the import finished: it was meant to be killed")
}
