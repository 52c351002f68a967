package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/decode/zipr"
	"github.com/aigis-dev/aigis/internal/rules"
)

// ZipLayout is a model format stored as a zip (PyTorch, npz, Keras). The
// Zip analyser checks paths and links for every archive, then asks each
// layout in turn whether it recognises the member names.
type ZipLayout interface {
	// Name is the format reported when the layout matches.
	Name() string
	// MatchZip inspects member names only.
	MatchZip(z *zipr.Reader) bool
	// AnalyzeZip analyses the members; Members.Open gives their content.
	AnalyzeZip(ctx context.Context, in *analyzer.Input, z *zipr.Reader, m *Members, out *analyzer.Result) error
}

// Zip analyses zip archives and zip-based model formats.
type Zip struct {
	Layouts []ZipLayout
}

func (Zip) Name() string { return "zip" }

// Match accepts a local-file or empty-archive signature at the start.
// (torch.load likewise decides "zip" from the first four bytes.)
func (Zip) Match(s *analyzer.Sniff) bool {
	return len(s.Head) >= 4 && s.Head[0] == 'P' && s.Head[1] == 'K' &&
		(s.Head[2] == 3 && s.Head[3] == 4 || s.Head[2] == 5 && s.Head[3] == 6 || s.Head[2] == 7 && s.Head[3] == 8)
}

// MatchTrailer finds an end-of-central-directory record in the tail.
func (Zip) MatchTrailer(s *analyzer.Sniff) bool {
	return bytes.Contains(s.Tail, []byte("PK\x05\x06"))
}

func (z Zip) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return err
	}
	zr, err := zipr.Open(ra, size, zipr.Limits{MaxEntries: in.Budget.MaxEntries})
	if err != nil {
		var le *zipr.LimitError
		if errors.As(err, &le) {
			err = &analyzer.LimitError{What: le.What, Limit: le.Limit}
		}
		out.Problem(ctx, -1, "zip", err)
		return nil
	}
	for _, a := range zr.Anomalies {
		out.Add(rules.New(rules.ZipAnomaly, out.Here(), a))
	}
	for _, d := range zr.Damage {
		out.Add(rules.New(rules.Malformed, out.Here(), "zip: "+d))
	}
	m := &Members{in: in, out: out, z: zr}
	m.checkAll(ctx)
	for _, l := range z.Layouts {
		if l.MatchZip(zr) {
			out.SetFormat(l.Name())
			return l.AnalyzeZip(ctx, in, zr, m, out)
		}
	}
	for _, e := range zr.Entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.Recurse(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// Members gives layouts access to member content with the shared checks
// and budgets applied.
type Members struct {
	in  *analyzer.Input
	out *analyzer.Result
	z   *zipr.Reader
	bad map[*zipr.Entry]bool // members already reported as unreadable
}

// checkAll reports path escapes, links, duplicates, encryption and
// mismatched local headers once per archive.
func (m *Members) checkAll(ctx context.Context) {
	m.bad = map[*zipr.Entry]bool{}
	seen := make(map[string]bool, len(m.z.Entries))
	for _, e := range m.z.Entries {
		if why := unsafePath(e.Name); why != "" {
			slipFinding(m.out, e.Name, why)
		}
		if seen[e.Name] {
			m.out.Add(rules.New(rules.ZipDuplicateMember, m.out.Member(e.Name), fmt.Sprintf("member %q appears more than once; loaders disagree on which copy they read", e.Name)))
		}
		seen[e.Name] = true
		if e.Encrypted() {
			m.bad[e] = true
			m.out.Add(rules.New(rules.ArchiveEncrypted, m.out.Member(e.Name), fmt.Sprintf("member %q is encrypted and cannot be checked", e.Name)))
		}
		if e.IsSymlink() {
			m.bad[e] = true
			target := m.linkTarget(e)
			if why := unsafeLink(e.Name, target); why != "" {
				slipFinding(m.out, e.Name, why)
			}
		}
	}
}

func (m *Members) linkTarget(e *zipr.Entry) string {
	r, err := e.Open()
	if err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(r, 4096))
	return string(b)
}

// Input makes the analyzer.Input for a member: in place when stored
// uncompressed and the archive is seekable, a bounded stream otherwise.
// Members that are opened also get their local header compared with the
// central directory (members never read are never seeked to).
func (m *Members) Input(e *zipr.Entry) (*analyzer.Input, error) {
	if ln := e.LocalName(); ln != "" && ln != e.Name {
		m.out.Add(rules.New(rules.ZipNameMismatch, m.out.Member(e.Name), fmt.Sprintf("local header names %q but the central directory names %q", ln, e.Name)))
	}
	if e.Stored() {
		sec, err := e.Section()
		if err != nil {
			return nil, err
		}
		c := m.in.Child(e.Name, sec, sec.Size())
		c.Neighbours = memberFS{m: m, dir: path.Dir(e.Name)}
		return c, nil
	}
	raw, err := e.Section()
	if err != nil {
		return nil, err
	}
	cnt := &analyzer.Counter{R: raw}
	dec, err := e.Decompress(cnt)
	if err != nil {
		return nil, err
	}
	c := m.in.ChildStream(e.Name, m.in.Budget.Expand(dec, cnt), int64(e.Size))
	c.Neighbours = memberFS{m: m, dir: path.Dir(e.Name)}
	return c, nil
}

// Recurse analyses a member with whichever analyser matches it. Members
// that cannot be read become findings, not errors.
func (m *Members) Recurse(ctx context.Context, e *zipr.Entry) error {
	if e.IsDir() || m.bad[e] {
		return nil
	}
	child, err := m.Input(e)
	if err != nil {
		m.problem(ctx, e, err)
		return nil
	}
	if err := m.out.Recurse(ctx, child); err != nil {
		return err
	}
	if err := child.Drain(); err != nil {
		m.out.Child(child).Problem(ctx, -1, "zip member", err)
	}
	return nil
}

func (m *Members) problem(ctx context.Context, e *zipr.Entry, err error) {
	var me zipr.ErrMethod
	if errors.As(err, &me) {
		m.out.Add(rules.New(rules.ArchiveUnsupportedMember, m.out.Member(e.Name), fmt.Sprintf("member %q: %v", e.Name, err)))
		return
	}
	m.out.ForMember(e.Name).Problem(ctx, -1, "zip member", err)
}

// Entry returns the member with this exact name, or nil.
func (m *Members) Entry(name string) *zipr.Entry {
	for _, e := range m.z.Entries {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// ReadSmall reads a small member fully (metadata files), bounded.
func (m *Members) ReadSmall(e *zipr.Entry, max int64) ([]byte, error) {
	r, err := e.Open()
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("member %q larger than %d bytes", e.Name, max)
	}
	return b, nil
}

// NewMembers gives access to the members of an opened archive outside the
// Zip analyser (tools that read a checkpoint's tensors). No checks are
// reported for it.
func NewMembers(in *analyzer.Input, out *analyzer.Result, z *zipr.Reader) *Members {
	return &Members{in: in, out: out, z: z, bad: map[*zipr.Entry]bool{}}
}
