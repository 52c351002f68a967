package output

import (
	"encoding/json"
	"io"

	"github.com/aigis-dev/aigis/report"
)

// JSON writes the report as indented JSON. The field names are a contract
// with other tools: add fields, never rename them. An empty report still
// has "artifacts": [] (never null), whether or not Finish ran.
func JSON(w io.Writer, r *report.Report) error {
	if r.Artifacts == nil {
		c := *r
		c.Artifacts = []report.Artifact{}
		r = &c
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
