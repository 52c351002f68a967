package osvdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
