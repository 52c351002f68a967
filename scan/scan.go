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
	"os"
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
	// OnArtifact, when set, is called once per artifact as Stream
	// releases it (on the goroutine that called Stream or Scan).
	// Progress displays use it.
	OnArtifact func(a *report.Artifact)
}

// Scanner runs analysers over files.
type Scanner struct {
	opts Options
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
		defer closeRoot(r)
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
	return s.scanInput(ctx, display, size, func(b *analyzer.Budget) *analyzer.Input {
		in := analyzer.NewFileInput("", ra, size, b)
		in.Neighbours = nb
		return in
	})
}

// ScanStream analyses content that can only be read once, front to back
// (a file inside a compressed image layer), as one artifact reported under
// display; size is its length, or -1. Analysers that need random access
// buffer it within the limits (Limits.MaxMemory, then a temporary file
// unless Limits.NoSpill). The caller reads whatever the analysis left of
// r. Like ScanFile it never returns an error and never panics.
func (s *Scanner) ScanStream(ctx context.Context, r io.Reader, size int64, display string) (a report.Artifact) {
	return s.scanInput(ctx, display, size, func(b *analyzer.Budget) *analyzer.Input {
		return analyzer.NewStreamInput("", r, size, b)
	})
}

// Recognises reports whether the engine would analyse content with this
// head, tail and name as something other than format "other": an analyser
// matches it, or its name promises a model format. A verb that reads a
// stream of files (image layers) asks it before handing a file to the
// engine, so that it need not buffer every file; the engine still decides
// what the file is.
func (s *Scanner) Recognises(sn *analyzer.Sniff) bool {
	for _, a := range s.opts.Analyzers {
		if a.Match(sn) {
			return true
		}
	}
	_, ok := rules.Extensions().Hint(filepath.Ext(sn.Name))
	return ok
}

func (s *Scanner) scanInput(ctx context.Context, display string, size int64, mk func(*analyzer.Budget) *analyzer.Input) (a report.Artifact) {
	a = report.Artifact{Path: display, Format: "other", Size: max(size, 0)}
	budget := analyzer.NewBudget(s.opts.Limits)
	budget.Weights = s.opts.Weights
	budget.CPU = s.opts.CPU
	defer budget.Done()
	ctx, cancel := context.WithTimeout(ctx, s.opts.Limits.Timeout)
	defer cancel()

	res := analyzer.NewResult(s.Dispatch)
	in := mk(budget)
	in.Hint = filepath.Base(display)
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
	a.Model = res.ModelFacts()
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
	if in.Neighbours != nil {
		for _, a := range s.opts.Analyzers {
			ra, ok := a.(analyzer.ReferenceAnalyzer)
			if !ok {
				continue
			}
			out.SetFormat(a.Name())
			ok, err := ra.AnalyzeReferenced(ctx, in, out)
			if err != nil {
				out.Problem(ctx, -1, a.Name(), err)
			}
			if ok || err != nil {
				s.polyglot(ctx, a, in, out)
				return nil
			}
		}
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
