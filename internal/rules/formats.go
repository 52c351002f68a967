package rules

import (
	"embed"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Format rule sets (rules/formats/*.yaml) share one shape: the findings an
// analyser reports, each with a verdict, severity and reason, and named
// lists of names (dangerous operators, safe domains, ...) with a reason
// for each list. Analysers ask for a finding or a list by id; unknown ids
// panic, and tests load every set, so a typo is a test failure.

//go:embed formats/*.yaml
var formatFS embed.FS

// Set is one format's rule data.
type Set struct {
	Name     string               `yaml:"-"`
	Title    string               `yaml:"title"`
	About    string               `yaml:"about"`
	Findings map[string]Behaviour `yaml:"findings"`
	Lists    map[string]*List     `yaml:"lists"`
}

// List is a named list of values with the reason it exists.
type List struct {
	Reason string   `yaml:"reason"`
	Values []string `yaml:"values"`
	set    map[string]bool
}

// Has reports whether v is in the list (exact match).
func (l *List) Has(v string) bool { return l.set[v] }

// HasPrefix reports whether v equals a value or starts with a value that
// ends in "." or "/" (a namespace).
func (l *List) HasPrefix(v string) bool {
	if l.set[v] {
		return true
	}
	for _, p := range l.Values {
		if (strings.HasSuffix(p, ".") || strings.HasSuffix(p, "/")) && strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// Behaviour returns a finding definition; an unknown id is a programming
// error.
func (s *Set) Behaviour(id string) Behaviour {
	b, ok := s.Findings[id]
	if !ok {
		panic(fmt.Sprintf("rules: %s.yaml defines no finding %q", s.Name, id))
	}
	return b
}

// List returns a named list; an unknown name is a programming error.
func (s *Set) List(name string) *List {
	l, ok := s.Lists[name]
	if !ok {
		panic(fmt.Sprintf("rules: %s.yaml defines no list %q", s.Name, name))
	}
	return l
}

var (
	formatsOnce sync.Once
	formatSets  map[string]*Set
	formatsErr  error
)

// Format returns the embedded rule set rules/formats/<name>.yaml.
func Format(name string) *Set {
	formatsOnce.Do(func() { formatSets, formatsErr = loadFormats() })
	if formatsErr != nil {
		panic("rules: " + formatsErr.Error())
	}
	s, ok := formatSets[name]
	if !ok {
		panic("rules: no rule set " + name)
	}
	return s
}

// formatFinding looks a finding id up in every format rule set.
func formatFinding(id string) (Behaviour, bool) {
	for _, n := range FormatNames() {
		if b, ok := Format(n).Findings[id]; ok {
			return b, true
		}
	}
	return Behaviour{}, false
}

// FormatNames lists the embedded format rule sets.
func FormatNames() []string {
	Format("jinja") // load
	var n []string
	for k := range formatSets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func loadFormats() (map[string]*Set, error) {
	ents, err := formatFS.ReadDir("formats")
	if err != nil {
		return nil, err
	}
	out := map[string]*Set{}
	ids := map[string]string{}
	for _, e := range ents {
		b, err := formatFS.ReadFile("formats/" + e.Name())
		if err != nil {
			return nil, err
		}
		s, err := ParseSet(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		s.Name = strings.TrimSuffix(e.Name(), ".yaml")
		for id := range s.Findings {
			if prev, dup := ids[id]; dup {
				return nil, fmt.Errorf("finding %s is defined in both %s and %s", id, prev, s.Name)
			}
			ids[id] = s.Name
		}
		out[s.Name] = s
	}
	return out, nil
}

// ParseSet compiles one format rule set.
func ParseSet(b []byte) (*Set, error) {
	var s Set
	if err := yaml.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if s.Title == "" {
		return nil, fmt.Errorf("no title")
	}
	for id, f := range s.Findings {
		if f.Reason == "" {
			return nil, fmt.Errorf("finding %s: every finding needs a reason", id)
		}
	}
	for id, l := range s.Lists {
		if l == nil || l.Reason == "" {
			return nil, fmt.Errorf("list %s: every list needs a reason", id)
		}
		l.set = map[string]bool{}
		for _, v := range l.Values {
			l.set[v] = true
		}
	}
	return &s, nil
}

// writeFormats renders every format rule set for the catalogue.
func writeFormats(w io.Writer) {
	for _, n := range FormatNames() {
		s := Format(n)
		fmt.Fprintf(w, "## %s\n\n%s\n\n", s.Title, strings.TrimSpace(s.About))
		if len(s.Findings) > 0 {
			fmt.Fprintf(w, "| id | verdict | severity | why |\n|---|---|---|---|\n")
			var ids []string
			for id := range s.Findings {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				f := s.Findings[id]
				fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", id, f.Verdict, f.Severity, strings.TrimSpace(f.Reason))
			}
			fmt.Fprintln(w)
		}
		var ls []string
		for id := range s.Lists {
			ls = append(ls, id)
		}
		sort.Strings(ls)
		for _, id := range ls {
			l := s.Lists[id]
			fmt.Fprintf(w, "**%s**: %s\n\n", id, strings.TrimSpace(l.Reason))
			for i, v := range l.Values {
				if i > 0 {
					io.WriteString(w, ", ")
				}
				fmt.Fprintf(w, "`%s`", v)
			}
			io.WriteString(w, "\n\n")
		}
	}
}
