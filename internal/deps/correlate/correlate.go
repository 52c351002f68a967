// Package correlate ties dependency advisories to the model files a
// project holds: torch below 2.6.0 with pickle checkpoints, llama-cpp-python
// with GGUF chat templates, Keras below 3.9 with .keras archives, onnx below
// 1.16 with external data. The pairs are embedded data
// (correlations.yaml), each with the reason it matters.
//
// It only compares versions and file kinds; it never loads a model and
// never decides on its own that a file is malicious.
package correlate

import (
	_ "embed"
	"fmt"
	"slices"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/aigis-dev/aigis/internal/osvdb"
	"github.com/aigis-dev/aigis/report"
)

//go:embed correlations.yaml
var correlationsYAML []byte

// Rule is one advisory/model-kind pair.
type Rule struct {
	ID         string          `yaml:"id"`
	Package    string          `yaml:"package"`
	Events     []osvdb.Event   `yaml:"events"`
	Advisories []string        `yaml:"advisories"`
	Models     []Kind          `yaml:"models"`
	Severity   report.Severity `yaml:"severity"`
	Reason     string          `yaml:"reason"`
	affected   osvdb.Affected
}

var rules = sync.OnceValue(func() []Rule {
	var rs []Rule
	if err := yaml.Unmarshal(correlationsYAML, &rs); err != nil {
		panic("correlate: embedded correlations.yaml: " + err.Error())
	}
	for i := range rs {
		r := &rs[i]
		if r.ID == "" || r.Package == "" || len(r.Events) == 0 || len(r.Models) == 0 || r.Reason == "" {
			panic(fmt.Sprintf("correlate: rule %d is incomplete", i))
		}
		for _, k := range r.Models {
			if !kinds[k] {
				panic(fmt.Sprintf("correlate: rule %s names the unknown model kind %q", r.ID, k))
			}
		}
		r.affected = osvdb.Affected{
			Ecosystem: "PyPI",
			Name:      r.Package,
			Ranges:    []osvdb.Range{{Type: osvdb.RangeEcosystem, Events: r.Events}},
		}
	}
	return rs
})

// Rules returns the embedded rules.
func Rules() []Rule { return slices.Clone(rules()) }

// Hit is a rule that applies, with the model files that make it apply.
type Hit struct {
	Rule
	Files []string
}

// Find returns the rules that apply to a PyPI package locked at version,
// given the model files of the tree by kind (KindsOf).
func Find(name, version string, models map[Kind][]string) []Hit {
	var hits []Hit
	for _, r := range rules() {
		if !r.affected.Names("PyPI", name) {
			continue
		}
		if ok, err := r.affected.Affects(version); err != nil || !ok {
			continue
		}
		var files []string
		for _, k := range r.Models {
			files = append(files, models[k]...)
		}
		if len(files) == 0 {
			continue
		}
		slices.Sort(files)
		hits = append(hits, Hit{Rule: r, Files: slices.Compact(files)})
	}
	return hits
}

// Names reports whether any of ids is one of the rule's advisories.
func (r Rule) Names(ids []string) bool {
	for _, id := range ids {
		if slices.Contains(r.Advisories, id) {
			return true
		}
	}
	return false
}
