package output

import (
	"encoding/json"
	"io"

	"github.com/aigis-dev/aigis/report"
)

// JSON writes the report as indented JSON. The field names are a contract
// with other tools: add fields, never rename them.
func JSON(w io.Writer, r *report.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
