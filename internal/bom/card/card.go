// Package card reads Hugging Face model and dataset cards (README.md): the
// YAML front matter (licence, datasets, base model, task, model-index
// evaluation results, ...) and the few Markdown sections that tools write
// in a known shape (the Trainer's "Training hyperparameters" list,
// "Framework versions", and the limitations and intended-use sections).
//
// A card is untrusted data. This package never renders Markdown or HTML,
// never follows links and never evaluates anything; the YAML is read into
// a node tree with bounded size, depth and alias expansion, so anchor
// bombs, huge documents and bad UTF-8 end in a warning, never a panic,
// hang or OOM. Parse never fails: what cannot be read is left out and
// said in Card.Warnings.
package card

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Bounds.
const (
	// MaxCardBytes is the largest README read at all.
	MaxCardBytes = 4 << 20
	// MaxFrontMatterBytes bounds the YAML between the --- lines.
	MaxFrontMatterBytes = 1 << 20
	// MaxDepth bounds YAML nesting.
	MaxDepth = 64
	// MaxNodes bounds the nodes visited while converting the YAML,
	// counting every expansion of an alias, so an anchor bomb stops here.
	MaxNodes = 200_000
	// maxEntries bounds list sections of the body.
	maxEntries = 256
	// maxText bounds a free-text section kept from the body.
	maxText = 4096
)

// Card is what a model or dataset card says.
type Card struct {
	// Meta is the whole front matter as plain values: map[string]any,
	// []any, string (scalars keep their text) and nil.
	Meta map[string]any

	License     []string
	LicenseName string
	LicenseLink string

	// Model cards.
	Datasets          []string
	BaseModels        []string
	BaseModelRelation string
	PipelineTag       string
	LibraryName       string
	Languages         []string
	Tags              []string
	Metrics           []string
	ModelName         string // model-index[0].name
	Results           []Result
	CO2               *CO2

	// Dataset cards.
	PrettyName     string
	TaskCategories []string
	SizeCategories []string
	SourceDatasets []string

	// From the Markdown body.
	Title                   string
	Description             string
	TrainingHyperparameters []KV
	FrameworkVersions       []KV
	Limitations             string
	IntendedUses            string

	// HasFrontMatter is true when the card starts with a YAML block that
	// was read.
	HasFrontMatter bool
	Warnings       []string
}

// KV is one ordered key and its value, as written.
type KV struct{ Key, Value string }

// Result is one metric of the model-index.
type Result struct {
	TaskType, TaskName                     string
	DatasetName, DatasetType, DatasetSplit string
	MetricType, MetricName, Value          string
}

// CO2 is the card's co2_eq_emissions.
type CO2 struct {
	Emissions            string // grams of CO2 equivalent
	Source               string
	TrainingType         string
	GeographicalLocation string
	HardwareUsed         string
}

// IsDatasetCard reports whether the front matter has keys only dataset
// cards use.
func (c *Card) IsDatasetCard() bool {
	for _, k := range []string{"task_categories", "size_categories", "source_datasets", "dataset_info", "configs", "annotations_creators", "pretty_name", "task_ids"} {
		if _, ok := c.Meta[k]; ok {
			return true
		}
	}
	return false
}

func (c *Card) warnf(format string, a ...any) {
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, a...))
}

// Parse reads a README. It never fails; problems are in Warnings.
func Parse(b []byte) *Card {
	c := &Card{Meta: map[string]any{}}
	if len(b) > MaxCardBytes {
		c.warnf("card is %d bytes, over the %d-byte limit; not read", len(b), MaxCardBytes)
		return c
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	fm, body, ok := splitFrontMatter(b)
	if ok {
		c.readFrontMatter(fm)
	}
	if !utf8.Valid(body) {
		c.warnf("card body is not valid UTF-8; invalid bytes were replaced")
		body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
	}
	c.readBody(string(body))
	return c
}

// splitFrontMatter returns the YAML between a leading "---" line and the
// next "---" (or "...") line.
func splitFrontMatter(b []byte) (fm, body []byte, ok bool) {
	first, rest, found := bytes.Cut(b, []byte("\n"))
	if !found || string(bytes.TrimRight(first, " \t\r")) != "---" {
		return nil, b, false
	}
	off := 0
	for off <= len(rest) {
		line, _, more := bytes.Cut(rest[off:], []byte("\n"))
		t := string(bytes.TrimRight(line, " \t\r"))
		if t == "---" || t == "..." {
			end := off + len(line)
			if more {
				end++
			}
			return rest[:off], rest[end:], true
		}
		if !more {
			break
		}
		off += len(line) + 1
	}
	return nil, b, false // unterminated: all of it is body
}

func (c *Card) readFrontMatter(fm []byte) {
	if len(fm) > MaxFrontMatterBytes {
		c.warnf("front matter is %d bytes, over the %d-byte limit; ignored", len(fm), MaxFrontMatterBytes)
		return
	}
	if !utf8.Valid(fm) {
		c.warnf("front matter is not valid UTF-8; ignored")
		return
	}
	if d := flowDepth(fm); d > MaxDepth {
		c.warnf("front matter nests %d levels deep, over the limit of %d; ignored", d, MaxDepth)
		return
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(fm, &doc); err != nil {
		c.warnf("front matter is not valid YAML (%v); ignored", oneLine(err.Error()))
		return
	}
	conv := converter{budget: MaxNodes}
	v, err := conv.value(&doc, 0)
	if err != nil {
		c.warnf("front matter %v; ignored", err)
		return
	}
	m, isMap := v.(map[string]any)
	if v != nil && !isMap {
		c.warnf("front matter is not a mapping; ignored")
		return
	}
	if m == nil {
		m = map[string]any{}
	}
	c.Meta = m
	c.HasFrontMatter = true
	c.fromMeta()
}

// flowDepth is the deepest nesting of flow collections ([ and {), quotes
// ignored: a cheap guard before handing the text to a recursive parser.
// Counting brackets inside quoted strings too can only over-count, and no
// real card nests anything 64 levels deep.
func flowDepth(b []byte) int {
	depth, deepest := 0, 0
	for _, ch := range b {
		switch ch {
		case '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return deepest
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

type converter struct{ budget int }

// value converts a node to plain values, spending one unit of budget per
// node visited (aliases are visited again each time they are used).
func (cv *converter) value(n *yaml.Node, depth int) (any, error) {
	if cv.budget--; cv.budget < 0 {
		return nil, fmt.Errorf("expands to more than %d nodes (an alias bomb?)", MaxNodes)
	}
	if depth > MaxDepth {
		return nil, fmt.Errorf("nests deeper than %d levels", MaxDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return cv.value(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, nil
		}
		return cv.value(n.Alias, depth+1)
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := cv.value(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, err := cv.value(n.Content[i], depth+1)
			if err != nil {
				return nil, err
			}
			v, err := cv.value(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				continue // a collection as a key: nothing a card means
			}
			out[ks] = v
		}
		return out, nil
	}
	return nil, nil
}
