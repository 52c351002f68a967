// Package conda reads conda environment files (environment.yml): the conda
// packages with their version specs, mapped to the PyPI distributions they
// repackage (pytorch -> torch) so they can be checked against PyPI
// advisories, and the pip section as requirement lines.
//
// It only reads the file: it never runs conda, never resolves a spec and
// never fetches a channel. Input is bounded in bytes, entries and nesting;
// a malformed file is an error naming what is wrong, never a panic.
package conda

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/aigis-dev/aigis/internal/bounded"
	"github.com/aigis-dev/aigis/internal/deps/pyreq"
)

// Bounds for one environment file.
const (
	MaxBytes   = 4 << 20
	maxEntries = 20000
	maxDepth   = 32
)

//go:embed mapping.yaml
var mappingYAML []byte

type mappingData struct {
	PyPI           map[string]string `yaml:"pypi"`
	Native         []string          `yaml:"native"`
	NativePrefixes []string          `yaml:"native_prefixes"`
}

var mapping = sync.OnceValue(func() mappingData {
	var m mappingData
	if err := yaml.Unmarshal(mappingYAML, &m); err != nil {
		panic("conda: embedded mapping.yaml: " + err.Error())
	}
	return m
})

// IsEnvironmentFile reports whether a path is named like a conda
// environment file (environment.yml, environment-gpu.yaml, conda.yml...).
func IsEnvironmentFile(path string) bool {
	b := strings.ToLower(filepath.Base(path))
	ext := filepath.Ext(b)
	if ext != ".yml" && ext != ".yaml" {
		return false
	}
	stem := strings.TrimSuffix(b, ext)
	return strings.HasPrefix(stem, "environment") || stem == "conda" || strings.HasPrefix(stem, "conda-") || strings.HasPrefix(stem, "conda_")
}

// Package is one dependency of the environment.
type Package struct {
	// Name is the PyPI name to check (mapped for conda packages).
	Name string
	// Conda is the conda package name as written ("" for pip entries).
	Conda string
	// Channel is the "channel::" prefix of a conda spec, or "pip" for the
	// pip section.
	Channel string
	// Version is the exact version when the spec pins one ("=1.13.0",
	// "==1.13.0", "1.13.0 build"); empty otherwise.
	Version string
	// Spec is the requirement as written.
	Spec string
	// Native is true for conda packages that are not Python distributions.
	Native bool
	Line   int
}

// Environment is a parsed environment file.
type Environment struct {
	Name     string
	Channels []string
	Packages []Package
	// PipOptions are option lines of the pip section (--extra-index-url ...).
	PipOptions []PipOption
}

// PipOption is an option line from the pip section.
type PipOption struct {
	pyreq.Option
	Line int
}

// Parse reads an environment file.
func Parse(r io.Reader) (*Environment, error) {
	b, err := bounded.ReadAll(r, MaxBytes)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	if doc.Kind == 0 {
		return &Environment{}, nil
	}
	if err := checkDepth(&doc, 0, new(int)); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a conda environment: the top level is not a mapping")
	}
	env := &Environment{}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "name":
			env.Name = v.Value
		case "channels":
			for _, c := range v.Content {
				if c.Kind == yaml.ScalarNode {
					env.Channels = append(env.Channels, c.Value)
				}
			}
		case "dependencies":
			if v.Kind != yaml.SequenceNode {
				return nil, fmt.Errorf("line %d: dependencies is not a list", v.Line)
			}
			if err := env.addDependencies(v); err != nil {
				return nil, err
			}
		}
	}
	return env, nil
}

// checkDepth bounds nesting and node count before anything walks the tree
// (yaml.v3 already refuses alias bombs; this bounds plain nesting).
func checkDepth(n *yaml.Node, depth int, count *int) error {
	*count++
	if *count > maxEntries*4 {
		return fmt.Errorf("more than %d YAML nodes", maxEntries*4)
	}
	if depth > maxDepth {
		return fmt.Errorf("line %d: nested deeper than %d", n.Line, maxDepth)
	}
	for _, c := range n.Content {
		if err := checkDepth(c, depth+1, count); err != nil {
			return err
		}
	}
	return nil
}

func (env *Environment) addDependencies(seq *yaml.Node) error {
	for _, item := range seq.Content {
		if len(env.Packages) > maxEntries {
			return fmt.Errorf("more than %d dependencies", maxEntries)
		}
		switch item.Kind {
		case yaml.ScalarNode:
			p, err := parseCondaSpec(item.Value)
			if err != nil {
				return fmt.Errorf("line %d: %w", item.Line, err)
			}
			p.Line = item.Line
			env.Packages = append(env.Packages, p)
		case yaml.MappingNode:
			for i := 0; i+1 < len(item.Content); i += 2 {
				k, v := item.Content[i], item.Content[i+1]
				if k.Value != "pip" {
					continue
				}
				if v.Kind != yaml.SequenceNode {
					return fmt.Errorf("line %d: pip is not a list", v.Line)
				}
				for _, pl := range v.Content {
					if pl.Kind != yaml.ScalarNode {
						return fmt.Errorf("line %d: pip entry is not a string", pl.Line)
					}
					if err := env.addPip(pl.Value, pl.Line); err != nil {
						return err
					}
				}
			}
		default:
			return fmt.Errorf("line %d: dependency is neither a spec nor a pip section", item.Line)
		}
	}
	return nil
}

func (env *Environment) addPip(line string, n int) error {
	s := strings.TrimSpace(pyreq.StripComment(line))
	if s == "" {
		return nil
	}
	if o, ok := pyreq.ParseOption(s); ok {
		env.PipOptions = append(env.PipOptions, PipOption{Option: o, Line: n})
		return nil
	}
	req, err := pyreq.Parse(s)
	if err != nil {
		return fmt.Errorf("line %d: pip: %w", n, err)
	}
	p := Package{Name: req.Name, Channel: "pip", Spec: s, Line: n}
	p.Version, _ = req.Pinned()
	env.Packages = append(env.Packages, p)
	return nil
}

// A conda match spec: [channel::]name[ op version[ build]] with op one of
// = == >= <= > < != ~=, or a space between name and version.
var reCondaSpec = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:([A-Za-z0-9_.\-/]+)::)?([A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(.*)$`)
})

func parseCondaSpec(s string) (Package, error) {
	s = strings.TrimSpace(pyreq.StripComment(s))
	if len(s) > pyreq.MaxLine {
		return Package{}, fmt.Errorf("spec over %d bytes", pyreq.MaxLine)
	}
	m := reCondaSpec().FindStringSubmatch(s)
	if m == nil {
		return Package{}, fmt.Errorf("%q is not a conda package spec", s)
	}
	p := Package{Conda: m[2], Channel: m[1], Spec: s}
	p.Name, p.Native = PyPIName(p.Conda)
	p.Version = pinnedCondaVersion(strings.TrimSpace(m[3]))
	return p, nil
}

// pinnedCondaVersion returns the version a spec pins: "=1.2.3",
// "==1.2.3", "=1.2.3=build", "1.2.3 build", "1.2.3". Ranges, wildcards
// and alternatives ("|") are not pins.
func pinnedCondaVersion(rest string) string {
	if rest == "" {
		return ""
	}
	if strings.HasPrefix(rest, "==") {
		rest = rest[2:]
	} else if strings.HasPrefix(rest, "=") {
		rest = rest[1:]
	} else if strings.ContainsAny(rest[:1], "<>!~") {
		return ""
	}
	v := strings.Fields(rest)
	if len(v) == 0 {
		return ""
	}
	ver, _, _ := strings.Cut(v[0], "=") // "1.2.3=build"
	if ver == "" || strings.ContainsAny(ver, "*|,<>!~[") {
		return ""
	}
	return ver
}

// PyPIName maps a conda package name to the PyPI distribution it packages,
// and reports whether it is a native (non-Python) package instead.
func PyPIName(conda string) (name string, native bool) {
	n := strings.ToLower(conda)
	if p, ok := mapping().PyPI[n]; ok {
		return p, false
	}
	for _, x := range mapping().Native {
		if n == x {
			return n, true
		}
	}
	for _, pre := range mapping().NativePrefixes {
		if strings.HasPrefix(n, pre) {
			return n, true
		}
	}
	return n, false
}
