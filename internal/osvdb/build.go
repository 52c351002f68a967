package osvdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// An import never writes the live database. It takes the writer lock
// (<db>.lock), builds a complete new file beside the old one
// (.<db>.import-*), checks it the way Open does, and renames it over the
// old file. A reader sees the old file or the new, never a half-written
// one; a crash or an error at any point leaves the old file as it was,
// and the next import removes the dead temporary file.

// buildPageSize is the page size of built files (0: the OS page size).
// Tests set it to make small files.
var buildPageSize int

// importHook, when set by a test, is called at each stage of an import:
// "written" after an ecosystem is stored in the new file, "rename" before
// the new file replaces the old.
var importHook func(stage string)

func hook(stage string) {
	if importHook != nil {
		importHook(stage)
	}
}

// lockWriter takes the writer lock beside dbPath, waiting at most
// lockTimeout. The lock file stays; closing it releases the lock, and so
// does the death of the process holding it.
func lockWriter(dbPath string) (*os.File, error) {
	p := dbPath + ".lock"
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating the lock file: %w", err)
	}
	deadline := time.Now().Add(lockTimeout)
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		if ok {
			return f, nil
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w: another 'aigis db import' or 'db update' has held %s for more than %s; try again when it has finished", ErrLocked, p, lockTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tempPattern(dbPath string) string { return "." + filepath.Base(dbPath) + ".import-" }

// removeDeadTemps removes the temporary files of imports that died; the
// caller holds the writer lock, so no live import owns one.
func removeDeadTemps(dbPath string) {
	dir := filepath.Dir(dbPath)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), tempPattern(dbPath)) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// builder writes a new database file beside dbPath.
type builder struct {
	path, tmp string
	b         *bolt.DB
	done      bool
}

func newBuilder(dbPath string) (*builder, error) {
	f, err := os.CreateTemp(filepath.Dir(dbPath), tempPattern(dbPath)+"*")
	if err != nil {
		return nil, fmt.Errorf("creating the new database beside %s: %w", dbPath, err)
	}
	tmp := f.Name()
	f.Close()
	// One fsync at the end (commit) instead of one per transaction: the
	// file is not visible until then.
	b, err := bolt.Open(tmp, 0o644, &bolt.Options{Timeout: lockTimeout, NoSync: true, NoFreelistSync: true, PageSize: buildPageSize})
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("creating the new database %s: %w", tmp, err)
	}
	return &builder{path: dbPath, tmp: tmp, b: b}, nil
}

// abort removes the new file unless commit renamed it.
func (w *builder) abort() {
	if w.done {
		return
	}
	if w.b != nil {
		w.b.Close()
	}
	os.Remove(w.tmp)
}

// put stores one ecosystem's records and status, replacing any stored
// earlier in this import.
func (w *builder) put(st EcosystemStatus, byName map[string][]Record) error {
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return w.b.Update(func(tx *bolt.Tx) error {
		bk, err := w.bucket(tx, st)
		if err != nil {
			return err
		}
		for _, n := range names {
			v, err := json.Marshal(byName[n])
			if err != nil {
				return err
			}
			if err := bk.Put([]byte(n), v); err != nil {
				return fmt.Errorf("storing %s: %w", n, err)
			}
		}
		return nil
	})
}

// copyFrom copies an ecosystem, records and status, from the old file.
func (w *builder) copyFrom(old *DB, st EcosystemStatus) error {
	return old.view(st.Ecosystem, func(otx *bolt.Tx) error {
		src := otx.Bucket(ecoBucket(st.Ecosystem))
		if src == nil {
			return fmt.Errorf("%w: bucket %s vanished", ErrCorrupt, st.Ecosystem)
		}
		// Keys and values point into the old file's map, valid until
		// its transaction ends: after this commit.
		return w.b.Update(func(tx *bolt.Tx) error {
			bk, err := w.bucket(tx, st)
			if err != nil {
				return err
			}
			c := src.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if v == nil {
					return fmt.Errorf("%w: %s holds a bucket %q", ErrCorrupt, st.Ecosystem, k)
				}
				if err := bk.Put(k, v); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// bucket writes the schema and the status and returns the ecosystem's new,
// empty bucket.
func (w *builder) bucket(tx *bolt.Tx, st EcosystemStatus) (*bolt.Bucket, error) {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return nil, err
	}
	if err := meta.Put(keySchema, []byte(schemaVersion)); err != nil {
		return nil, err
	}
	sv, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	if err := meta.Put(ecoMetaKey(st.Ecosystem), sv); err != nil {
		return nil, err
	}
	if tx.Bucket(ecoBucket(st.Ecosystem)) != nil {
		if err := tx.DeleteBucket(ecoBucket(st.Ecosystem)); err != nil {
			return nil, err
		}
	}
	bk, err := tx.CreateBucket(ecoBucket(st.Ecosystem))
	if err != nil {
		return nil, err
	}
	bk.FillPercent = 0.95 // keys arrive sorted
	return bk, nil
}

// commit makes the new file durable, checks it as Open would, and renames
// it over the old one.
func (w *builder) commit() error {
	// bbolt keeps two meta pages and falls back to the older when the
	// newer is damaged; a last empty transaction makes both describe the
	// complete data (not the state before the last ecosystem).
	if err := w.b.Update(func(*bolt.Tx) error { return nil }); err != nil {
		return err
	}
	var size int64
	if err := w.b.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		return err
	}
	err := w.b.Close()
	w.b = nil
	if err != nil {
		return err
	}
	f, err := os.OpenFile(w.tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	// bbolt grows the file ahead of its pages; the pages past the high
	// water mark hold nothing.
	err = f.Truncate(size)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", w.tmp, err)
	}
	check, err := Open(w.tmp)
	if err != nil {
		return fmt.Errorf("the new database does not read back: %w", err)
	}
	check.Close()
	hook("rename")
	if err := os.Rename(w.tmp, w.path); err != nil {
		return err
	}
	w.done = true
	syncDir(filepath.Dir(w.path))
	return nil
}

// syncDir makes a rename in dir durable where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // not supported everywhere (Windows): best effort
		d.Close()
	}
}

// ErrShrink is wrapped by the error of an import that would replace an
// ecosystem's advisories with fewer.
var ErrShrink = errors.New("the export is smaller than the data it would replace")
