// Package fsblob is the embedded BlobStore: content-addressed files under
// one directory, blobs/<alg>/<first two hex>/<hex>, uploads in uploads/<id>
// on the same filesystem. A blob appears by an atomic rename of its fsynced
// upload, so a crash leaves either the whole blob or none (and perhaps an
// upload, which the registry's janitor removes). It never follows a name
// it did not build: digests and upload ids are checked before they become
// paths.
package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aigis-dev/aigis/internal/registry/store"
)

// Store is a BlobStore rooted at a directory.
type Store struct{ root string }

// Open opens (creating) the store at dir.
func Open(dir string) (*Store, error) {
	for _, d := range []string{"blobs", "uploads"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	return &Store{root: dir}, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

var hexLen = map[string]int{"sha256": 64, "sha512": 128}

// Path is where a digest's blob lives; an invalid digest is an error.
func (s *Store) Path(digest string) (string, error) {
	alg, hex, ok := strings.Cut(digest, ":")
	n, known := hexLen[alg]
	if !ok || !known || len(hex) != n || !isLowerHex(hex) {
		return "", fmt.Errorf("invalid digest %q", digest)
	}
	return filepath.Join(s.root, "blobs", alg, hex[:2], hex), nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *Store) uploadPath(id string) (string, error) {
	if id == "" || len(id) > 64 {
		return "", fmt.Errorf("invalid upload id %q", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return "", fmt.Errorf("invalid upload id %q", id)
		}
	}
	return filepath.Join(s.root, "uploads", id), nil
}

type file struct {
	*os.File
	size int64
}

func (f *file) Size() int64 { return f.size }

func openFile(p string) (store.Blob, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	return &file{f, st.Size()}, nil
}

// Open opens a blob.
func (s *Store) Open(_ context.Context, digest string) (store.Blob, error) {
	p, err := s.Path(digest)
	if err != nil {
		return nil, store.ErrNotFound
	}
	return openFile(p)
}

// Stat returns a blob's size.
func (s *Store) Stat(_ context.Context, digest string) (int64, error) {
	p, err := s.Path(digest)
	if err != nil {
		return 0, store.ErrNotFound
	}
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, store.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// Delete removes a blob; a missing one is no error.
func (s *Store) Delete(_ context.Context, digest string) error {
	p, err := s.Path(digest)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Walk lists every blob, in no particular order.
func (s *Store) Walk(ctx context.Context, fn func(string, int64) error) error {
	for alg := range hexLen {
		base := filepath.Join(s.root, "blobs", alg)
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if d.IsDir() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return fn(alg+":"+d.Name(), info.Size())
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Append writes r at off of upload id, at most max bytes (max < 0: no
// bound); reading more than max is an error after max bytes were written.
func (s *Store) Append(_ context.Context, id string, off int64, r io.Reader, max int64) (int64, error) {
	p, err := s.uploadPath(id)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	if max >= 0 {
		r = io.LimitReader(r, max+1)
	}
	n, err := io.CopyBuffer(f, r, make([]byte, 1<<20))
	if err != nil {
		return n, err
	}
	if max >= 0 && n > max {
		return n, ErrTooLarge
	}
	return n, f.Close()
}

// ErrTooLarge is an upload beyond its bound.
var ErrTooLarge = errors.New("upload too large")

// OpenUpload reads an upload.
func (s *Store) OpenUpload(_ context.Context, id string) (store.Blob, error) {
	p, err := s.uploadPath(id)
	if err != nil {
		return nil, err
	}
	return openFile(p)
}

// Commit moves an upload into place as digest, truncated to size, fsynced
// before the rename and the directory after it.
func (s *Store) Commit(_ context.Context, id string, size int64, digest string) error {
	up, err := s.uploadPath(id)
	if err != nil {
		return err
	}
	dst, err := s.Path(digest)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(up, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := os.Rename(up, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// AbortUpload drops an upload's data.
func (s *Store) AbortUpload(_ context.Context, id string) error {
	p, err := s.uploadPath(id)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Uploads lists uploads last written before t.
func (s *Store) Uploads(_ context.Context, t time.Time) ([]string, error) {
	es, err := os.ReadDir(filepath.Join(s.root, "uploads"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		info, err := e.Info()
		if err != nil {
			continue
		}
		if info.ModTime().Before(t) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

var _ store.BlobStore = (*Store)(nil)
