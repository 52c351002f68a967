package deps

import (
	"context"
	"os"
	"runtime"
	"sync"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/deps/correlate"
	"github.com/aigis-dev/aigis/scan"
)

// minModelSize is the size below which no file is a model: smaller
// files are not offered to the scan engine.
const minModelSize = 8

// modelFile is a file of the tree that may be a model.
type modelFile struct{ rel, display string }

// modelKinds asks the scan engine what each offered file is (every
// analyser, header-only, as aigis scan reads it by default) and files
// it under the model kinds its format and header facts make it
// (correlate.KindsOf). Files are opened through the walk's root; one
// that cannot be opened is not a model deps can correlate.
//
// A kind is a fact of the file as a whole, which what a file contains
// never sets (report.Model): the engine reads each file itself and does
// not descend into archive members or decompressed streams, so a
// dataset .tar.gz in a project costs a header read, not a decompression.
func (t *tree) modelKinds(ctx context.Context, root *os.Root) {
	limits := analyzer.DefaultLimits()
	limits.MaxDepth = 0
	engine := scan.New(scan.Options{Limits: limits})
	kinds := make([][]correlate.Kind, len(t.files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(runtime.NumCPU(), len(t.files))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f, err := root.Open(t.files[i].rel)
				if err != nil {
					continue
				}
				if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
					a := engine.ScanReaderAt(ctx, f, st.Size(), t.files[i].display)
					kinds[i] = correlate.KindsOf(&a)
				}
				f.Close()
			}
		}()
	}
	for i := range t.files {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for i, ks := range kinds {
		for _, k := range ks {
			t.models[k] = append(t.models[k], t.files[i].display)
		}
	}
}
