package analyzer

import (
	"context"

	"github.com/aigis-dev/aigis/report"
)

// modelSlot is where the header facts of one input are kept.
type modelSlot struct{ m *report.Model }

// Model returns the header facts of this input for its analyser to fill
// (parameter count, dtypes, quantisation, what loading it does): the
// facts every verb reads from the artifact's Model field, reported while
// the header is checked so that no verb parses a header again.
//
// Only the walked file's own analysis speaks for the artifact. For a
// nested input (an archive member, data trailing a header, the second
// reading of a polyglot) Model returns a private value that is dropped,
// so a member never overwrites what the file holding it is. An analyser
// that returns ErrNotFormat must not have called it.
func (r *Result) Model() *report.Model {
	if r.model == nil {
		r.model = &modelSlot{}
	}
	if r.model.m == nil {
		r.model.m = &report.Model{}
	}
	return r.model.m
}

// ModelFacts returns the facts reported for the walked file, nil when no
// analyser reported any.
func (r *Result) ModelFacts() *report.Model {
	if r.model == nil {
		return nil
	}
	return r.model.m
}

// RecurseContent is Recurse for an input that is this input's own
// content in another encoding (the stream a decompressor unwraps): the
// loader of the outer file reads the inner one, so the inner analysis
// reports the outer input's model facts too.
func (r *Result) RecurseContent(ctx context.Context, in *Input) error {
	if r.model == nil {
		r.model = &modelSlot{}
	}
	return r.recurse(ctx, in, r.model)
}
