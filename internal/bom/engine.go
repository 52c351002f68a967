package bom

import (
	"context"
	"path/filepath"
	"sync"

	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

// The scan engine is the only way the BOM learns what a file is: the
// format of every weight file and what its header says (report.Model)
// are read from the engine's artifact for that file, so a file is named
// the same way by scan, bom and deps.

// scanTarget runs the whole engine over the target once, as aigis scan
// does (directory analysers included), and keeps every artifact by the
// path the walk gives the file: they describe the weight files and are
// embedded as scan findings (Options.Scan).
func (t *tree) scanTarget(ctx context.Context) error {
	rep, err := t.engine.Scan(ctx, t.targets)
	if err != nil {
		return err
	}
	t.useScans(rep.Artifacts)
	return nil
}

// useScans keeps the artifacts of a scan of the targets by the path each
// names relative to the target.
func (t *tree) useScans(arts []report.Artifact) {
	for i := range arts {
		a := &arts[i]
		rel := a.Path
		switch {
		case t.single != "":
			rel = t.single
		case len(t.targets) == 1:
			if r, err := filepath.Rel(t.target, a.Path); err == nil {
				rel = filepath.ToSlash(r)
			}
		default:
			if abs, err := filepath.Abs(a.Path); err == nil {
				if r, err := filepath.Rel(t.rootDir, abs); err == nil {
					rel = filepath.ToSlash(r)
				}
			}
		}
		t.arts[rel] = a
	}
}

// describe runs the engine, header-only, over the files in rels that no
// earlier scan described, on Workers goroutines. Files are opened
// through the tree's root, so a link swapped in after the walk cannot
// lead out of it.
func (t *tree) describe(ctx context.Context, rels []string, workers int) {
	var todo []string
	for _, rel := range rels {
		if _, ok := t.arts[rel]; !ok {
			todo = append(todo, rel)
		}
	}
	arts := make([]*report.Artifact, len(todo))
	errs := make([]error, len(todo))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(workers, len(todo))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f, size, err := t.readerAt(todo[i])
				if err != nil {
					errs[i] = err
					continue
				}
				a := t.engine.ScanReaderAt(ctx, f, size, todo[i])
				f.Close()
				arts[i] = &a
			}
		}()
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, rel := range todo {
		if errs[i] != nil {
			t.warnf("%s: %v; format not read", rel, errs[i])
			continue
		}
		t.arts[rel] = arts[i]
	}
}

// newEngine is the scanner of one build: the whole engine, header-only.
func newEngine(workers int) *scan.Scanner {
	return scan.New(scan.Options{Workers: workers})
}
