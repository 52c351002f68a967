// Package analyzer defines the one interface every format analyser
// implements, and the input, budget and result types they share.
//
// An analyser never executes what it reads: no unpickling, no template
// rendering, no imports, no following links. It reads through the Input,
// within the Budget, and reports what it sees to the Result. Malformed
// content is a finding (verdict invalid), never a Go error and never a
// panic; the error return is only for cancellation and I/O failures of the
// underlying file.
//
// Analysers do not walk the filesystem and do not pick each other: the scan
// engine offers every input to the registered analysers in order and the
// first whose Match accepts it analyses it. Containers (archives,
// compressed streams, torch zips) hand their members back to the engine
// with Result.Recurse, so a pickle inside a zip inside a tar is found by
// the same pickle analyser as a bare .pkl.
package analyzer

import (
	"context"
	"errors"
)

// Analyzer is implemented by every format.
type Analyzer interface {
	// Name is the format reported in artifacts ("pickle", "pytorch-zip").
	Name() string
	// Match decides from content alone whether this analyser handles the
	// input. It must be cheap: it sees only the sniffed head and tail.
	Match(s *Sniff) bool
	// Analyze examines the input and reports findings to out. Returning
	// ErrNotFormat hands the input to the next analyser that matches.
	Analyze(ctx context.Context, in *Input, out *Result) error
}

// TrailerMatcher is implemented by analysers whose format can also be
// recognised from the end of the content (zip: its directory is at the
// end). The engine runs them in addition to the analyser chosen by the
// head, because loaders disagree about which end to read: a file can be a
// pickle to torch.load and a zip to zipfile (a polyglot).
type TrailerMatcher interface {
	MatchTrailer(s *Sniff) bool
}

// Sniff is what Match sees.
type Sniff struct {
	// Head is the first bytes of the content (up to HeadSize).
	Head []byte
	// Tail is the last bytes (up to TailSize) when the input is seekable,
	// nil for streams.
	Tail []byte
	// Size is the content size, or -1 when unknown (a stream).
	Size int64
	// Name is the base name. It is a hint for messages and for failing
	// closed, never a reason to pick a parser.
	Name string
}

const (
	HeadSize = 4096
	TailSize = 1024
)

// ErrNotFormat is returned by Analyze when deeper inspection shows the
// content is not in the analyser's format after all (weak magic numbers).
// Nothing may have been reported to the Result before returning it.
var ErrNotFormat = errors.New("not this format")
