// Package output renders reports for people and machines, as a stream:
// each artifact is written as soon as the verb hands it over, and the
// summary (and, for SARIF, the rules table) after the last one, so memory
// does not grow with the number of files.
//
// Every verb writes the same model, so a new verb gets table, JSON and SARIF
// for free, and a new format never touches the analysers.
package output

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/report"
)

// Meta is what a report says about its run.
type Meta struct {
	Tool, Version, Command string
}

// Writer writes one report, artifact by artifact.
type Writer interface {
	// Artifact writes one artifact.
	Artifact(a *report.Artifact) error
	// Close writes what follows the artifacts (the summary) and flushes.
	// It does not close the underlying io.Writer.
	Close() error
}

var formats = map[string]func(w io.Writer, m Meta) Writer{
	"table": newTable,
	"json":  newJSON,
	"sarif": newSARIF,
}

// Formats lists the names New accepts, sorted.
func Formats() []string {
	var n []string
	for k := range formats {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Check reports whether New accepts name.
func Check(name string) error {
	if _, ok := formats[name]; ok {
		return nil
	}
	return fmt.Errorf("unknown output format %q (want one of %s)", name, strings.Join(Formats(), ", "))
}

// New starts a report in format name on w.
func New(name string, w io.Writer, m Meta) (Writer, error) {
	if err := Check(name); err != nil {
		return nil, err
	}
	return formats[name](w, m), nil
}

// Encode writes a whole report in format name.
func Encode(name string, w io.Writer, r *report.Report) error {
	ow, err := New(name, w, Meta{Tool: r.Tool, Version: r.Version, Command: r.Command})
	if err != nil {
		return err
	}
	for i := range r.Artifacts {
		if err := ow.Artifact(&r.Artifacts[i]); err != nil {
			return err
		}
	}
	return ow.Close()
}
