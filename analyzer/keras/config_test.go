package keras

import (
	"context"
	"testing"

	"github.com/aigis-dev/aigis/analyzer"
)

// FuzzConfig feeds configurations straight to the parser and checker,
// as config.json bytes and as an HDF5 string attribute.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {"function": ["YWJj", null]}}]}}`))
	f.Add([]byte(`{"module": "keras.layers", "class_name": "StringLookup", "config": {"vocabulary": "/etc/passwd", "x": NaN}, "class_name": "Dense"}`))
	f.Add([]byte("\xff\xfe{\x00}\x00"))
	f.Add([]byte("\xef\xbb\xbf[-Infinity, 1e5, \"\\ud800\"]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fromBytes := range []bool{true, false} {
			res := analyzer.NewResult(func(context.Context, *analyzer.Input, *analyzer.Result) error { return nil })
			checkConfig(b, "config.json", res, fromBytes)
		}
	})
}
