package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// maxLinkHops is how many symbolic links one lookup follows, as Linux
// does (ELOOP after 40).
const maxLinkHops = 40

// node is one name in the squashed filesystem.
type node struct {
	path     string // relative to the root, "" for the root
	kind     entryKind
	mode     fs.FileMode
	size     int64
	link     string
	uid, gid int
	modTime  time.Time
	layer    int // index of the layer that wrote it
	data     []byte
	kept     bool
	dropped  bool
	children map[string]*node
}

func (n *node) isDir() bool { return n.kind == kindDir }

// tree is the final filesystem of the image, built layer by layer.
type tree struct {
	root *node
	// versions keeps every layer's copy of the package databases that
	// one file holds for many packages, so that each package can be
	// traced to the layer that installed it.
	versions map[string][]version
}

type version struct {
	layer int
	data  []byte
}

// historyPaths are the single-file package databases.
var historyPaths = map[string]bool{
	"var/lib/dpkg/status":  true,
	"lib/apk/db/installed": true,
}

func newTree() *tree {
	return &tree{root: &node{kind: kindDir, mode: fs.ModeDir | 0o755, children: map[string]*node{}, layer: -1}, versions: map[string][]version{}}
}

var errLoop = errors.New("too many levels of symbolic links")

// resolve walks p from the root, following symbolic links in every
// component but the last (and the last too when follow is set). Links
// resolve inside the image: an absolute target starts at the image's
// root, and ".." stops at it, never on the host. create makes missing
// directories (for entries whose parents the layer does not list) and
// replaces non-directories in the way.
func (t *tree) resolve(p string, follow, create bool, layer int, hops *int) (*node, error) {
	cur := t.root
	var stack []*node // parents, for ".."
	parts := strings.Split(p, "/")
	for i := 0; i < len(parts); i++ {
		c := parts[i]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) > 0 {
				cur, stack = stack[len(stack)-1], stack[:len(stack)-1]
			}
			continue
		}
		if !cur.isDir() {
			return nil, fs.ErrNotExist
		}
		child := cur.children[c]
		last := i == len(parts)-1
		if child == nil {
			if !create {
				return nil, fs.ErrNotExist
			}
			child = &node{path: path.Join(cur.path, c), kind: kindDir, mode: fs.ModeDir | 0o755, children: map[string]*node{}, layer: layer}
			cur.children[c] = child
		}
		if child.kind == kindSymlink && (!last || follow) {
			*hops++
			if *hops > maxLinkHops {
				return nil, errLoop
			}
			target := child.link
			rest := strings.Join(parts[i+1:], "/")
			var base string
			if strings.HasPrefix(target, "/") {
				base = target
			} else {
				base = path.Join("/"+cur.path, target)
			}
			return t.resolve(strings.TrimPrefix(path.Join(base, rest), "/"), follow, create, layer, hops)
		}
		if !last && !child.isDir() {
			if !create {
				return nil, fs.ErrNotExist
			}
			child = &node{path: child.path, kind: kindDir, mode: fs.ModeDir | 0o755, children: map[string]*node{}, layer: layer}
			cur.children[c] = child
		}
		stack = append(stack, cur)
		cur = child
	}
	return cur, nil
}

// parent resolves the directory that holds p, creating it if needed.
func (t *tree) parent(p string, layer int) (*node, string, error) {
	dir, base := path.Split(p)
	hops := 0
	d, err := t.resolve(strings.TrimSuffix(dir, "/"), true, true, layer, &hops)
	if err != nil {
		return nil, "", err
	}
	if !d.isDir() {
		return nil, "", fs.ErrNotExist
	}
	return d, base, nil
}

// apply adds one layer's entries in order, as a runtime unpacks them.
func (t *tree) apply(lr *layerResult) {
	li := lr.src.index
	for i := range lr.entries {
		e := &lr.entries[i]
		if e.kind == kindOpaque {
			hops := 0
			d, err := t.resolve(e.path, true, false, li, &hops)
			if err == nil && d.isDir() {
				prune(d, li)
			}
			continue
		}
		if e.path == "" {
			if e.kind == kindDir {
				t.root.mode = e.mode
			}
			continue
		}
		dir, base, err := t.parent(e.path, li)
		if err != nil {
			if errors.Is(err, errLoop) {
				lr.add(rules.New(rules.ImageSymlinkLoop, "/"+e.path, fmt.Sprintf("layer %d: the directory of /%s is reached through a loop of symbolic links; the entry is left out", li+1, e.path)))
			}
			continue
		}
		if e.kind == kindWhiteout {
			delete(dir.children, base)
			continue
		}
		n := &node{path: path.Join(dir.path, base), kind: e.kind, mode: e.mode, size: e.size, link: e.link, uid: e.uid, gid: e.gid, modTime: e.modTime, layer: li, data: e.data, kept: e.kept, dropped: e.dropped}
		switch e.kind {
		case kindDir:
			if old := dir.children[base]; old != nil && old.isDir() {
				old.mode, old.uid, old.gid, old.modTime, old.layer = e.mode, e.uid, e.gid, e.modTime, li
				continue
			}
			n.children = map[string]*node{}
		case kindHardlink:
			hops := 0
			target, err := t.resolve(e.link, false, false, li, &hops)
			if err != nil || target.kind != kindFile {
				lr.add(rules.New(rules.ImageHardlinkEscape, "/"+e.path, fmt.Sprintf("layer %d: /%s is a hard link to /%s, which is not a file in the image; it is left out", li+1, e.path, e.link)))
				continue
			}
			n.kind, n.size, n.data, n.kept, n.dropped, n.link = kindFile, target.size, target.data, target.kept, target.dropped, ""
			n.mode = target.mode
		}
		dir.children[base] = n
		if n.kind == kindFile && n.kept && historyPaths[n.path] {
			t.versions[n.path] = append(t.versions[n.path], version{layer: li, data: n.data})
		}
	}
}

// prune hides what lower layers put in an opaque directory, keeping what
// layer li itself added.
func prune(d *node, li int) {
	for name, c := range d.children {
		if c.isDir() {
			prune(c, li)
			if c.layer < li && len(c.children) == 0 {
				delete(d.children, name)
			}
			continue
		}
		if c.layer < li {
			delete(d.children, name)
		}
	}
}

// lookup finds p, following links.
func (t *tree) lookup(p string) (*node, error) {
	hops := 0
	return t.resolve(strings.TrimPrefix(path.Clean("/"+p), "/"), true, false, 0, &hops)
}

// walk visits every node below the root in name order (depth first),
// never through a link.
func (t *tree) walk(fn func(n *node)) {
	var rec func(d *node)
	rec = func(d *node) {
		names := make([]string, 0, len(d.children))
		for k := range d.children {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			c := d.children[k]
			fn(c)
			if c.isDir() {
				rec(c)
			}
		}
	}
	rec(t.root)
}

// --- fs.FS over the tree, for osv-scalibr's extractors ---

// treeFS is the final filesystem as an fs.FS (scalibrfs.FS). Links are
// followed inside the image; a file whose content was not kept reads as
// an error, never as empty.
type treeFS struct{ t *tree }

func (f treeFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	n, err := f.t.lookup(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &treeFile{n: n, r: bytes.NewReader(n.data)}, nil
}

func (f treeFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	n, err := f.t.lookup(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return nodeInfo{n}, nil
}

func (f treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	n, err := f.t.lookup(name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	if !n.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return dirEntries(n), nil
}

func dirEntries(n *node) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, fs.FileInfoToDirEntry(nodeInfo{c}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

type treeFile struct {
	n   *node
	r   *bytes.Reader
	dir []fs.DirEntry
	pos int
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return nodeInfo{f.n}, nil }
func (f *treeFile) Close() error               { return nil }

func (f *treeFile) Read(p []byte) (int, error) {
	if f.n.isDir() {
		return 0, errors.New("is a directory")
	}
	if !f.n.kept {
		return 0, fmt.Errorf("/%s: content not kept in memory", f.n.path)
	}
	return f.r.Read(p)
}

func (f *treeFile) ReadAt(p []byte, off int64) (int, error) {
	if !f.n.kept {
		return 0, fmt.Errorf("/%s: content not kept in memory", f.n.path)
	}
	return f.r.ReadAt(p, off)
}

func (f *treeFile) Seek(off int64, whence int) (int64, error) { return f.r.Seek(off, whence) }

func (f *treeFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !f.n.isDir() {
		return nil, errors.New("not a directory")
	}
	if f.dir == nil {
		f.dir = dirEntries(f.n)
	}
	rest := f.dir[f.pos:]
	if n <= 0 {
		f.pos = len(f.dir)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(rest))
	f.pos += k
	return rest[:k], nil
}

type nodeInfo struct{ n *node }

func (i nodeInfo) Name() string {
	if i.n.path == "" {
		return "."
	}
	return path.Base(i.n.path)
}
func (i nodeInfo) Size() int64        { return i.n.size }
func (i nodeInfo) Mode() fs.FileMode  { return i.n.mode }
func (i nodeInfo) ModTime() time.Time { return i.n.modTime }
func (i nodeInfo) IsDir() bool        { return i.n.isDir() }
func (i nodeInfo) Sys() any           { return nil }

// artifactOf is used for findings that belong to a file of the final
// filesystem.
func fileArtifact(n *node) report.Artifact {
	return report.Artifact{Path: "/" + n.path, Format: "other", Size: n.size, Properties: map[string]string{"layer": fmt.Sprint(n.layer + 1)}}
}
