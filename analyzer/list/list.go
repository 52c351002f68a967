// Package list names every format analyser, in match order. Adding a
// format is a new package plus one line here.
package list

import (
	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/pickle"
)

// All returns the analysers in the order the engine offers inputs to them:
// specific magic numbers first, weak ones (protocol-0 pickle) last.
func All() []analyzer.Analyzer {
	return []analyzer.Analyzer{
		pickle.Analyzer{},
	}
}
