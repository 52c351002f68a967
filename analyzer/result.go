package analyzer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// Dispatcher analyses an input with whichever analyser matches it. The
// scan engine provides it; analysers reach it through Result.Recurse.
type Dispatcher func(ctx context.Context, in *Input, out *Result) error

// Result collects what analysers report about one walked file. Nested
// inputs get child Results that share the findings list but prefix their
// locations with the member path.
type Result struct {
	prefix   string
	base     int64
	format   string
	findings *[]report.Finding
	formats  *[]string
	props    map[string]string
	dispatch Dispatcher
	// model holds the header facts of this input: the walked file's
	// slot for the Result made by NewResult (and for the content a
	// decompressor unwraps from it), a private one for nested inputs.
	model *modelSlot
}

// NewResult starts the result for a walked file.
func NewResult(d Dispatcher) *Result {
	return &Result{findings: new([]report.Finding), formats: new([]string), props: map[string]string{}, dispatch: d, model: &modelSlot{}}
}

// Add records a finding. A zero verdict is taken as info-only; a zero
// severity (info) on a non-clean verdict is raised to the verdict's default.
func (r *Result) Add(f report.Finding) {
	if f.Severity == report.SeverityInfo && f.Verdict != report.Clean {
		f.Severity = f.Verdict.DefaultSeverity()
	}
	*r.findings = append(*r.findings, f)
}

// Findings returns everything reported so far, for this file and all its
// members.
func (r *Result) Findings() []report.Finding { return *r.findings }

// Verdict is the worst verdict reported so far.
func (r *Result) Verdict() report.Verdict {
	v := report.Clean
	for _, f := range *r.findings {
		v = report.Worse(v, f.Verdict)
	}
	return v
}

// SetFormat names the format of this input (analysers may refine the
// name the engine set, e.g. "pickle" to "joblib").
func (r *Result) SetFormat(f string) { r.format = f }

// Format is the name set for this input.
func (r *Result) Format() string { return r.format }

// NestedFormats lists the formats of nested inputs, outermost first.
func (r *Result) NestedFormats() []string { return *r.formats }

// SetProperty records a fact about the walked file (e.g. "pickle.globals").
func (r *Result) SetProperty(k, v string) { r.props[k] = v }

// Properties returns the recorded facts.
func (r *Result) Properties() map[string]string { return r.props }

// At formats a location for byte offset off of this input.
func (r *Result) At(off int64) string {
	return r.prefix + "@" + strconv.FormatInt(r.base+off, 10)
}

// Here is the location of this input as a whole ("" for the walked file).
func (r *Result) Here() string { return r.prefix }

// Member is the location of a named member of this input.
func (r *Result) Member(name string) string { return joinLoc(r.prefix, name) }

func joinLoc(prefix, name string) string {
	switch {
	case name == "":
		return prefix
	case prefix == "":
		return name
	}
	return prefix + ">" + name
}

// Child returns the Result for a nested input, for analysers that call a
// known format's analysis directly instead of dispatching through Recurse.
func (r *Result) Child(in *Input) *Result {
	child := &Result{findings: r.findings, formats: r.formats, props: r.props, dispatch: r.dispatch}
	if in.Name == "" {
		child.prefix, child.base = r.prefix, r.base+in.Base
	} else {
		child.prefix = joinLoc(r.prefix, in.Name)
	}
	return child
}

// ForMember returns a Result whose locations are inside the named member,
// for reporting on a member that could not be opened.
func (r *Result) ForMember(name string) *Result {
	return &Result{prefix: joinLoc(r.prefix, name), findings: r.findings, formats: r.formats, props: r.props, dispatch: r.dispatch}
}

// Detached returns a Result with this one's location and dispatcher but
// findings and nested formats of its own, for an analysis whose outcome
// decides whether it counts (bytes that may or may not be what their
// container says they are). Merge adds what it collected back.
func (r *Result) Detached() *Result {
	return &Result{prefix: r.prefix, base: r.base, format: r.format, findings: new([]report.Finding), formats: new([]string), props: r.props, dispatch: r.dispatch}
}

// Merge adds the findings and nested formats d collected to r.
func (r *Result) Merge(d *Result) {
	*r.findings = append(*r.findings, *d.findings...)
	*r.formats = append(*r.formats, *d.formats...)
}

// Recurse analyses a nested input (an archive member, a decompressed
// stream) with whichever analyser matches it.
func (r *Result) Recurse(ctx context.Context, in *Input) error {
	return r.recurse(ctx, in, nil)
}

// recurse dispatches a nested input; model is the slot its facts go to
// (nil: a private one).
func (r *Result) recurse(ctx context.Context, in *Input, model *modelSlot) error {
	child := r.Child(in)
	child.model = model
	err := r.dispatch(ctx, in, child)
	if child.format != "" {
		*r.formats = append(*r.formats, child.format)
	}
	return err
}

// Problem reports a read or parse failure at off, classified by its
// cause: a budget or deadline is inconclusive, anything else invalid. A
// negative off means the input as a whole.
func (r *Result) Problem(ctx context.Context, off int64, what string, err error) {
	loc := r.At(off)
	if off < 0 {
		loc = r.Here()
	}
	switch {
	case IsLimit(err):
		r.Add(rules.New(rules.LimitReached, loc, fmt.Sprintf("%s: %v; analysis stopped, the rest is unchecked", what, err)))
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		r.Add(rules.New(rules.LimitReached, loc, fmt.Sprintf("%s: time budget exhausted; the rest is unchecked", what)))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		r.Add(rules.New(rules.Truncated, loc, fmt.Sprintf("%s: data ends early (truncated)", what)))
	default:
		r.Add(rules.New(rules.Malformed, loc, fmt.Sprintf("%s: %s", what, strings.TrimSpace(err.Error()))))
	}
}
