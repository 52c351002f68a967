package osvdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store layout (bbolt, one file):
//
//	meta                 schema -> "1"; eco/<Ecosystem> -> JSON EcosystemStatus
//	eco/<Ecosystem>      <normalised package name> -> JSON []Record
//
// Each stored Record keeps only the affected entries for that key's
// package, so a lookup decodes nothing it does not need. Withdrawn records
// are counted, never indexed.
const schemaVersion = "1"

var (
	bucketMeta = []byte("meta")
	keySchema  = []byte("schema")
)

func ecoBucket(eco string) []byte  { return []byte("eco/" + eco) }
func ecoMetaKey(eco string) []byte { return []byte("eco/" + eco) }

// ErrNoDatabase is returned by Open when the file does not exist.
var ErrNoDatabase = errors.New("no vulnerability database")

// lockTimeout bounds the wait for a file locked by another aigis process
// (an import in progress): a clear error beats a hang.
const lockTimeout = 3 * time.Second

// DefaultPath is <user cache dir>/aigis/osv.db.
func DefaultPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache directory (%v): pass --db or set AIGIS_DB", err)
	}
	return filepath.Join(dir, "aigis", "osv.db"), nil
}

// DB is an open, read-only store.
type DB struct {
	bolt *bolt.DB
	path string
}

// Open opens the store read-only. It maps the file and reads one page; it
// does not parse records.
func Open(path string) (*DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: run 'aigis db import DIR' or 'aigis db update'", ErrNoDatabase, path)
	}
	b, err := bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("opening vulnerability database %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path}
	err = b.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m == nil || string(m.Get(keySchema)) != schemaVersion {
			return fmt.Errorf("%s is not an aigis vulnerability database of schema %s: re-import it", path, schemaVersion)
		}
		return nil
	})
	if err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

// Path is the file the store was opened from.
func (db *DB) Path() string { return db.path }

// Close releases the file.
func (db *DB) Close() error { return db.bolt.Close() }

// Lookup returns the non-withdrawn records that name the package, each
// trimmed to the affected entries for it. It returns nothing for an
// ecosystem that was never imported; HasEcosystem tells the two apart.
func (db *DB) Lookup(ecosystem, name string) ([]Record, error) {
	var recs []Record
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(ecoBucket(BaseEcosystem(ecosystem)))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(NormalizeName(ecosystem, name)))
		if v == nil {
			return nil
		}
		// v is only valid inside the transaction; Unmarshal copies.
		return json.Unmarshal(v, &recs)
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s from %s: %w", ecosystem, name, db.path, err)
	}
	return recs, nil
}

// HasEcosystem reports whether an export for the ecosystem was imported.
func (db *DB) HasEcosystem(ecosystem string) bool {
	found := false
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(ecoBucket(BaseEcosystem(ecosystem))) != nil
		return nil
	})
	return found
}

// EcosystemStatus describes one imported export.
type EcosystemStatus struct {
	Ecosystem string `json:"ecosystem"`
	Source    string `json:"source"`
	// Records indexed (not withdrawn), Withdrawn skipped, Invalid rejected.
	Records   int `json:"records"`
	Withdrawn int `json:"withdrawn"`
	Invalid   int `json:"invalid"`
	Malicious int `json:"malicious"`
	Packages  int `json:"packages"`
	// Imported is when the export was imported; Newest the latest
	// "modified" among its records (how fresh the data itself is).
	Imported time.Time `json:"imported"`
	Newest   string    `json:"newest_modified,omitempty"`
}

// Status lists the imported ecosystems, sorted by name.
func (db *DB) Status() ([]EcosystemStatus, error) {
	var out []EcosystemStatus
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMeta).Cursor()
		prefix := []byte("eco/")
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var s EcosystemStatus
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("meta %s: %w", k, err)
			}
			out = append(out, s)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Ecosystem < out[j].Ecosystem })
	return out, err
}

// writeEcosystem replaces one ecosystem's bucket and status in a single
// transaction: readers see the old data or the new, never a mix.
func writeEcosystem(path string, st EcosystemStatus, byName map[string][]Record) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: lockTimeout, NoFreelistSync: true})
	if err != nil {
		return fmt.Errorf("opening %s for writing: %w", path, err)
	}
	defer b.Close()
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return b.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if s := meta.Get(keySchema); s != nil && string(s) != schemaVersion {
			return fmt.Errorf("%s holds schema %s, this aigis writes %s: remove it and import again", path, s, schemaVersion)
		}
		if err := meta.Put(keySchema, []byte(schemaVersion)); err != nil {
			return err
		}
		if tx.Bucket(ecoBucket(st.Ecosystem)) != nil {
			if err := tx.DeleteBucket(ecoBucket(st.Ecosystem)); err != nil {
				return err
			}
		}
		bk, err := tx.CreateBucket(ecoBucket(st.Ecosystem))
		if err != nil {
			return err
		}
		bk.FillPercent = 0.95 // keys arrive sorted
		for _, n := range names {
			v, err := json.Marshal(byName[n])
			if err != nil {
				return err
			}
			if err := bk.Put([]byte(n), v); err != nil {
				return fmt.Errorf("storing %s: %w", n, err)
			}
		}
		sv, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return meta.Put(ecoMetaKey(st.Ecosystem), sv)
	})
}
