package bom

import (
	_ "embed"
	"fmt"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed completeness.yaml
var completenessYAML []byte

// Field is one thing a complete BOM records about a model or dataset.
type Field struct {
	Field      string `yaml:"field"`
	Importance string `yaml:"importance"`
	Reason     string `yaml:"reason"`
}

// Weight is 3 for critical, 2 for important, 1 for supplementary.
func (f Field) Weight() int {
	switch f.Importance {
	case "critical":
		return 3
	case "important":
		return 2
	}
	return 1
}

var fields = sync.OnceValue(func() map[Kind][]Field {
	var raw map[string][]Field
	if err := yaml.Unmarshal(completenessYAML, &raw); err != nil {
		panic(fmt.Sprintf("bom: embedded completeness.yaml: %v", err)) // covered by tests
	}
	return map[Kind][]Field{KindModel: raw["model"], KindDataset: raw["dataset"]}
})

// Fields lists the fields scored for a kind, most important first.
func Fields(k Kind) []Field { return fields()[k] }

// Score is a component's completeness.
type Score struct {
	Score   int // 0-100
	Missing []Field
}

// Completeness scores a local model or dataset; ok is false for other
// components.
func Completeness(c *Component) (Score, bool) {
	fs := Fields(c.Kind)
	if len(fs) == 0 || !c.Local {
		return Score{}, false
	}
	have, total := 0, 0
	var s Score
	for _, f := range fs {
		total += f.Weight()
		if present(c, f.Field) {
			have += f.Weight()
		} else {
			s.Missing = append(s.Missing, f)
		}
	}
	sort.SliceStable(s.Missing, func(i, j int) bool { return s.Missing[i].Weight() > s.Missing[j].Weight() })
	s.Score = (100*have + total/2) / total
	return s, true
}

func present(c *Component, field string) bool {
	switch field {
	case "hashes":
		if len(c.Files) == 0 {
			return false
		}
		for _, f := range c.Files {
			if f.SHA256 == "" {
				return false
			}
		}
		return true
	case "license":
		for _, l := range c.Licenses {
			if l.Known() {
				return true
			}
		}
		return false
	case "identity":
		return c.PURL != "" || c.Version != "" && c.Group != ""
	}
	if m := c.Model; m != nil {
		switch field {
		case "training-data":
			return len(m.Datasets) > 0
		case "provenance":
			return len(m.BaseModels) > 0
		case "task":
			return m.Task != ""
		case "architecture":
			return m.Family != "" || m.Architecture != ""
		case "parameters":
			return m.Parameters > 0
		case "training-configuration":
			return len(m.Training) > 0 || m.Adapter != nil
		case "evaluation":
			return len(m.Metrics) > 0
		case "limitations":
			return m.Limitations != ""
		case "intended-use":
			return m.IntendedUses != ""
		case "language":
			return len(m.Languages) > 0
		case "environmental-impact":
			return m.CO2 != nil
		}
	}
	if d := c.Dataset; d != nil {
		switch field {
		case "rows":
			return len(d.Files) > 0 && d.RowsExact
		case "schema":
			for _, f := range d.Files {
				if f.Facts == nil || len(f.Facts.Columns) == 0 {
					return false
				}
			}
			return len(d.Files) > 0
		case "provenance":
			return len(d.Sources) > 0
		case "task":
			return len(d.TaskCategories) > 0
		case "description":
			return c.Description != ""
		case "language":
			return len(d.Languages) > 0
		}
	}
	return false
}

// Score is the mean score of the local models and datasets; ok is
// false when there are none.
func (d *Document) Score() (int, bool) {
	sum, n := 0, 0
	for _, c := range d.All() {
		if s, ok := Completeness(c); ok {
			sum += s.Score
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return (sum + n/2) / n, true
}
