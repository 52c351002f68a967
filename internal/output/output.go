// Package output renders a report.Report for people and machines.
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

// Encoder writes a report in one format.
type Encoder interface {
	Encode(w io.Writer, r *report.Report) error
}

// EncoderFunc adapts a function to Encoder.
type EncoderFunc func(w io.Writer, r *report.Report) error

func (f EncoderFunc) Encode(w io.Writer, r *report.Report) error { return f(w, r) }

var encoders = map[string]Encoder{
	"table": EncoderFunc(Table),
	"json":  EncoderFunc(JSON),
	"sarif": EncoderFunc(SARIF),
}

// Formats lists the names accepted by Lookup, sorted.
func Formats() []string {
	var n []string
	for k := range encoders {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Lookup returns the encoder for a -o value.
func Lookup(name string) (Encoder, error) {
	if e, ok := encoders[name]; ok {
		return e, nil
	}
	return nil, fmt.Errorf("unknown output format %q (want one of %s)", name, strings.Join(Formats(), ", "))
}
