package output

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/aigis-dev/aigis/report"
)

// jsonWriter writes the report as indented JSON, the same bytes
// encoding/json would give for the whole report.Report, one artifact at a
// time. The field names are a contract with other tools: add fields, never
// rename them.
type jsonWriter struct {
	w   io.Writer
	m   Meta
	n   int
	sum report.Summary
	buf bytes.Buffer
	err error
}

func newJSON(w io.Writer, m Meta) Writer { return &jsonWriter{w: w, m: m, sum: report.NewSummary()} }

// value appends v, indented as a member of the report at depth prefix.
func (j *jsonWriter) value(prefix string, v any) {
	if j.err != nil {
		return
	}
	enc := json.NewEncoder(&j.buf)
	enc.SetIndent(prefix, "  ")
	enc.SetEscapeHTML(false)
	j.err = enc.Encode(v)
	j.buf.Truncate(j.buf.Len() - 1) // the encoder's newline
}

func (j *jsonWriter) flush() {
	if j.err == nil {
		_, j.err = j.w.Write(j.buf.Bytes())
	}
	j.buf.Reset()
}

func (j *jsonWriter) head() {
	j.buf.WriteString("{\n  \"tool\": ")
	j.value("  ", j.m.Tool)
	j.buf.WriteString(",\n  \"version\": ")
	j.value("  ", j.m.Version)
	j.buf.WriteString(",\n  \"command\": ")
	j.value("  ", j.m.Command)
	j.buf.WriteString(",\n  \"artifacts\": [")
}

func (j *jsonWriter) Artifact(a *report.Artifact) error {
	if j.n == 0 {
		j.head()
	} else {
		j.buf.WriteString(",")
	}
	j.n++
	j.sum.Add(a)
	c := *a
	if c.Findings == nil {
		c.Findings = []report.Finding{}
	}
	j.buf.WriteString("\n    ")
	j.value("    ", &c)
	j.flush()
	return j.err
}

func (j *jsonWriter) Close() error {
	if j.n == 0 {
		j.head()
		j.buf.WriteString("],\n")
	} else {
		j.buf.WriteString("\n  ],\n")
	}
	j.buf.WriteString("  \"summary\": ")
	j.value("  ", j.sum)
	j.buf.WriteString("\n}\n")
	j.flush()
	return j.err
}
