package scan

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// window is how many artifacts may be in flight (queued, being analysed,
// or finished and waiting for an earlier one) at once. It bounds memory
// whatever the number of files: a report of a million files streams
// through it.
const window = 4096

// jobKind is what a walked entry needs.
type jobKind int

const (
	jobFile     jobKind = iota // analyse a regular file
	jobLinked                  // analyse the file a link inside the root resolves to
	jobDone                    // an artifact the walker already built (special files, escaping links)
	jobDir                     // run a directory analyser
	jobCloseDir                // every entry below an analysed directory has been walked
)

type job struct {
	seq     int
	kind    jobKind
	path    string // on disk (jobLinked: relative to root)
	display string // as reported
	root    *os.Root
	nb      analyzer.Neighbours // files beside a walked file
	done    *report.Artifact
	dir     *analyzer.Dir // a directory for a DirAnalyzer
	dirA    analyzer.DirAnalyzer
}

type result struct {
	seq  int
	kind jobKind
	a    report.Artifact
}

// Scan walks every target (file or directory) and returns one artifact per
// regular file, link and special file, and one per directory a directory
// analyser recognised, in the order Stream gives.
func (s *Scanner) Scan(ctx context.Context, targets []string) (*report.Report, error) {
	rep := &report.Report{Command: "scan", Artifacts: []report.Artifact{}}
	err := s.Stream(ctx, targets, func(a *report.Artifact) error {
		rep.Artifacts = append(rep.Artifacts, *a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// Stream walks every target and hands each artifact to emit as soon as it
// and every artifact before it are finished: memory stays flat however
// many files there are. The order is the walk's, whatever the scheduling:
// targets in the order given, the entries of a directory in name order,
// depth first, and a recognised directory's own artifact right after the
// last artifact below it (its verdict summarises them, and findings its
// analysis makes about a file are also added to that file's artifact).
// emit runs on the calling goroutine; an error from it stops the scan.
//
// A target that does not exist is an error; problems inside the tree
// (unreadable files, escaping links) are findings.
func (s *Scanner) Stream(ctx context.Context, targets []string, emit func(*report.Artifact) error) error {
	for _, t := range targets {
		if _, err := os.Stat(t); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job, 256)
	results := make(chan result, 256)
	slots := make(chan struct{}, window)
	var wg sync.WaitGroup
	for i := 0; i < s.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				results <- s.run(ctx, j)
			}
		}()
	}
	w := &walker{s: s, ctx: ctx, jobs: jobs, slots: slots}
	var walkErr error
	go func() {
		defer close(jobs)
		for _, t := range targets {
			if walkErr = w.target(t); walkErr != nil {
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	o := &orderer{pending: map[int]result{}, emit: func(a *report.Artifact) error {
		if s.opts.OnArtifact != nil {
			s.opts.OnArtifact(a)
		}
		return emit(a)
	}}
	var emitErr error
	for r := range results {
		o.pending[r.seq] = r
		for {
			next, ok := o.pending[o.next]
			if !ok {
				break
			}
			delete(o.pending, o.next)
			o.next++
			<-slots
			if emitErr == nil {
				if emitErr = o.release(next); emitErr != nil {
					cancel()
				}
			}
		}
	}
	for _, r := range w.roots {
		closeRoot(r)
	}
	switch {
	case emitErr != nil:
		return emitErr
	case walkErr != nil:
		return walkErr
	}
	return ctx.Err()
}

// run does one job on a worker. A worker holds a CPU token while it
// analyses; helpers an analyser starts get only the idle ones.
func (s *Scanner) run(ctx context.Context, j job) result {
	r := result{seq: j.seq, kind: j.kind}
	switch j.kind {
	case jobDone:
		r.a = *j.done
		return r
	case jobCloseDir:
		return r
	}
	if s.opts.CPU.Acquire(ctx) != nil {
		r.a = report.Artifact{Path: j.display, Format: "other"}
		r.a.Add(rules.New(rules.LimitReached, "", "the run was interrupted before this was analysed"))
		return r
	}
	defer s.opts.CPU.Release()
	switch j.kind {
	case jobDir:
		r.a = s.scanDir(ctx, j)
	case jobLinked:
		r.a = s.scanLinked(ctx, j)
	default:
		if j.nb == nil {
			r.a = s.ScanFile(ctx, j.path, j.display)
		} else {
			r.a = s.scanFile(ctx, j.path, j.display, j.nb)
		}
	}
	return r
}

// walker turns targets into numbered jobs. It may run at most window jobs
// ahead of the artifacts already released.
type walker struct {
	s     *Scanner
	ctx   context.Context
	jobs  chan<- job
	slots chan struct{}
	seq   int
	roots []*os.Root // closed when every job is done
	open  []string   // analysed directories whose entries are being walked
}

func (w *walker) send(j job) error {
	select {
	case w.slots <- struct{}{}:
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
	j.seq = w.seq
	w.seq++
	w.jobs <- j
	return nil
}

// closeDirs ends every analysed directory that p is not inside ("" ends
// them all).
func (w *walker) closeDirs(p string) error {
	for len(w.open) > 0 {
		d := w.open[len(w.open)-1]
		if p != "" && strings.HasPrefix(p, d+string(filepath.Separator)) {
			return nil
		}
		w.open = w.open[:len(w.open)-1]
		if err := w.send(job{kind: jobCloseDir, display: d}); err != nil {
			return err
		}
	}
	return nil
}

// target walks one target. A target that is itself a symlink is followed
// (the user named it); links inside a directory are judged by where they
// lead.
func (w *walker) target(target string) error {
	st, err := os.Stat(target)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		if st.Mode().IsRegular() {
			// The user named it: a link given as the target is followed
			// (files are otherwise opened without following links).
			p, err := filepath.EvalSymlinks(target)
			if err != nil {
				return err
			}
			return w.send(job{path: p, display: target})
		}
		return w.send(job{kind: jobDone, done: specialArtifact(target, st.Mode())})
	}
	root, err := resolvedRoot(target)
	if err != nil {
		return err
	}
	// Analysers reach the files beside a walked file only through this
	// root, which refuses names and links that leave it.
	oroot, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	w.roots = append(w.roots, oroot)
	rel := func(p string) string {
		r, err := filepath.Rel(target, p)
		if err != nil {
			return "."
		}
		return filepath.ToSlash(r)
	}
	err = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if w.ctx.Err() != nil {
			return w.ctx.Err()
		}
		if err := w.closeDirs(p); err != nil {
			return err
		}
		if err != nil {
			if p == target {
				return err
			}
			a := &report.Artifact{Path: p, Format: "unreadable"}
			a.Add(rules.New(rules.Unreadable, "", fmt.Sprintf("cannot read: %v", err)))
			if serr := w.send(job{kind: jobDone, done: a}); serr != nil {
				return serr
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			return w.offerDir(p, rootFS{root: oroot, dir: rel(p)})
		case t&fs.ModeSymlink != 0:
			return w.link(root, oroot, p, rel(p))
		case t.IsRegular():
			return w.send(job{path: p, display: p, nb: rootFS{root: oroot, dir: path.Dir(rel(p))}})
		default:
			return w.send(job{kind: jobDone, done: specialArtifact(p, t)})
		}
	})
	if err != nil {
		return err
	}
	return w.closeDirs("")
}

// resolvedRoot is a directory target's absolute path with every link
// resolved: what links inside it are compared with.
func resolvedRoot(target string) (string, error) {
	abs, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// offerDir queues a directory job when a DirAnalyzer recognises the
// directory's layout. It reads only the directory listing.
func (w *walker) offerDir(p string, fsys rootFS) error {
	if len(w.s.opts.DirAnalyzers) == 0 {
		return nil
	}
	entries, err := fsys.ReadDir(".")
	if err != nil {
		return nil // the walk reports unreadable directories itself
	}
	d := &analyzer.Dir{Entries: entries, FS: fsys}
	for _, da := range w.s.opts.DirAnalyzers {
		if da.MatchDir(d) {
			p = filepath.Clean(p)
			w.open = append(w.open, p)
			return w.send(job{kind: jobDir, display: p, dir: d, dirA: da})
		}
	}
	return nil
}

// link judges a symbolic link inside a walked directory by where it
// leads, the same whether the target was named by a relative or an
// absolute path. A link to a file inside the root is analysed as that
// file (read through the root, so it cannot be swapped to lead outside):
// its verdict is its target's, and a Hugging Face snapshot's
// pytorch_model.bin, a link into ../../blobs, is as malicious as the blob.
// A link out of the root is a finding and is not followed.
func (w *walker) link(root string, oroot *os.Root, p, relp string) error {
	a, resolved := linkArtifact(root, p)
	if resolved == "" || a.Verdict != report.Clean {
		return w.send(job{kind: jobDone, done: a})
	}
	if st, err := oroot.Stat(resolved); err != nil || !st.Mode().IsRegular() {
		// A link to a directory: that directory is walked where it is.
		return w.send(job{kind: jobDone, done: a})
	}
	return w.send(job{kind: jobLinked, path: resolved, display: p, root: oroot, done: a,
		nb: rootFS{root: oroot, dir: path.Dir(relp)}})
}

// scanLinked analyses the file a link resolves to, opened through the
// root, as the link's artifact.
func (s *Scanner) scanLinked(ctx context.Context, j job) report.Artifact {
	f, err := j.root.OpenFile(j.path, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		a := *j.done
		a.Add(rules.New(rules.Unreadable, "", fmt.Sprintf("cannot open the link's target: %v", err)))
		return a
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		a := *j.done
		a.Add(rules.New(rules.Unreadable, "", "the link's target is not a regular file when opened"))
		return a
	}
	a := s.scanReaderAt(ctx, f, st.Size(), j.display, j.nb)
	if a.Properties == nil {
		a.Properties = map[string]string{}
	}
	for k, v := range j.done.Properties {
		a.Properties[k] = v
	}
	return a
}

func specialArtifact(p string, m fs.FileMode) *report.Artifact {
	a := &report.Artifact{Path: p, Format: "special"}
	a.Add(rules.New(rules.SpecialFile, "", fmt.Sprintf("not a regular file (%s); not read", m.Type())))
	return a
}

// linkArtifact records a symlink without following it, and where it
// resolves to, relative to root ("" when it does not resolve inside it).
// A link that leads outside root is a finding: loaders that follow it
// would read host files (a model repository linking to ~/.ssh, say).
func linkArtifact(root, p string) (*report.Artifact, string) {
	a := &report.Artifact{Path: p, Format: "symlink"}
	dest, _ := os.Readlink(p)
	a.Properties = map[string]string{"link_target": dest}
	abs, err := filepath.Abs(p)
	if err != nil {
		a.Add(rules.New(rules.Unreadable, "", fmt.Sprintf("cannot resolve the link: %v", err)))
		return a, ""
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if escapes(root, lexicalTarget(abs, dest)) {
			a.Add(rules.New(rules.SymlinkEscape, "", fmt.Sprintf("dangling link to %q points outside the scan root", dest)))
			return a, ""
		}
		a.Add(rules.New(rules.SymlinkDangling, "", fmt.Sprintf("link to %q does not resolve: %v", dest, err)))
		return a, ""
	}
	if escapes(root, resolved) {
		a.Add(rules.New(rules.SymlinkEscape, "", fmt.Sprintf("link to %q resolves outside the scan root (%s); not followed", dest, resolved)))
		return a, ""
	}
	rel, err := filepath.Rel(root, resolved)
	if err != nil {
		return a, ""
	}
	a.Properties["link_resolves_to"] = filepath.ToSlash(rel)
	return a, rel
}

func lexicalTarget(abs, dest string) string {
	if filepath.IsAbs(dest) {
		return filepath.Clean(dest)
	}
	return filepath.Join(filepath.Dir(abs), dest)
}

func escapes(root, target string) bool {
	rel, err := filepath.Rel(root, target)
	if err != nil {
		return true
	}
	return rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel)
}

// orderer releases results in walk order and folds each into the
// analysed directories that contain it.
type orderer struct {
	pending map[int]result
	next    int
	open    []*openDir
	emit    func(*report.Artifact) error
}

// openDir is an analysed directory whose entries are still being
// released.
type openDir struct {
	a      report.Artifact
	byFile map[string][]report.Finding // findings about a file, by its path
	files  int
	counts map[report.Verdict]int
	worst  report.Verdict
	sev    report.Severity
	worstP string
}

func (o *orderer) release(r result) error {
	switch r.kind {
	case jobDir:
		d := &openDir{a: r.a, byFile: map[string][]report.Finding{}, counts: map[report.Verdict]int{}}
		for _, f := range r.a.Findings {
			// The location stays as written ("sub/modeling.py:3"): it
			// names the file and line, which SARIF turns into a region.
			file, _ := report.FileLine(f.Location)
			if file == "" || file == ".." || strings.HasPrefix(file, "../") {
				continue
			}
			k := filepath.Join(r.a.Path, filepath.FromSlash(file))
			d.byFile[k] = append(d.byFile[k], f)
		}
		o.open = append(o.open, d)
		return nil
	case jobCloseDir:
		d := o.open[len(o.open)-1]
		o.open = o.open[:len(o.open)-1]
		d.finish()
		o.fold(&d.a)
		return o.emit(&d.a)
	}
	a := &r.a
	for _, d := range o.open {
		for _, f := range d.byFile[a.Path] {
			if !hasFinding(a, f) {
				a.Add(f)
			}
		}
	}
	o.fold(a)
	return o.emit(a)
}

// fold counts a into every open directory (they all contain it).
func (o *orderer) fold(a *report.Artifact) {
	for _, d := range o.open {
		d.files++
		d.counts[a.Verdict]++
		if a.Verdict > d.worst {
			d.worst, d.worstP = a.Verdict, a.Path
		}
		if m, ok := a.MaxSeverity(); ok && a.Verdict != report.Clean && m > d.sev {
			d.sev = m
		}
	}
}

// finish adds the summary of everything below the directory: a repository
// is loaded as a whole, so its verdict is never better than its worst file.
func (d *openDir) finish() {
	if d.a.Properties == nil {
		d.a.Properties = map[string]string{}
	}
	d.a.Properties["files"] = fmt.Sprint(d.files)
	if d.worst == report.Clean {
		return
	}
	var parts []string
	for v := report.Malicious; v > report.Clean; v-- {
		if d.counts[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", d.counts[v], v))
		}
	}
	rel, err := filepath.Rel(d.a.Path, d.worstP)
	if err != nil {
		rel = d.worstP
	}
	rel = filepath.ToSlash(rel)
	f := rules.New(rules.RepoContents, rel, fmt.Sprintf("%s of %d files below this directory (worst: %s)", strings.Join(parts, ", "), d.files, rel))
	f.Verdict, f.Severity = d.worst, d.sev
	d.a.Add(f)
}

func hasFinding(a *report.Artifact, f report.Finding) bool {
	for _, g := range a.Findings {
		if g.Rule == f.Rule && g.Message == f.Message {
			return true
		}
	}
	return false
}
