// Package pickle analyses Python pickle streams by symbolic execution of
// the pickle virtual machine, without ever unpickling.
//
// The VM models every opcode of protocols 0 to 5 with a real stack, memo,
// marks and frames, so imports are resolved however they are spelled
// (GLOBAL, STACK_GLOBAL with operands from the memo or behind decoys, INST,
// EXT codes) and calls are seen however they are made (REDUCE, OBJ, INST,
// NEWOBJ, NEWOBJ_EX, BUILD). Imports are classified allowlist-first by
// package rules. Constant payloads of nested loaders (pickle.loads,
// torch's _load_from_bytes, ...) are scanned as files of their own.
//
// It never imports, calls or constructs anything, and every structure is
// bounded (Limits): a hostile stream ends in a finding, not a crash.
package pickle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
)

// Options control a Scan.
type Options struct {
	Limits Limits
	// MaxStreams stops after this many consecutive streams (0: until the
	// data ends or stops looking like a pickle). Legacy torch files hold 5.
	MaxStreams int
	// ReportTrailing adds an info finding when bytes follow the last
	// stream (off for formats that append raw data, like legacy torch).
	ReportTrailing bool
	// Packaged reports whether a module (as written in the pickle) is
	// source shipped in the same archive (torch.package). Imports from such
	// modules are the archive's own code, judged by analysing that source
	// rather than by the import rules: a package may ship a module named
	// like an allowlisted one.
	Packaged func(module string) bool
}

// Summary is what a Scan learnt besides its findings.
type Summary struct {
	Streams     int
	End         int64    // offset after the last complete stream
	StorageKeys []string // torch persistent-id storage keys
	// StorageTypes is the storage class (FloatStorage, ...) of each of
	// StorageKeys, "" when not a plain import.
	StorageTypes []string
	Joblib       bool // joblib array wrappers were seen
	Failed       bool // a stream ended in an error (already reported)
	// Imports are the distinct imports, as written, in order of first
	// appearance.
	Imports []Import
}

// Import is one import a pickle makes.
type Import struct {
	Module, Name string
	Called       bool // the pickle calls it (REDUCE, NEWOBJ, ...)
}

const maxStreams = 1 << 20

// Scan analyses the consecutive pickle streams of in and reports to out.
func Scan(ctx context.Context, in *analyzer.Input, out *analyzer.Result, opts Options) (*Summary, error) {
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits()
	}
	var rd *reader
	if in.Seekable() { // never buffer a stream just to look
		if ra, _, err := in.ReaderAt(); err == nil {
			if b, ok := analyzer.BytesOf(ra); ok {
				rd = newMemReader(b)
			}
		}
	}
	if rd == nil {
		r, err := in.Open()
		if err != nil {
			return nil, err
		}
		hint := int64(-1)
		if in.Seekable() {
			hint = in.Size()
		}
		rd = newReader(r, hint)
	}
	s := newSink(ctx, in, out)
	s.packaged = opts.Packaged
	sum := &Summary{}
	for n := 0; ; n++ {
		if opts.MaxStreams > 0 && n >= opts.MaxStreams {
			break
		}
		if n >= maxStreams {
			out.Problem(ctx, rd.offset(), "pickle", &analyzer.LimitError{What: "pickle streams", Limit: maxStreams})
			break
		}
		if n > 0 && rd.atEOF() {
			break
		}
		start := rd.offset()
		m := newMachine(ctx, rd, opts.Limits, s)
		err := m.run()
		if err == nil {
			s.flush(m)
			sum.Streams++
			sum.End = rd.offset()
			continue
		}
		if n > 0 && !m.effects && opts.MaxStreams == 0 {
			// Not another pickle: data that follows the last stream.
			if opts.ReportTrailing {
				s.anomaly(rules.PickleTrailingData, start, fmt.Sprintf("%s after the last pickle stream", trailingSize(in, start)))
			}
			break
		}
		s.flush(m)
		sum.Failed = true
		report := err
		var se *syntaxError
		at := rd.offset()
		if errors.As(err, &se) {
			at = se.off
			report = errors.New(se.msg)
		} else if isEOF(err) {
			at = start
		}
		out.Problem(ctx, at, fmt.Sprintf("pickle stream %d", n+1), report)
		break
	}
	s.finish()
	sum.Imports = s.importList()
	sum.StorageKeys = s.storage
	sum.StorageTypes = s.stypes
	sum.Joblib = s.joblib
	if s.joblib {
		out.SetFormat("joblib")
	}
	return sum, nil
}

func trailingSize(in *analyzer.Input, start int64) string {
	if in.Size() >= 0 {
		return fmt.Sprintf("%d bytes", in.Size()-start)
	}
	return "data"
}

// Analyzer is the format analyser for bare pickle files (.pkl, plain
// joblib, torch.save with pickle_module tricks, ...).
type Analyzer struct{}

func (Analyzer) Name() string { return "pickle" }

// Match accepts content that a pickle loader would act on: a PROTO header
// followed by an opcode, or (protocols 0 and 1, which have no header) a
// head that parses as pickle up to a STOP, an import, or the end of the
// sniffed bytes.
func (Analyzer) Match(s *analyzer.Sniff) bool { return Sniff(s.Head, s.Size) }

func (Analyzer) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	_, err := Scan(ctx, in, out, Options{ReportTrailing: true})
	out.Model().LoadsPickle = true
	return err
}

var identPath = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
})

// Sniff reports whether head (the first bytes of content of total size,
// -1 if unknown) is a pickle.
func Sniff(head []byte, size int64) bool {
	if len(head) < 2 {
		return false
	}
	if head[0] == 0x80 && head[1] >= 2 && head[1] <= 5 {
		if len(head) == 2 {
			return true
		}
		return isOpcode(head[2])
	}
	if !isOpcode(head[0]) {
		return false
	}
	m := newMachine(context.Background(), newMemReader(head), DefaultLimits(), nil)
	err := m.run()
	if err == nil {
		return true
	}
	realImport := false
	for _, g := range m.globs {
		if g.unresolved == "" && identPath().MatchString(g.module) && identPath().MatchString(g.name) {
			realImport = true
		}
	}
	if realImport {
		return true
	}
	if len(m.globs) > 0 {
		// Imports none of which names a module and an attribute: text
		// that starts with "c" ("case 0x...", a RECORD file's
		// "charset_normalizer-3.0.1.dist-info/..."), which pickle.load
		// cannot import from either.
		return false
	}
	// The head ran out mid-stream: plausible only if several opcodes parsed.
	return isEOF(err) && int64(len(head)) < size && m.ops >= 4 || isEOF(err) && m.ops >= 8
}

// isOpcode reports whether b is a pickle opcode (protocols 0-5).
func isOpcode(b byte) bool {
	if b >= 0x80 && b <= 0x98 {
		return true
	}
	return bytes.IndexByte([]byte("(.0123FIJKLMNPQRSTUVXabcdeghijlopqrstu}])GB C"), b) >= 0 && b != ' '
}
