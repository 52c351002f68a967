package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strings"

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

// TensorLayout is a ZipLayout whose tensors can be listed (torch zip
// checkpoints): Zip.ListTensors delegates to the layout that matches.
type TensorLayout interface {
	ListZipTensors(ctx context.Context, in *analyzer.Input, z *zipr.Reader, m *Members) ([]analyzer.Tensor, error)
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
	m := &Members{in: in, out: out, z: zr, report: true}
	m.checkAll(ctx)
	if err := z.members(ctx, in, zr, m, out); err != nil {
		return err
	}
	m.finish()
	return nil
}

func (z Zip) members(ctx context.Context, in *analyzer.Input, zr *zipr.Reader, m *Members, out *analyzer.Result) error {
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
//
// It reads members the way loaders do, from the central directory, and
// reports where other readers would see something else (docs/formats.md):
// a local header that disagrees with the directory, an encryption flag on
// plaintext, a CRC-32 that zipfile rejects and torch ignores.
type Members struct {
	in     *analyzer.Input
	out    *analyzer.Result
	z      *zipr.Reader
	bad    map[*zipr.Entry]bool // links: their content is a target, never analysed
	report bool                 // report header checks (not for NewMembers)
	seen   map[*zipr.Entry]bool // members whose headers were compared
	crcs   []pendingCRC         // streamed members whose CRC-32 is checked at the end
	memo   map[string]any       // what analysers remembered about directories (memberFS.Memo)
}

// maxCRC bounds the stored members whose CRC-32 is checked: a stored
// member is otherwise read only as far as its analyser needs, and CRC is
// not analysis. Streamed (compressed) members are checked as they are
// read, at no extra cost.
const maxCRC = 64 << 20

type pendingCRC struct {
	e *zipr.Entry
	r *crcReader
}

// crcReader computes the CRC-32 of what is read through it.
type crcReader struct {
	r   io.Reader
	crc uint32
	n   int64
	eof bool
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, crc32.IEEETable, p[:n])
	c.n += int64(n)
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// checkAll reports path escapes, links and duplicates once per archive.
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
// A member flagged encrypted is read as plaintext (see Plaintext).
// Members that are opened also get their local header compared with the
// central directory and their CRC-32 checked (members never read are
// never seeked to).
func (m *Members) Input(e *zipr.Entry) (*analyzer.Input, error) {
	first := m.compare(e)
	if e.Stored() {
		sec, err := e.Section()
		if err != nil {
			return nil, err
		}
		if first {
			m.storedCRC(e, sec)
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
	if first && m.report && !e.Encrypted() {
		cr := &crcReader{r: dec}
		m.crcs = append(m.crcs, pendingCRC{e, cr})
		dec = cr
	}
	c := m.in.ChildStream(e.Name, m.in.Budget.Expand(dec, cnt), int64(e.Size))
	c.Neighbours = memberFS{m: m, dir: path.Dir(e.Name)}
	return c, nil
}

// compare reports, the first time a member is opened, where its local
// header disagrees with the central directory: torch, numpy and zipfile
// read the directory (zipfile also insists on the same name), streaming
// readers and scanners read the local headers. It returns whether this
// was the first time.
func (m *Members) compare(e *zipr.Entry) bool {
	if m.seen[e] {
		return false
	}
	if m.seen == nil {
		m.seen = map[*zipr.Entry]bool{}
	}
	m.seen[e] = true
	if !m.report {
		return true
	}
	loc := m.out.Member(e.Name)
	l, err := e.LocalHeader()
	if err != nil {
		return true // reported when the content is read
	}
	if l.Name != "" && l.Name != e.Name {
		m.out.Add(rules.New(rules.ZipNameMismatch, loc, fmt.Sprintf("local header names %q but the central directory names %q", l.Name, e.Name)))
	}
	const crypt = zipr.FlagEncrypted | zipr.FlagStrong
	if l.Flags&crypt != 0 && e.Flags&crypt == 0 {
		m.out.Add(rules.New(rules.ZipEncryptionFlagEvasion, loc, fmt.Sprintf("member %q is flagged encrypted in its local header (0x%04x) only; torch, numpy and zipfile read the central directory and load it, readers that walk local headers skip it as encrypted", e.Name, l.Flags)))
	}
	if e.Overlaps() {
		m.out.Add(rules.New(rules.ZipAnomaly, loc, fmt.Sprintf("member %q: its data runs into the next member or the central directory; torch reads it, zipfile refuses it (overlapped entries)", e.Name)))
	}
	if d := e.HeaderMismatch(); len(d) > 0 {
		m.out.Add(rules.New(rules.ZipHeaderMismatch, loc, fmt.Sprintf("member %q: the local header says %s; loaders read the central directory, streaming readers the local header", e.Name, strings.Join(d, ", "))))
	}
	return true
}

// storedCRC checks the CRC-32 of a stored member up to maxCRC bytes.
func (m *Members) storedCRC(e *zipr.Entry, sec *io.SectionReader) {
	if !m.report || e.Encrypted() || e.IsDir() || sec.Size() > maxCRC || uint64(sec.Size()) != e.Size {
		return
	}
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, io.NewSectionReader(sec, 0, sec.Size())); err != nil {
		return // reported when the content is read
	}
	m.crcMismatch(e, h.Sum32())
}

func (m *Members) crcMismatch(e *zipr.Entry, got uint32) {
	if got != e.CRC32 {
		m.out.Add(rules.New(rules.ZipCrcMismatch, m.out.Member(e.Name), fmt.Sprintf("member %q has CRC-32 %08x but the directory records %08x; torch loads it, zipfile (numpy, Keras and zipfile-based scanners) refuses it", e.Name, got, e.CRC32)))
	}
}

// finish checks the CRC-32 of the streamed members read to their end.
func (m *Members) finish() {
	for _, p := range m.crcs {
		if p.r.eof && uint64(p.r.n) == p.e.Size {
			m.crcMismatch(p.e, p.r.crc)
		}
	}
	m.crcs = nil
}

// Plaintext analyses a member that the central directory flags as
// encrypted as if it were not. torch, numpy and zipfile refuse to read
// such a member; readers that ignore the flag (Go's archive/zip,
// hand-rolled extractors) take its bytes as they are, and scanners that
// skip encrypted members never look at them. analyse runs on a detached
// Result and says whether it recognised the bytes as content. If it did,
// its findings count and the flag is reported as an evasion; if not, the
// bytes are taken to be ciphertext and the member is reported encrypted,
// which is inconclusive.
func (m *Members) Plaintext(ctx context.Context, e *zipr.Entry, analyse func(out *analyzer.Result) (recognised bool, err error)) error {
	d := m.out.Detached()
	ok, err := analyse(d)
	if err != nil {
		return err
	}
	loc := m.out.Member(e.Name)
	if !ok {
		m.out.Add(rules.New(rules.ArchiveEncrypted, loc, fmt.Sprintf("member %q is encrypted and cannot be checked", e.Name)))
		return nil
	}
	m.out.Merge(d)
	m.out.Add(rules.New(rules.ZipEncryptionFlagEvasion, loc, fmt.Sprintf("member %q is flagged encrypted (0x%04x) but holds plaintext; torch, numpy and zipfile refuse to read it, readers that ignore the flag load it, and scanners that skip encrypted members never look at it", e.Name, e.Flags)))
	return nil
}

// Recurse analyses a member with whichever analyser matches it. Members
// that cannot be read become findings, not errors.
func (m *Members) Recurse(ctx context.Context, e *zipr.Entry) error {
	if e.IsDir() || m.bad[e] {
		return nil
	}
	if e.Encrypted() {
		return m.Plaintext(ctx, e, func(d *analyzer.Result) (bool, error) {
			child, err := m.Input(e)
			if err != nil {
				return false, nil
			}
			if err := d.Recurse(ctx, child); err != nil {
				return false, err
			}
			nf := d.NestedFormats()
			return len(nf) > 0 && nf[len(nf)-1] != "other", nil
		})
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

// ReadSmall reads a small member fully (metadata files), bounded. A
// member flagged encrypted is read as plaintext: callers that care use
// Plaintext.
func (m *Members) ReadSmall(e *zipr.Entry, max int64) ([]byte, error) {
	raw, err := e.Section()
	if err != nil {
		return nil, err
	}
	r, err := e.Decompress(raw)
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

// ListTensors lists the tensors of a zip-based model format: the first
// layout that matches, as in Analyze, lists them if it is a
// TensorLayout (analyzer.TensorLister). Nothing is reported: the
// archive's checks are the scan's business.
func (z Zip) ListTensors(ctx context.Context, in *analyzer.Input) ([]analyzer.Tensor, error) {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return nil, err
	}
	zr, err := zipr.Open(ra, size, zipr.Limits{MaxEntries: in.Budget.MaxEntries})
	if err != nil {
		return nil, err
	}
	for _, l := range z.Layouts {
		if !l.MatchZip(zr) {
			continue
		}
		tl, ok := l.(TensorLayout)
		if !ok {
			return nil, fmt.Errorf("%s: %w", l.Name(), analyzer.ErrNoTensors)
		}
		m := &Members{in: in, out: analyzer.NewResult(nil), z: zr, bad: map[*zipr.Entry]bool{}}
		return tl.ListZipTensors(ctx, in, zr, m)
	}
	return nil, fmt.Errorf("zip: %w", analyzer.ErrNoTensors)
}
