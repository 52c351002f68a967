// Package deps audits the dependencies of ML projects: it finds manifests
// and lockfiles in a tree (osv-scalibr's extractors plus aigis's conda
// reader), matches locked versions against the offline OSV store (osvdb),
// and adds the checks a generic scanner lacks: typosquats of ML package
// names, dependency-confusion index setups, unpinned requirements, and
// advisories that the tree's own model files exercise.
//
// It reads manifests, and learns which model files a tree holds from the
// scan engine (header-only); it never installs, resolves
// or imports a package, never contacts an index or the network, and never
// loads a model. Every input is bounded; a manifest that cannot be read is
// a finding naming the file, and the scan goes on.
package deps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	scalibrfs "github.com/google/osv-scalibr/fs"

	"github.com/aigis-dev/aigis/internal/bounded"
	"github.com/aigis-dev/aigis/internal/deps/correlate"
	"github.com/aigis-dev/aigis/internal/osvdb"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// Bounds of one scan.
const (
	MaxManifestBytes = 32 << 20
	maxWalkEntries   = 1_000_000
)

// Options configures Scan. The zero value runs every check except
// vulnerability matching.
type Options struct {
	// DB is the vulnerability store; nil skips vulnerability matching
	// (the caller must have asked for that explicitly).
	DB *osvdb.DB
	// OnArtifact is called for each manifest as it is finished.
	OnArtifact func(*report.Artifact)
}

// skipDirs are never entered: VCS metadata, installed dependency trees and
// caches (a virtualenv is recognised by its pyvenv.cfg).
var skipDirs = map[string]bool{".git": true, ".hg": true, ".svn": true, "node_modules": true, "__pycache__": true, ".tox": true, ".mypy_cache": true, "site-packages": true}

// tree is what one walk finds.
type tree struct {
	manifests []*Manifest
	models    map[correlate.Kind][]string
	problems  []report.Artifact
	files     []modelFile // offered to the scan engine
}

// Scan audits each target (a directory or a single manifest) and returns
// one artifact per manifest or lockfile found.
func Scan(ctx context.Context, targets []string, opt Options) (*report.Report, error) {
	rep := &report.Report{Command: "deps"}
	m := newMatcher(opt.DB)
	for _, target := range targets {
		t, err := walk(ctx, target)
		if err != nil {
			return nil, err
		}
		rep.Artifacts = append(rep.Artifacts, t.problems...)
		locked := lockedBySibling(t.manifests)
		for _, mf := range t.manifests {
			a := m.audit(mf, t.models, locked[filepath.Dir(mf.Rel)])
			if opt.OnArtifact != nil {
				opt.OnArtifact(&a)
			}
			rep.Artifacts = append(rep.Artifacts, a)
		}
	}
	return rep, ctx.Err()
}

// walk finds manifests and model files under target, extracting each
// manifest as it goes.
func walk(ctx context.Context, target string) (*tree, error) {
	st, err := os.Stat(target)
	if err != nil {
		return nil, err
	}
	rootPath, only := target, ""
	if !st.IsDir() {
		rootPath, only = filepath.Dir(target), filepath.Base(target)
	}
	root, err := os.OpenRoot(rootPath)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	rfs, ok := root.FS().(scalibrfs.FS)
	if !ok {
		return nil, errors.New("os.Root.FS lacks ReadDir or Stat")
	}
	t := &tree{models: map[correlate.Kind][]string{}}
	display := func(rel string) string {
		if only != "" {
			return target
		}
		return filepath.Join(target, rel)
	}
	visit := func(rel string, info fs.FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if mf := extractFile(ctx, root, rfs, rootPath, rel, info); mf != nil {
			mf.Path = display(rel)
			t.manifests = append(t.manifests, mf)
		}
		if info.Size() >= minModelSize {
			t.files = append(t.files, modelFile{rel: rel, display: display(rel)})
		}
		return nil
	}
	if only != "" {
		if err := visit(only, st); err != nil {
			return nil, err
		}
		if len(t.manifests) == 0 {
			return nil, fmt.Errorf("%s is not a manifest or lockfile that deps reads", target)
		}
		t.modelKinds(ctx, root)
		return t, nil
	}
	n := 0
	err = filepath.WalkDir(rootPath, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == rootPath {
				return err
			}
			t.problems = append(t.problems, unreadable(p, err))
			return nil
		}
		if n++; n > maxWalkEntries {
			return fmt.Errorf("%s: more than %d entries; scan a smaller tree", target, maxWalkEntries)
		}
		rel, _ := filepath.Rel(rootPath, p)
		if d.IsDir() {
			if p != rootPath && SkipDir(d.Name(), p) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks and devices are never followed
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		return visit(rel, info)
	})
	if err != nil {
		return nil, err
	}
	t.modelKinds(ctx, root)
	sort.Slice(t.manifests, func(i, j int) bool { return t.manifests[i].Rel < t.manifests[j].Rel })
	for k := range t.models {
		sort.Strings(t.models[k])
	}
	return t, nil
}

// ExtractFile offers the file rel (relative to root, which is open at
// rootPath) to every extractor, as the deps walk does, and returns what
// the first one that reads it finds; nil when no extractor reads such a
// file. Problems reading or parsing it are in Manifest.Err. Path is rel;
// callers set it to the name they report.
func ExtractFile(ctx context.Context, root *os.Root, rootPath, rel string, info fs.FileInfo) *Manifest {
	rfs, ok := root.FS().(scalibrfs.FS)
	if !ok {
		return &Manifest{Path: rel, Rel: rel, Err: errors.New("os.Root.FS lacks ReadDir or Stat")}
	}
	return extractFile(ctx, root, rfs, rootPath, rel, info)
}

func extractFile(ctx context.Context, root *os.Root, rfs scalibrfs.FS, rootPath, rel string, info fs.FileInfo) *Manifest {
	for _, ex := range extractors {
		if !ex.match(rel, info) {
			continue
		}
		mf := &Manifest{Path: rel, Rel: rel, Format: ex.name, Lockfile: ex.lockfile, Size: info.Size()}
		text, err := readBounded(root, rel, info)
		if err == nil {
			mf.Packages, mf.Signals, err = ex.run(ctx, rfs, rootPath, rel, info, text)
		}
		mf.Err = err
		return mf
	}
	return nil
}

// SkipDir reports whether a directory named name (at path p) is one that
// dependency walks never enter: VCS metadata, installed dependency trees,
// caches and virtualenvs.
func SkipDir(name, p string) bool { return skipDirs[name] || isVenv(p) }

func isVenv(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, "pyvenv.cfg"))
	return err == nil
}

func unreadable(p string, err error) report.Artifact {
	a := report.Artifact{Path: p, Format: "other"}
	a.Add(rules.New(rules.DepsUnreadable, "", fmt.Sprintf("%s could not be read: %v; manifests under it were not checked", p, err)))
	return a
}

func readBounded(root *os.Root, rel string, info fs.FileInfo) ([]byte, error) {
	if info.Size() > MaxManifestBytes {
		return nil, fmt.Errorf("%d bytes, %w of %d bytes", info.Size(), bounded.ErrTooLarge, MaxManifestBytes)
	}
	f, err := root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return bounded.ReadAll(f, MaxManifestBytes)
}

// lockedBySibling maps a directory to the PEP 503 names its lockfiles
// lock: an unpinned requirement beside a lockfile that locks it is not
// "unlocked".
func lockedBySibling(ms []*Manifest) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, m := range ms {
		if !m.Lockfile || m.Err != nil {
			continue
		}
		dir := filepath.Dir(m.Rel)
		if out[dir] == nil {
			out[dir] = map[string]bool{}
		}
		for _, p := range m.Packages {
			out[dir][p.Ecosystem+"/"+osvdb.NormalizeName(p.Ecosystem, p.Name)] = true
		}
	}
	return out
}

func pkgKey(p Package) string {
	return p.Ecosystem + "/" + osvdb.NormalizeName(p.Ecosystem, p.Name)
}

func shortList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
