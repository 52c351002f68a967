package pickle

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// sink gathers what the machines of one input observe and turns it into
// findings: one per distinct import and one per kind of behaviour, each at
// its first offset, with counts.
type sink struct {
	ctx context.Context
	in  *analyzer.Input
	out *analyzer.Result
	pol *rules.PicklePolicy

	imports map[string]*importObs
	anoms   map[rules.ID]*anomObs
	lost    *anomObs
	storage []string
	stypes  []string
	joblib  bool
	streams int

	packaged func(module string) bool

	latentN     int   // constants checked as latent pickles
	nestedN     int   // nested payloads scanned
	nestedBytes int64 // and their total size
}

// Nested payload scans per input are bounded in number and bytes, so a
// stream cannot make the scanner re-scan one payload ten thousand times.
const (
	maxNested      = 64
	maxNestedBytes = 1 << 30
)

type importObs struct {
	g            global
	count, calls int
	loaderConst  int
	loaderOpaque int
	uses, vetted int // pushes of the value, and those a benign wrapper call consumed
}

type anomObs struct {
	first int64
	msg   string
	count int
}

func newSink(ctx context.Context, in *analyzer.Input, out *analyzer.Result) *sink {
	return &sink{ctx: ctx, in: in, out: out, pol: rules.Pickle(), imports: map[string]*importObs{}, anoms: map[rules.ID]*anomObs{}}
}

func (s *sink) anomaly(id rules.ID, off int64, msg string) {
	if a, ok := s.anoms[id]; ok {
		a.count++
		return
	}
	s.anoms[id] = &anomObs{first: off, msg: msg, count: 1}
}

// lostValue notes that a value the analysis needed was dropped by a
// budget: the verdict can then not be clean.
func (s *sink) lostValue(off int64, msg string) {
	if s.lost == nil {
		s.lost = &anomObs{first: off, msg: msg}
	}
	s.lost.count++
}

// flush merges one machine's imports into the input's observations.
func (s *sink) flush(m *machine) {
	s.streams++
	s.storage = append(s.storage, m.storage...)
	s.stypes = append(s.stypes, m.storageType...)
	s.joblib = s.joblib || m.joblib
	for i := range m.globs {
		g := &m.globs[i]
		key := g.dec.Module + ":" + g.dec.Name + "\x00" + g.module + "\x00" + g.name
		if g.unresolved != "" {
			key = fmt.Sprintf("?%d", g.first)
		}
		o, ok := s.imports[key]
		if !ok {
			o = &importObs{g: *g}
			s.imports[key] = o
		}
		o.count += g.count
		o.calls += g.calls
		o.uses += g.count + g.refs
		o.vetted += g.vetted
		o.loaderConst += g.loaderConst
		o.loaderOpaque += g.loaderOpaque
		if o.g.callArgs == "" && g.callArgs != "" {
			o.g.callArgs, o.g.callOff = g.callArgs, g.callOff
		}
	}
}

// nested scans a loader's constant payload as a file of its own. Either
// r holds the bytes, or off locates them in the input being scanned.
func (s *sink) nested(g *global, callOff int64, r io.ReaderAt, n, off int64) {
	if s.nestedN >= maxNested || s.nestedBytes+n > maxNestedBytes {
		s.lostValue(callOff, fmt.Sprintf("more than %d nested payloads (or %d bytes of them); the rest were not scanned", maxNested, maxNestedBytes))
		return
	}
	s.nestedN++
	s.nestedBytes += n
	name := fmt.Sprintf("[%s.%s@%d]", g.dec.Module, g.dec.Name, callOff)
	if r == nil {
		ra, _, err := s.in.ReaderAt()
		if err != nil {
			s.lostValue(callOff, "a loader's payload could not be re-read: "+err.Error())
			return
		}
		r = io.NewSectionReader(ra, off, n)
	}
	child := s.in.Child(name, r, n)
	s.anomaly(rules.PickleNestedPayload, callOff, fmt.Sprintf("%s.%s loads a constant %d-byte payload; it was scanned as %s", g.dec.Module, g.dec.Name, n, s.out.Member(name)))
	if err := s.out.Recurse(s.ctx, child); err != nil {
		s.out.Problem(s.ctx, callOff, "nested payload", err)
	}
}

// finish writes the findings, in order of first appearance.
func (s *sink) finish() {
	type item struct {
		off int64
		f   report.Finding
	}
	var items []item
	add := func(off int64, id rules.ID, msg string) {
		items = append(items, item{off, rules.New(id, s.out.At(off), msg)})
	}
	for _, o := range s.imports {
		g := &o.g
		written := g.module + "." + g.name
		resolved := g.dec.Module + "." + g.dec.Name
		desc := resolved
		if written != resolved {
			desc += " (written " + written + ")"
		}
		if g.dec.Via != "" {
			desc += ", reaching " + g.dec.Via
		}
		if g.via != "" {
			desc += " (reached with " + g.via + ")"
		}
		use := usage(o)
		switch {
		case g.unresolved == "" && s.packaged != nil && s.packaged(g.module):
			if g.dec.Action == rules.Allow || g.dec.Action == rules.Deny {
				add(g.first, rules.TorchPackageShadow, fmt.Sprintf("imports %s.%s from the archive's own source, which stands in for the installed module the import rules know%s", g.module, g.name, use))
			} else {
				add(g.first, rules.TorchPackageCode, fmt.Sprintf("imports %s.%s from the archive's own source; loading runs that module%s", g.module, g.name, use))
			}
		case g.unresolved != "":
			add(g.first, rules.PickleUnresolvedImport, "import cannot be resolved: "+g.unresolved+use)
		case g.dec.Action == rules.Allow:
		case g.wrap != "" && o.vetted > 0 && o.vetted >= o.uses:
			// Every use was a getattr or partial of the benign shape;
			// what it reached is classified as an import of its own.
		case g.dec.Action == rules.Deny:
			r := g.dec.Rule
			items = append(items, item{g.first, report.Finding{Rule: r.ID, Severity: r.Severity, Verdict: report.Malicious,
				Message: "imports " + desc + use, Location: s.out.At(g.first), Reason: r.Reason}})
			if g.loader != nil && o.loaderOpaque > 0 {
				add(g.callOff, rules.PickleNestedOpaque, fmt.Sprintf("%s loads a payload that is not a constant in the file", resolved))
			}
		case g.loader != nil && g.loader.TrustNested:
			if o.loaderOpaque > 0 {
				add(g.callOff, rules.PickleNestedOpaque, fmt.Sprintf("%s loads a payload that is not a constant in the file%s", resolved, use))
			}
		case g.dec.Traversal != "":
			add(g.first, rules.PickleAttributeTraversal, fmt.Sprintf("imports %s, walking through %s%s", desc, g.dec.Traversal, use))
		case g.dec.Module == "__main__":
			add(g.first, rules.PickleMainModule, fmt.Sprintf("imports %s, defined in the script that saved the file%s", desc, use))
		default:
			add(g.first, rules.PickleUnknownImport, fmt.Sprintf("imports %s, which is not on the allowlist%s", desc, use))
		}
	}
	for id, a := range s.anoms {
		msg := a.msg
		if a.count > 1 {
			msg += fmt.Sprintf(" (%d times)", a.count)
		}
		add(a.first, id, msg)
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].off != items[j].off {
			return items[i].off < items[j].off
		}
		return items[i].f.Rule < items[j].f.Rule
	})
	for _, it := range items {
		s.out.Add(it.f)
	}
	if s.lost != nil {
		s.out.Add(rules.New(rules.LimitReached, s.out.At(s.lost.first), s.lost.msg))
	}
}

// importList lists the resolved imports in order of first appearance.
func (s *sink) importList() []Import {
	obs := make([]*importObs, 0, len(s.imports))
	for _, o := range s.imports {
		if o.g.unresolved == "" {
			obs = append(obs, o)
		}
	}
	sort.Slice(obs, func(i, j int) bool { return obs[i].g.first < obs[j].g.first })
	out := make([]Import, len(obs))
	for i, o := range obs {
		out[i] = Import{Module: o.g.module, Name: o.g.name, Called: o.calls > 0}
	}
	return out
}

func usage(o *importObs) string {
	var parts []string
	if o.count > 1 {
		parts = append(parts, fmt.Sprintf("imported %d times", o.count))
	}
	switch {
	case o.calls == 1:
		parts = append(parts, "called as "+o.g.dec.Module+"."+o.g.dec.Name+o.g.callArgs)
	case o.calls > 1:
		parts = append(parts, fmt.Sprintf("called %d times, first as %s.%s%s", o.calls, o.g.dec.Module, o.g.dec.Name, o.g.callArgs))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}
