package scan

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/aigis-dev/aigis/analyzer"
)

// rootFS implements analyzer.Neighbours over an os.Root: every name is
// resolved inside the scan root, and symbolic links that leave it fail.
type rootFS struct {
	root *os.Root
	dir  string // slash-separated, relative to root ("." for the root)
}

var errOutside = errors.New("path leaves the scan root")

func (r rootFS) name(n string) (string, error) {
	if n == "" || path.IsAbs(n) || filepath.IsAbs(n) || strings.ContainsRune(n, 0) {
		return "", fmt.Errorf("%q: %w", n, errOutside)
	}
	j := path.Join(r.dir, n)
	if j == ".." || strings.HasPrefix(j, "../") {
		return "", fmt.Errorf("%q: %w", n, errOutside)
	}
	return j, nil
}

func (r rootFS) Lstat(n string) (fs.FileInfo, error) {
	j, err := r.name(n)
	if err != nil {
		return nil, err
	}
	return r.root.Lstat(j)
}

// regular opens j only after checking (through the root, following links
// that stay inside it) that it is a regular file: opening a FIFO blocks.
func (r rootFS) regular(j string) (*os.File, int64, error) {
	st, err := r.root.Stat(j)
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: not a regular file", j)
	}
	f, err := r.root.Open(j)
	if err != nil {
		return nil, 0, err
	}
	return f, st.Size(), nil
}

func (r rootFS) ReadFile(n string, max int64) ([]byte, error) {
	j, err := r.name(n)
	if err != nil {
		return nil, err
	}
	f, size, err := r.regular(j)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > max {
		return nil, &analyzer.LimitError{What: "bytes read from " + n, Limit: max}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, &analyzer.LimitError{What: "bytes read from " + n, Limit: max}
	}
	return b, nil
}

func (r rootFS) ReadDir(n string) ([]fs.DirEntry, error) {
	j, err := r.name(n)
	if err != nil {
		return nil, err
	}
	// A directory opened through os.Root lstats every entry when listed;
	// a plain listing gets the types from getdents. Listing is only names
	// (content is still read through the root), and the walker has just
	// listed this directory itself.
	es, err := os.ReadDir(filepath.Join(r.root.Name(), filepath.FromSlash(j)))
	sort.Slice(es, func(a, b int) bool { return es[a].Name() < es[b].Name() })
	return es, err
}

// memos holds, per open scan root, what analysers remembered about its
// directories (analyzer.NeighbourMemo). An entry lives until the root is
// closed by closeRoot, at the end of the scan.
var memos sync.Map // *os.Root -> *sync.Map of dir+"\x00"+key -> *memoEntry

type memoEntry struct {
	once sync.Once
	v    any
}

// Memo computes a value about this directory once per scan.
func (r rootFS) Memo(key string, compute func() any) any {
	m, _ := memos.LoadOrStore(r.root, new(sync.Map))
	e, _ := m.(*sync.Map).LoadOrStore(r.dir+"\x00"+key, new(memoEntry))
	me := e.(*memoEntry)
	me.once.Do(func() { me.v = compute() })
	return me.v
}

// closeRoot closes a scan root and forgets what was remembered about it.
func closeRoot(r *os.Root) {
	memos.Delete(r)
	r.Close()
}
