package osvdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
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

// ErrSchema is returned by Open for a database of another schema version.
var ErrSchema = errors.New("the vulnerability database was written by another version of aigis")

// ErrLocked is returned when another process holds the database or its
// writer lock for longer than lockTimeout.
var ErrLocked = errors.New("the vulnerability database is locked by another process")

// lockTimeout bounds the wait for a lock held by another aigis process: a
// clear error beats a hang. A variable so tests can shorten it.
var lockTimeout = 3 * time.Second

// DefaultPath is <user cache dir>/aigis/osv.db.
func DefaultPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache directory (%v): pass --db or set AIGIS_DB", err)
	}
	return filepath.Join(dir, "aigis", "osv.db"), nil
}

// DB is an open, read-only store. Its file is never written in place
// (imports build a new file and rename it over the old one), so a DB keeps
// reading the data it was opened on however many imports run meanwhile.
type DB struct {
	bolt *bolt.DB
	path string
	ecos []EcosystemStatus
	has  map[string]bool
}

// Open opens the store read-only and checks the whole file before bbolt
// reads any of it: a truncated or damaged file is an ErrCorrupt error,
// never a panic or a fault. It also reads every ecosystem's status, so
// Status and HasEcosystem cannot fail later.
func Open(path string) (*DB, error) {
	db, err := open(path)
	if errors.Is(err, ErrCorrupt) {
		return nil, fmt.Errorf("%s: %w; rebuild it with 'aigis db import --replace DIR' or 'aigis db update --replace'", path, err)
	}
	return db, err
}

func open(path string) (*DB, error) {
	b, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	db := &DB{bolt: b, path: path, has: map[string]bool{}}
	if err := db.readMeta(); err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

// openBolt opens a bbolt file read-only once checkFile has passed it.
func openBolt(path string) (*bolt.DB, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: run 'aigis db import DIR' or 'aigis db update'", ErrNoDatabase, path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening vulnerability database: %w", err)
	}
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("opening vulnerability database %s: not a regular file (%v)", path, err)
	}
	if info.Size() < 2*minPageSize {
		f.Close()
		return nil, corrupt("%d bytes, too short for a database", info.Size())
	}
	// bbolt maps the very file checked below (no window for a rename
	// to swap another one in), and closes it with the DB.
	var b *bolt.DB
	err = guard("opening", func() (err error) {
		b, err = bolt.Open(path, 0, &bolt.Options{
			ReadOnly: true, Timeout: lockTimeout,
			OpenFile: func(string, int, os.FileMode) (*os.File, error) { return f, nil },
		})
		return err
	})
	if err != nil {
		f.Close() // bbolt closed it already unless it panicked
	}
	var errno syscall.Errno
	switch {
	case err == nil:
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s is held by another process for more than %s", ErrLocked, path, lockTimeout)
	case errors.As(err, &errno):
		return nil, fmt.Errorf("opening vulnerability database %s: %w", path, err) // locking, mapping
	case errors.Is(err, ErrCorrupt):
		return nil, err
	default:
		// Invalid meta pages, wrong version, bad checksum, "file size too small".
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var txid uint64
	err = guard("reading the meta page", func() error {
		tx, err := b.Begin(false)
		if err != nil {
			return err
		}
		txid = uint64(tx.ID())
		return tx.Rollback()
	})
	if err == nil {
		err = checkFile(f, info.Size(), b.Info().PageSize, txid)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// readMeta checks the schema and keeps the ecosystem statuses.
func (db *DB) readMeta() error {
	return db.view("the metadata", func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		var schema []byte
		if m != nil {
			schema = m.Get(keySchema)
		}
		switch {
		case string(schema) == schemaVersion:
		case schema == nil:
			return fmt.Errorf("%w: no aigis schema (not an aigis vulnerability database?)", ErrCorrupt)
		default:
			return fmt.Errorf("%w: %s holds schema %q, this aigis reads %s: rebuild it with 'aigis db import --replace DIR' or 'aigis db update --replace'", ErrSchema, db.path, schema, schemaVersion)
		}
		c := m.Cursor()
		prefix := []byte("eco/")
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var s EcosystemStatus
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("%w: status %s: %v", ErrCorrupt, k, err)
			}
			if string(k) != string(ecoMetaKey(s.Ecosystem)) || tx.Bucket(ecoBucket(s.Ecosystem)) == nil {
				return fmt.Errorf("%w: status %s names no bucket of its own", ErrCorrupt, k)
			}
			db.ecos = append(db.ecos, s)
			db.has[s.Ecosystem] = true
		}
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if eco, ok := bytes.CutPrefix(name, prefix); ok && !db.has[string(eco)] {
				return fmt.Errorf("%w: bucket %s has no status", ErrCorrupt, name)
			}
			return nil
		})
	})
}

// view runs fn in a read transaction under guard.
func (db *DB) view(what string, fn func(tx *bolt.Tx) error) error {
	return guard("reading "+what+" from "+db.path, func() error { return db.bolt.View(fn) })
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
	err := db.view(ecosystem+"/"+name, func(tx *bolt.Tx) error {
		b := tx.Bucket(ecoBucket(BaseEcosystem(ecosystem)))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(NormalizeName(ecosystem, name)))
		if v == nil {
			return nil
		}
		// v is only valid inside the transaction; Unmarshal copies.
		if err := json.Unmarshal(v, &recs); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s from %s: %w", ecosystem, name, db.path, err)
	}
	return recs, nil
}

// HasEcosystem reports whether an export for the ecosystem was imported.
func (db *DB) HasEcosystem(ecosystem string) bool {
	return db.has[BaseEcosystem(ecosystem)]
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
	// "modified" among its records (RFC 3339, UTC), which says how fresh
	// the data itself is. Dates after the import are not believed.
	Imported time.Time `json:"imported"`
	Newest   string    `json:"newest_modified,omitempty"`
}

// Advisories is what the export held for its ecosystem: the records
// indexed and the withdrawn ones (an advisory being withdrawn does not
// make an export smaller).
func (s EcosystemStatus) Advisories() int { return s.Records + s.Withdrawn }

// DataAge is how long before now the newest record was modified; ok is
// false when no record carried a date.
func (s EcosystemStatus) DataAge(now time.Time) (age time.Duration, ok bool) {
	t, err := time.Parse(time.RFC3339Nano, s.Newest)
	if err != nil {
		return 0, false
	}
	return now.Sub(t), true
}

// Status lists the imported ecosystems, sorted by name.
func (db *DB) Status() []EcosystemStatus {
	out := slices.Clone(db.ecos)
	sort.Slice(out, func(i, j int) bool { return out[i].Ecosystem < out[j].Ecosystem })
	return out
}

// statusOf is the ecosystem's status in db, which may be nil (no database).
func (db *DB) statusOf(eco string) (EcosystemStatus, bool) {
	if db == nil {
		return EcosystemStatus{}, false
	}
	for _, s := range db.ecos {
		if s.Ecosystem == eco {
			return s, true
		}
	}
	return EcosystemStatus{}, false
}
