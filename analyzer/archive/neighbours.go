package archive

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/decode/zipr"
)

// memberFS gives a zip member the other members of its archive as
// neighbours (ONNX external data shipped beside the model in a bundle).
// Names are resolved against the member's directory and must stay inside
// the archive; links are never followed.
type memberFS struct {
	m   *Members
	dir string
}

var errNoMember = errors.New("no such member in the archive")

func (n memberFS) entry(name string) (*zipr.Entry, error) {
	if name == "" || path.IsAbs(name) || strings.ContainsAny(name, "\\\x00") {
		return nil, fs.ErrInvalid
	}
	p := path.Join(n.dir, name)
	if p == ".." || strings.HasPrefix(p, "../") {
		return nil, fs.ErrInvalid
	}
	if e := n.m.Entry(p); e != nil && !e.IsDir() {
		return e, nil
	}
	return nil, errNoMember
}

func (n memberFS) Lstat(name string) (fs.FileInfo, error) {
	e, err := n.entry(name)
	if err != nil {
		return nil, err
	}
	return memberInfo{e}, nil
}

func (n memberFS) ReadFile(name string, max int64) ([]byte, error) {
	e, err := n.entry(name)
	if err != nil {
		return nil, err
	}
	if e.IsSymlink() || n.m.bad[e] || e.Encrypted() {
		return nil, fs.ErrPermission
	}
	if int64(e.Size) > max {
		return nil, &analyzer.LimitError{What: "bytes read from " + name, Limit: max}
	}
	return n.m.ReadSmall(e, max)
}

// ReadDir lists the members directly inside the named directory.
func (n memberFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if path.IsAbs(name) || strings.ContainsAny(name, "\\\x00") {
		return nil, fs.ErrInvalid
	}
	dir := path.Join(n.dir, name)
	if dir == ".." || strings.HasPrefix(dir, "../") {
		return nil, fs.ErrInvalid
	}
	var out []fs.DirEntry
	for _, e := range n.m.z.Entries {
		if e.IsDir() || path.Dir(e.Name) != dir {
			continue
		}
		out = append(out, fs.FileInfoToDirEntry(memberInfo{e}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Memo remembers a value about this directory of the archive while its
// members are analysed.
func (n memberFS) Memo(key string, compute func() any) any {
	k := n.dir + "\x00" + key
	if v, ok := n.m.memo[k]; ok {
		return v
	}
	if n.m.memo == nil {
		n.m.memo = map[string]any{}
	}
	v := compute()
	n.m.memo[k] = v
	return v
}

type memberInfo struct{ e *zipr.Entry }

func (i memberInfo) Name() string { return path.Base(i.e.Name) }
func (i memberInfo) Size() int64  { return int64(i.e.Size) }
func (i memberInfo) Mode() fs.FileMode {
	if i.e.IsSymlink() {
		return fs.ModeSymlink | 0o777
	}
	return 0o644
}
func (i memberInfo) ModTime() time.Time { return time.Time{} }
func (i memberInfo) IsDir() bool        { return false }
func (i memberInfo) Sys() any           { return nil }
