// Package dataset reads what a bill of materials records about local
// dataset files: the format, the number of rows and the columns.
//
// Parquet row counts and schemas come from the file footer; data pages are
// never read. JSON Lines and CSV schemas come from a bounded sample of the
// first rows; their row counts come from counting record ends, either in
// the single pass that hashes the file (RowCounter is an io.Writer) or,
// without hashing, by reading files up to a size limit. Nothing in a
// dataset is executed or interpreted beyond that.
package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
)

// Facts describe one data file.
type Facts struct {
	Format    string // parquet, jsonl, csv
	Rows      int64
	RowsExact bool // false when the count is unknown
	Columns   []Column
	RowGroups int
	CreatedBy string
}

// Column is one top-level column (a JSON key, a CSV header).
type Column struct{ Name, Type string }

// Schema renders the columns as "name:type,...".
func (f *Facts) Schema() string {
	parts := make([]string, len(f.Columns))
	for i, c := range f.Columns {
		parts[i] = c.Name + ":" + c.Type
	}
	return strings.Join(parts, ",")
}

// Sample bounds.
const (
	SampleBytes = 1 << 20
	sampleRows  = 100
)

// FormatOf names a data file's format from its name ("" when it is not
// one this package reads). Parquet is also confirmed by content.
func FormatOf(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".parquet":
		return "parquet"
	case ".jsonl", ".ndjson":
		return "jsonl"
	case ".csv":
		return "csv"
	case ".tsv":
		return "tsv"
	}
	return ""
}

// Inspect reads a data file's schema (and, for parquet, its rows). For
// jsonl and csv, Rows stays unknown; count them with a RowCounter.
func Inspect(format string, ra io.ReaderAt, size int64) (*Facts, error) {
	switch format {
	case "parquet":
		return Parquet(ra, size)
	case "jsonl":
		return sampleJSONL(io.NewSectionReader(ra, 0, min(size, SampleBytes)))
	case "csv", "tsv":
		return sampleCSV(io.NewSectionReader(ra, 0, min(size, SampleBytes)), format)
	}
	return nil, errors.New("dataset: unsupported format " + format)
}

func sampleJSONL(r io.Reader) (*Facts, error) {
	f := &Facts{Format: "jsonl"}
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), SampleBytes)
	rows := 0
	for sc.Scan() && rows < sampleRows {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		rows++
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			if rows == 1 {
				return nil, errors.New("jsonl: the first line is not a JSON object")
			}
			continue // a line cut by the sample window, or a bad row
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		// Keys in the order the line wrote them.
		order := keyOrder(line, keys)
		for _, k := range order {
			t := jsonType(obj[k])
			if i, ok := seen[k]; ok {
				if f.Columns[i].Type != t && t != "null" {
					if f.Columns[i].Type == "null" {
						f.Columns[i].Type = t
					} else if !strings.Contains(f.Columns[i].Type, t) {
						f.Columns[i].Type += "|" + t
					}
				}
				continue
			}
			if len(f.Columns) >= maxColumns {
				continue
			}
			seen[k] = len(f.Columns)
			f.Columns = append(f.Columns, Column{Name: clip(k, 256), Type: t})
		}
	}
	return f, nil
}

// keyOrder sorts keys by where they first appear in the line.
func keyOrder(line []byte, keys []string) []string {
	dec := json.NewDecoder(bytes.NewReader(line))
	var out []string
	in := map[string]bool{}
	for _, k := range keys {
		in[k] = true
	}
	depth := 0
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
			expectKey = depth == 1 && v == '{'
			continue
		case string:
			if depth == 1 && expectKey && in[v] {
				out = append(out, v)
				delete(in, v)
				expectKey = false
				continue
			}
		}
		if depth == 1 {
			expectKey = true
		}
	}
	for k := range in { // anything the token walk missed
		out = append(out, k)
	}
	return out
}

func jsonType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "null"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func sampleCSV(r io.Reader, format string) (*Facts, error) {
	f := &Facts{Format: format}
	cr := csv.NewReader(r)
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	if format == "tsv" {
		cr.Comma = '\t'
	}
	head, err := cr.Read()
	if err != nil {
		return nil, errors.New(format + ": no header row")
	}
	for i, h := range head {
		if i >= maxColumns {
			break
		}
		f.Columns = append(f.Columns, Column{Name: clip(strings.TrimSpace(h), 256), Type: ""})
	}
	for n := 0; n < sampleRows; n++ {
		rec, err := cr.Read()
		if err != nil {
			break
		}
		for i, v := range rec {
			if i >= len(f.Columns) {
				break
			}
			f.Columns[i].Type = widen(f.Columns[i].Type, valueKind(v))
		}
	}
	for i := range f.Columns {
		if f.Columns[i].Type == "" {
			f.Columns[i].Type = "string"
		}
	}
	return f, nil
}

func valueKind(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	isInt, isNum := true, true
	for i, c := range v {
		switch {
		case c >= '0' && c <= '9':
		case (c == '-' || c == '+') && i == 0:
		case c == '.' || c == 'e' || c == 'E':
			isInt = false
		default:
			return "string"
		}
	}
	if _, err := json.Number(v).Float64(); err != nil {
		isNum = false
	}
	switch {
	case isInt && isNum:
		return "integer"
	case isNum:
		return "number"
	}
	return "string"
}

func widen(have, got string) string {
	switch {
	case got == "" || have == got:
		return have
	case have == "":
		return got
	case have == "string" || got == "string":
		return "string"
	}
	return "number" // integer and number
}

// RowCounter counts records in a stream of JSON Lines or CSV: lines for
// JSON Lines; for CSV, non-blank lines ended outside quotes (a quoted
// field may hold newlines). Feed it every byte of the file in order; Rows reports the
// count, excluding the CSV header.
type RowCounter struct {
	csv     bool
	inQuote bool
	lineHas bool // the current line has a non-space byte
	rows    int64
}

// NewRowCounter returns a counter for format jsonl, csv or tsv; nil for
// any other format.
func NewRowCounter(format string) *RowCounter {
	switch format {
	case "jsonl":
		return &RowCounter{}
	case "csv", "tsv":
		return &RowCounter{csv: true}
	}
	return nil
}

// Write implements io.Writer; it never fails.
func (c *RowCounter) Write(p []byte) (int, error) {
	if !c.csv {
		// JSON Lines: one record per line; counting newlines runs at
		// memory speed, so counting while hashing costs nothing.
		if len(p) > 0 {
			c.rows += int64(bytes.Count(p, []byte{'\n'}))
			c.lineHas = p[len(p)-1] != '\n'
		}
		return len(p), nil
	}
	for _, b := range p {
		switch {
		case c.csv && b == '"':
			c.inQuote = !c.inQuote
			c.lineHas = true
		case b == '\n' && !c.inQuote:
			if c.lineHas {
				c.rows++
			}
			c.lineHas = false
		case b != ' ' && b != '\t' && b != '\r' && b != '\n':
			c.lineHas = true
		}
	}
	return len(p), nil
}

// Rows is the number of records seen (a last line without a newline
// counts; a CSV header does not).
func (c *RowCounter) Rows() int64 {
	n := c.rows
	if c.lineHas {
		n++
	}
	if c.csv && n > 0 {
		n-- // the header
	}
	return n
}
