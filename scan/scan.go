// Package scan walks targets and runs the format analysers over every
// regular file, in parallel, within per-file budgets.
//
// It is the single walker and scheduler: analysers never touch the
// filesystem. Symbolic links are never followed out of the scan root; a
// link inside the root is recorded and its target scanned as itself.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/list"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// Options configure a Scanner. The zero value is what aigis scan does:
// every analyser, directory analysers included, all cores and the default
// limits. Every verb builds its scanner from Options, so a file is judged
// the same way by scan, bom, deps, diff and the registry.
type Options struct {
	Workers int
	Limits  analyzer.Limits
	// Analyzers replaces the analyser list (analyzer/list.All()) when
	// not nil; tests use it to isolate one analyser.
	Analyzers []analyzer.Analyzer
	// DirAnalyzers are offered every walked directory; nil means
	// analyzer/list.Dirs(). A directory one matches gets an artifact that
	// summarises everything below it.
	DirAnalyzers []analyzer.DirAnalyzer
	// Weights makes analysers read tensor data for weight forensics
	// (aigis scan --weights); otherwise formats are read header-only.
	Weights bool
	// CPU is the run's CPU budget, shared by the file workers and any
	// pool an analyser starts inside one (weight forensics); nil makes one
	// of Workers tokens.
	CPU *analyzer.CPU
	// OnArtifact, when set, is called once per finished artifact (from
	// worker goroutines, one at a time). Progress displays use it.
	OnArtifact func(a *report.Artifact)
}

// Scanner runs analysers over files.
type Scanner struct {
	opts Options
	mu   sync.Mutex // serialises OnArtifact
}

// New makes a Scanner.
func New(opts Options) *Scanner {
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.Limits == (analyzer.Limits{}) {
		opts.Limits = analyzer.DefaultLimits()
	}
	if opts.CPU == nil {
		opts.CPU = analyzer.NewCPU(opts.Workers)
	}
	if opts.Analyzers == nil {
		opts.Analyzers = list.All()
	}
	if opts.DirAnalyzers == nil {
		opts.DirAnalyzers = list.Dirs()
	}
	return &Scanner{opts: opts}
}

type job struct {
	path    string // on disk
	display string // as reported
	link    *report.Artifact
	special *report.Artifact
	nb      analyzer.Neighbours // files beside a walked file
	dir     *analyzer.Dir       // a directory for a DirAnalyzer
	dirA    analyzer.DirAnalyzer
}

type result struct {
	a   report.Artifact
	dir bool
}

// Scan walks every target (file or directory) and returns one artifact per
// regular file. A target that does not exist is an error; problems inside
// the tree (unreadable files, escaping links) are findings.
func (s *Scanner) Scan(ctx context.Context, targets []string) (*report.Report, error) {
	for _, t := range targets {
		if _, err := os.Stat(t); err != nil {
			return nil, err
		}
	}
	jobs := make(chan job, 256)
	results := make(chan result, 256)
	var wg sync.WaitGroup
	for i := 0; i < s.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				// A worker holds a CPU token while it works; helpers an
				// analyser starts get only the idle ones.
				if s.opts.CPU.Acquire(ctx) != nil {
					results <- result{a: canceled(j)}
					continue
				}
				var a report.Artifact
				switch {
				case j.link != nil:
					a = *j.link
				case j.special != nil:
					a = *j.special
				case j.dir != nil:
					a := s.scanDir(ctx, j)
					s.opts.CPU.Release()
					results <- result{a: a, dir: true}
					continue
				case j.nb != nil:
					a = s.scanFile(ctx, j.path, j.display, j.nb)
				default:
					a = s.ScanFile(ctx, j.path, j.display)
				}
				s.opts.CPU.Release()
				s.done(&a)
				results <- result{a: a}
			}
		}()
	}
	var walkErr error
	var roots []*os.Root // closed when every job is done
	go func() {
		defer close(jobs)
		for _, t := range targets {
			if err := s.walk(ctx, t, jobs, &roots); err != nil {
				walkErr = err
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	rep := &report.Report{Command: "scan"}
	var dirs []int
	for r := range results {
		if r.dir {
			dirs = append(dirs, len(rep.Artifacts))
		}
		rep.Artifacts = append(rep.Artifacts, r.a)
	}
	for _, r := range roots {
		r.Close()
	}
	attribute(rep.Artifacts, dirs)
	summarise(rep.Artifacts, dirs)
	for _, i := range dirs {
		s.done(&rep.Artifacts[i])
	}
	if walkErr != nil {
		return nil, walkErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return rep, nil
}

// canceled is the artifact of a job the run was interrupted before.
func canceled(j job) report.Artifact {
	a := report.Artifact{Path: j.display, Format: "other"}
	if a.Path == "" && j.link != nil {
		a.Path = j.link.Path
	}
	if a.Path == "" && j.special != nil {
		a.Path = j.special.Path
	}
	a.Add(rules.New(rules.LimitReached, "", "the run was interrupted before this was analysed"))
	return a
}

func (s *Scanner) done(a *report.Artifact) {
	if s.opts.OnArtifact == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.OnArtifact(a)
}

// walk emits jobs for one target. A target that is itself a symlink is
// followed (the user named it); links inside a directory are not.
func (s *Scanner) walk(ctx context.Context, target string, jobs chan<- job, roots *[]*os.Root) error {
	st, err := os.Stat(target)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		if st.Mode().IsRegular() {
			jobs <- job{path: target, display: target}
		} else {
			jobs <- job{special: specialArtifact(target, st.Mode())}
		}
		return nil
	}
	root, err := filepath.EvalSymlinks(target)
	if err != nil {
		return err
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return err
	}
	// Analysers reach the files beside a walked file only through this
	// root, which refuses names and links that leave it.
	oroot, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	*roots = append(*roots, oroot)
	rel := func(p string) string {
		r, err := filepath.Rel(target, p)
		if err != nil {
			return "."
		}
		return filepath.ToSlash(r)
	}
	return filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if p == target {
				return err
			}
			a := &report.Artifact{Path: p, Format: "unreadable"}
			a.Add(rules.New(rules.Unreadable, "", fmt.Sprintf("cannot read: %v", err)))
			jobs <- job{special: a}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			s.offerDir(p, rootFS{root: oroot, dir: rel(p)}, jobs)
			return nil
		case t&fs.ModeSymlink != 0:
			jobs <- job{link: linkArtifact(root, p)}
		case t.IsRegular():
			jobs <- job{path: p, display: p, nb: rootFS{root: oroot, dir: path.Dir(rel(p))}}
		default:
			jobs <- job{special: specialArtifact(p, t)}
		}
		return nil
	})
}

func specialArtifact(p string, m fs.FileMode) *report.Artifact {
	a := &report.Artifact{Path: p, Format: "special"}
	a.Add(rules.New(rules.SpecialFile, "", fmt.Sprintf("not a regular file (%s); not read", m.Type())))
	return a
}

// linkArtifact records a symlink without following it. A link whose target
// resolves outside root is a finding: loaders that follow it would read
// host files (a model repo linking to ~/.ssh, say).
func linkArtifact(root, p string) *report.Artifact {
	a := &report.Artifact{Path: p, Format: "symlink"}
	dest, _ := os.Readlink(p)
	a.Properties = map[string]string{"link_target": dest}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		if escapes(root, lexicalTarget(p, dest)) {
			a.Add(rules.New(rules.SymlinkEscape, "", fmt.Sprintf("dangling link to %q points outside the scan root", dest)))
			return a
		}
		a.Add(rules.New(rules.SymlinkDangling, "", fmt.Sprintf("link to %q does not resolve: %v", dest, err)))
		return a
	}
	if escapes(root, resolved) {
		a.Add(rules.New(rules.SymlinkEscape, "", fmt.Sprintf("link to %q resolves outside the scan root (%s); not followed", dest, resolved)))
		return a
	}
	if rel, err := filepath.Rel(root, resolved); err == nil {
		a.Properties["link_resolves_to"] = filepath.ToSlash(rel)
	}
	return a
}

func lexicalTarget(p, dest string) string {
	if filepath.IsAbs(dest) {
		return filepath.Clean(dest)
	}
	abs, _ := filepath.Abs(filepath.Join(filepath.Dir(p), dest))
	return abs
}

func escapes(root, target string) bool {
	rel, err := filepath.Rel(root, target)
	if err != nil {
		return true
	}
	return rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel)
}

// smallFile is the size up to which a file is read whole before analysis.
const smallFile = 128 << 10

// ScanFile analyses one regular file. It never returns an error: every
// problem becomes a finding, and a panic in an analyser becomes an
// inconclusive verdict rather than a crash.
func (s *Scanner) ScanFile(ctx context.Context, path, display string) (a report.Artifact) {
	// The user named this file: its own directory bounds what analysers
	// may read beside it.
	var nb analyzer.Neighbours
	if r, err := os.OpenRoot(filepath.Dir(path)); err == nil {
		defer r.Close()
		nb = rootFS{root: r, dir: "."}
	}
	return s.scanFile(ctx, path, display, nb)
}

func (s *Scanner) scanFile(ctx context.Context, path, display string, nb analyzer.Neighbours) (a report.Artifact) {
	a = report.Artifact{Path: display, Format: "other"}
	// Most files in a model tree are small: they are read whole, in one
	// system call, into a reused buffer.
	bp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(bp)
	content, f, size, err := openRegular(path, smallFile, *bp)
	switch {
	case errors.Is(err, errNotRegular):
		a.Add(rules.New(rules.Unreadable, "", "not a regular file when opened"))
		return a
	case err != nil:
		a.Add(rules.New(rules.Unreadable, "", fmt.Sprintf("cannot open: %v", err)))
		return a
	}
	var ra io.ReaderAt
	if f != nil {
		defer f.Close()
		ra = f
	} else {
		ra = analyzer.Bytes(content)
	}
	return s.scanReaderAt(ctx, ra, size, display, nb)
}

// smallBufs holds read buffers for small files. Nothing an analysis
// returns refers to its input bytes (findings and properties are copies),
// so a buffer is reused as soon as its file's artifact is built.
var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallFile); return &b }}

// ScanReaderAt analyses content that is already open or in memory (an
// upload, a registry blob) as one artifact reported under display. Like
// ScanFile it never returns an error and never panics.
func (s *Scanner) ScanReaderAt(ctx context.Context, ra io.ReaderAt, size int64, display string) (a report.Artifact) {
	return s.scanReaderAt(ctx, ra, size, display, nil)
}

func (s *Scanner) scanReaderAt(ctx context.Context, ra io.ReaderAt, size int64, display string, nb analyzer.Neighbours) (a report.Artifact) {
	a = report.Artifact{Path: display, Format: "other", Size: size}
	budget := analyzer.NewBudget(s.opts.Limits)
	budget.Weights = s.opts.Weights
	budget.CPU = s.opts.CPU
	defer budget.Done()
	ctx, cancel := context.WithTimeout(ctx, s.opts.Limits.Timeout)
	defer cancel()

	res := analyzer.NewResult(s.Dispatch)
	in := analyzer.NewFileInput("", ra, size, budget)
	in.Hint = filepath.Base(display)
	in.Neighbours = nb
	guard(res, display, "analyser", func() error { return s.Dispatch(ctx, in, res) }, func(err error) { res.Problem(ctx, -1, "reading file", err) })
	fill(&a, res)
	if nf := res.NestedFormats(); len(nf) > 0 {
		if a.Properties == nil {
			a.Properties = map[string]string{}
		}
		a.Properties["contains"] = strings.Join(dedupe(nf), ",")
	}
	return a
}

// guard runs fn, turning a panic into an inconclusive finding (an analyser
// bug must never look clean) and an error into onErr.
func guard(res *analyzer.Result, display, who string, fn func() error, onErr func(error)) {
	defer func() {
		if r := recover(); r != nil {
			res.Add(rules.New(rules.InternalError, "", fmt.Sprintf("%s failure: %v", who, r)))
			if os.Getenv("AIGIS_DEBUG") != "" {
				fmt.Fprintf(os.Stderr, "panic scanning %s: %v\n%s", display, r, debug.Stack())
			}
		}
	}()
	if err := fn(); err != nil {
		onErr(err)
	}
}

// fill copies what a Result collected into the artifact.
func fill(a *report.Artifact, res *analyzer.Result) {
	if f := res.Format(); f != "" {
		a.Format = f
	}
	for _, fd := range res.Findings() {
		a.Add(fd)
	}
	if props := res.Properties(); len(props) > 0 {
		a.Properties = props
	}
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// polyglot runs trailer-recognised formats (zip) over content whose head
// chose a different analyser, and reports the second reading.
func (s *Scanner) polyglot(ctx context.Context, primary analyzer.Analyzer, in *analyzer.Input, out *analyzer.Result) {
	if !in.Seekable() {
		return
	}
	sn := in.Sniff()
	for _, a := range s.opts.Analyzers {
		tm, ok := a.(analyzer.TrailerMatcher)
		if !ok || primary != nil && a.Name() == primary.Name() || a.Match(sn) || !tm.MatchTrailer(sn) {
			continue
		}
		first := out.Format()
		out.Add(rules.New(rules.Polyglot, out.Here(), fmt.Sprintf("the content is %s from its start and %s from its end; each was analysed", first, a.Name())))
		child := out.Child(in)
		if err := a.Analyze(ctx, in, child); err != nil && !errors.Is(err, analyzer.ErrNotFormat) {
			child.Problem(ctx, -1, a.Name(), err)
		}
		out.SetFormat(first)
	}
}

// Dispatch analyses in with the first analyser whose Match accepts it. It
// is the analyzer.Dispatcher that containers recurse through.
func (s *Scanner) Dispatch(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	if in.Depth > in.Budget.MaxDepth {
		out.Add(rules.New(rules.LimitReached, out.Here(), fmt.Sprintf("containers nested deeper than %d; not analysed", in.Budget.MaxDepth)))
		return nil
	}
	if err := ctx.Err(); err != nil {
		out.Problem(ctx, -1, "analysis", err)
		return nil
	}
	sn := in.Sniff()
	for _, a := range s.opts.Analyzers {
		if !a.Match(sn) {
			continue
		}
		out.SetFormat(a.Name())
		err := a.Analyze(ctx, in, out)
		if errors.Is(err, analyzer.ErrNotFormat) {
			out.SetFormat("")
			continue
		}
		if err != nil {
			out.Problem(ctx, -1, a.Name(), err)
		}
		s.polyglot(ctx, a, in, out)
		return nil
	}
	out.SetFormat("other")
	s.polyglot(ctx, nil, in, out)
	if v, ok := rules.Extensions().Hint(filepath.Ext(sn.Name)); ok {
		f := rules.New(rules.UnrecognisedModel, out.Here(), fmt.Sprintf("the name says %s but the content matches no supported format", filepath.Ext(sn.Name)))
		if v == report.Unsupported {
			f.Verdict, f.Severity = v, report.SeverityLow
			f.Message = fmt.Sprintf("%s content is not analysed by this version", filepath.Ext(sn.Name))
		}
		out.Add(f)
	}
	return nil
}
