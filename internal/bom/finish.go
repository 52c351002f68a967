package bom

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/internal/bom/dataset"
	"github.com/aigis-dev/aigis/internal/hashing"
)

// sorted lists the components by ref, so work over them is done, and
// warned about, in the same order every time.
func (t *tree) sorted() []*Component {
	out := make([]*Component, 0, len(t.byRef))
	for _, c := range t.byRef {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}

// localFiles lists every file of every local component.
func (t *tree) localFiles() []*File {
	var out []*File
	for _, c := range t.sorted() {
		out = append(out, c.Files...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// hash computes the SHA-256 of every file in one parallel pass (the
// hashing engine, opening files through the tree's root so that a link
// swapped in after the walk cannot lead out of it); jsonl and csv rows
// are counted from the same bytes.
func (t *tree) hash(ctx context.Context, opt Options) error {
	files := t.localFiles()
	for _, f := range files {
		if rc := dataset.NewRowCounter(f.Format); rc != nil {
			t.counter[f.Path] = rc
		}
	}
	if opt.NoHash {
		// Rows of small text datasets are still counted.
		for _, f := range files {
			rc := t.counter[f.Path]
			if rc == nil {
				continue
			}
			if f.Size > countWithoutHash {
				delete(t.counter, f.Path)
				continue
			}
			r, _, err := t.readerAt(f.Path)
			if err != nil {
				delete(t.counter, f.Path)
				continue
			}
			_, err = io.Copy(rc, r)
			r.Close()
			if err != nil {
				delete(t.counter, f.Path)
			}
		}
		return nil
	}
	jobs := make([]hashing.Job, len(files))
	counters := make([]*dataset.RowCounter, len(files))
	for i, f := range files {
		jobs[i] = hashing.Job{Path: filepath.FromSlash(f.Path), Length: f.Size, Whole: true}
		counters[i] = t.counter[f.Path]
	}
	res, err := hashing.Hash(ctx, jobs, hashing.Options{Workers: opt.Workers, Open: func(p string) (*os.File, error) { return t.open(filepath.ToSlash(p)) },
		Observe: func(i int, p []byte) {
			if counters[i] != nil {
				counters[i].Write(p)
			}
		}})
	var je *hashing.JobError
	if errors.As(err, &je) {
		return fmt.Errorf("hashing %s: %w", je.Path, je.Err)
	}
	if err != nil {
		return err
	}
	for i, f := range files {
		f.SHA256 = hex.EncodeToString(res[i].Digest)
	}
	return nil
}

// finishDatasets reads data file schemas and fills row counts.
func (t *tree) finishDatasets() {
	for _, c := range t.sorted() {
		if c.Kind != KindDataset || !c.Local {
			continue
		}
		d := c.Dataset
		d.RowsExact = true
		for _, f := range c.Files {
			format := dataset.FormatOf(f.Path)
			if format == "" {
				continue
			}
			df := DataFile{Path: f.Path, Split: splitOf(f.Path)}
			r, size, err := t.readerAt(f.Path)
			if err == nil {
				df.Facts, err = dataset.Inspect(format, r, size)
				r.Close()
			}
			if err != nil {
				t.warnf("%s: %v", f.Path, err)
			}
			switch {
			case df.Facts != nil && df.Facts.RowsExact:
				df.Rows, df.RowsExact = df.Facts.Rows, true
			case t.counter[f.Path] != nil:
				df.Rows, df.RowsExact = t.counter[f.Path].Rows(), true
			}
			if df.RowsExact {
				d.Rows += df.Rows
			} else {
				d.RowsExact = false
			}
			d.Files = append(d.Files, df)
		}
		if len(d.Files) == 0 {
			d.RowsExact = false
		}
	}
}

// splitOf guesses a data file's split from its name.
func splitOf(rel string) string {
	name := strings.ToLower(path.Base(rel))
	dir := strings.ToLower(path.Base(path.Dir(rel)))
	for _, s := range []struct{ key, split string }{{"train", "train"}, {"validation", "validation"}, {"valid", "validation"}, {"dev", "validation"}, {"test", "test"}} {
		if strings.HasPrefix(name, s.key) || strings.Contains(name, "-"+s.key) || strings.Contains(name, "_"+s.key) || dir == s.key {
			return s.split
		}
	}
	return ""
}

// attachScans gives every file the artifact the scan engine made of it.
func (t *tree) attachScans() {
	for _, f := range t.localFiles() {
		f.Scan = t.arts[f.Path]
	}
	t.doc.Scanned = true
}

// finish sorts everything so the same tree gives the same document.
func (t *tree) finish() {
	d := t.doc
	for _, c := range t.sorted() {
		sort.Slice(c.Files, func(i, j int) bool { return c.Files[i].Path < c.Files[j].Path })
		if c.Library != nil {
			sort.Strings(c.Library.Manifests)
		}
		if c.Dataset != nil {
			sort.Slice(c.Dataset.Files, func(i, j int) bool { return c.Dataset.Files[i].Path < c.Dataset.Files[j].Path })
		}
		if c != d.Subject {
			d.Components = append(d.Components, c)
		}
	}
	sort.Slice(d.Components, func(i, j int) bool { return d.Components[i].Ref < d.Components[j].Ref })
	sort.Slice(d.Relations, func(i, j int) bool {
		a, b := d.Relations[i], d.Relations[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.To < b.To
	})
}
