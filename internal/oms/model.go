package oms

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// GitPaths are ignored at the model root by default (spec §6.2), as
// model_signing does.
var GitPaths = []string{".git", ".gitattributes", ".github", ".gitignore"}

// File is one regular file of a model, as enumerated.
type File struct {
	// Name is model-relative with "/" separators; "." for a single-file
	// model, as model_signing names it.
	Name string
	// Path is where to read it. For an allowed symlink this is the link;
	// opening it follows the link.
	Path string
	Size int64
	// Link is set when the file was reached through a symbolic link.
	Link bool
}

// Problem is a path that cannot be part of a manifest: a symlink that is
// not allowed, a broken link, a symlinked directory, a special file, an
// unreadable directory or a name that is not UTF-8.
type Problem struct {
	Name string
	Kind ProblemKind
	Err  error
}

// ProblemKind classifies a Problem for reports.
type ProblemKind string

const (
	ProblemSymlink     ProblemKind = "symlink-not-allowed"
	ProblemBrokenLink  ProblemKind = "symlink-broken"
	ProblemLinkedDir   ProblemKind = "symlink-to-directory"
	ProblemSpecialFile ProblemKind = "file-special"
	ProblemUnreadable  ProblemKind = "file-unreadable"
	ProblemBadName     ProblemKind = "name-not-utf8"
)

func (p Problem) Error() string { return fmt.Sprintf("%s: %v", p.Name, p.Err) }

// Model is a model as found on disk.
type Model struct {
	Root   string // as given
	Single bool   // Root is a file, not a directory
	Files  []File // sorted by Name (code point)
	// Problems are paths that make the model unsignable as it stands. A
	// signer refuses them; a verifier reports them.
	Problems []Problem
}

// WalkOptions configure Walk.
type WalkOptions struct {
	// AllowSymlinks hashes the target of a symbolic link under the link's
	// name. Links to directories, broken links and loops are problems even
	// then: their content could never be verified the same way twice.
	AllowSymlinks bool
	// Ignore lists model-relative paths to leave out, each with everything
	// beneath it. Entries are matched as whole path components.
	Ignore []string
}

// Walk enumerates the regular files of the model at root without following
// any link that is not allowed.
func Walk(root string, opts WalkOptions) (*Model, error) {
	m := &Model{Root: root}
	info, err := os.Lstat(root)
	if err != nil {
		return nil, err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		if !opts.AllowSymlinks {
			return nil, fmt.Errorf("%s is a symbolic link; pass --allow-symlinks to follow it", root)
		}
		if info, err = os.Stat(root); err != nil {
			return nil, err
		}
	}
	switch {
	case info.Mode().IsRegular():
		m.Single = true
		m.Files = []File{{Name: ".", Path: root, Size: info.Size()}}
		return m, nil
	case info.IsDir():
	default:
		return nil, fmt.Errorf("%s is neither a regular file nor a directory", root)
	}
	ignore := make(map[string]bool, len(opts.Ignore))
	for _, p := range opts.Ignore {
		ignore[p] = true
	}
	w := walker{m: m, opts: opts, ignore: ignore}
	w.dir(root, "")
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	sort.Slice(m.Problems, func(i, j int) bool { return m.Problems[i].Name < m.Problems[j].Name })
	return m, nil
}

type walker struct {
	m      *Model
	opts   WalkOptions
	ignore map[string]bool
}

func (w *walker) problem(name string, kind ProblemKind, err error) {
	w.m.Problems = append(w.m.Problems, Problem{Name: name, Kind: kind, Err: err})
}

func (w *walker) dir(dir, rel string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		name := rel
		if name == "" {
			name = "."
		}
		w.problem(name, ProblemUnreadable, err)
		return
	}
	for _, e := range entries {
		name := e.Name()
		if rel != "" {
			name = rel + "/" + name
		}
		if w.ignored(name) {
			continue
		}
		full := filepath.Join(dir, e.Name())
		if !utf8.ValidString(name) {
			w.problem(strings.ToValidUTF8(name, "\uFFFD"), ProblemBadName, errors.New("file name is not valid UTF-8 and cannot be named in a manifest"))
			continue
		}
		switch t := e.Type(); {
		case t.IsDir():
			w.dir(full, name)
		case t.IsRegular():
			info, err := e.Info()
			if err != nil {
				w.problem(name, ProblemUnreadable, err)
				continue
			}
			w.m.Files = append(w.m.Files, File{Name: name, Path: full, Size: info.Size()})
		case t&fs.ModeSymlink != 0:
			w.link(full, name)
		default:
			w.problem(name, ProblemSpecialFile, fmt.Errorf("%s is not a regular file", t.Type()))
		}
	}
}

func (w *walker) link(full, name string) {
	target, _ := os.Readlink(full)
	if !w.opts.AllowSymlinks {
		w.problem(name, ProblemSymlink, fmt.Errorf("symbolic link to %q; pass --allow-symlinks to hash its target", target))
		return
	}
	info, err := os.Stat(full)
	switch {
	case err != nil:
		w.problem(name, ProblemBrokenLink, fmt.Errorf("symbolic link to %q does not resolve: %v", target, err))
	case info.IsDir():
		w.problem(name, ProblemLinkedDir, fmt.Errorf("symbolic link to directory %q: its files cannot be named in a manifest", target))
	case info.Mode().IsRegular():
		w.m.Files = append(w.m.Files, File{Name: name, Path: full, Size: info.Size(), Link: true})
	default:
		w.problem(name, ProblemSpecialFile, fmt.Errorf("symbolic link to %q, which is not a regular file", target))
	}
}

// ignored matches whole components: "cache" ignores "cache" and
// "cache/x", never "cache2" or "sub/cache".
func (w *walker) ignored(name string) bool {
	if len(w.ignore) == 0 {
		return false
	}
	for p := name; ; {
		if w.ignore[p] {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// ModelName is the subject name model_signing gives a model: the last
// element of its path, or of its absolute path when that is "." or "..".
func ModelName(root string) string {
	name := filepath.Base(filepath.Clean(root))
	if name == "." || name == ".." || name == string(filepath.Separator) {
		if abs, err := filepath.Abs(root); err == nil {
			name = filepath.Base(abs)
		}
	}
	return name
}

// CleanIgnorePath turns a model-relative ignore path into the canonical
// form Walk matches ("a/b", no "./" or trailing "/"), or explains why it
// can never name something inside the model.
func CleanIgnorePath(p string) (string, error) {
	c := filepath.ToSlash(filepath.Clean(filepath.FromSlash(p)))
	switch {
	case p == "":
		return "", errors.New("empty ignore path")
	case c == ".":
		return "", fmt.Errorf("ignore path %q would ignore the whole model", p)
	case strings.HasPrefix(c, "/") || c == ".." || strings.HasPrefix(c, "../") || filepath.IsAbs(p):
		return "", fmt.Errorf("ignore path %q is outside the model", p)
	}
	return c, nil
}

// ResolveIgnorePath interprets an ignore path given on a command line the
// way model_signing does (relative to the working directory cwd, or
// absolute) when that lands inside the model at root, and otherwise as
// relative to the model root. It returns the model-relative form.
func ResolveIgnorePath(root, p, cwd string) (string, error) {
	cand := p
	if !filepath.IsAbs(cand) {
		cand = filepath.Join(cwd, cand)
	}
	if rel, ok := Within(root, cand); ok {
		return rel, nil
	}
	if filepath.IsAbs(p) {
		return "", fmt.Errorf("ignore path %q is outside the model %s", p, root)
	}
	return CleanIgnorePath(p)
}

// Within reports whether path p lies strictly inside the model directory
// root (lexically, after making both absolute), and its model-relative,
// "/"-separated form.
func Within(root, p string) (string, bool) {
	absRoot, err1 := filepath.Abs(root)
	absP, err2 := filepath.Abs(p)
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, err := filepath.Rel(absRoot, absP)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}
