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

// Rule sets (internal/rules/sets/*.yaml) share one shape: the findings a
// part of aigis reports (the engine, a format analyser, a verb), each with
// a verdict, severity and reason, and named lists of names (dangerous
// operators, safe domains, ...) with a reason for each list. Together with
// the pickle behaviours they are the one registry of findings: ids.go
// names every finding as a Go constant, so a misspelt id does not compile.

//go:embed sets/*.yaml
var setFS embed.FS

// Set is one rule set: a format's, the engine's or a verb's.
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

// List returns a named list; an unknown name is a programming error.
func (s *Set) List(name string) *List {
	l, ok := s.Lists[name]
	if !ok {
		panic(fmt.Sprintf("rules: %s.yaml defines no list %q", s.Name, name))
	}
	return l
}

var loadSets = sync.OnceValues(func() (map[string]*Set, error) {
	ents, err := setFS.ReadDir("sets")
	if err != nil {
		return nil, err
	}
	out := map[string]*Set{}
	ids := map[string]string{}
	for _, e := range ents {
		b, err := setFS.ReadFile("sets/" + e.Name())
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
})

// Format returns the embedded rule set internal/rules/sets/<name>.yaml.
func Format(name string) *Set {
	sets, err := loadSets()
	if err != nil {
		panic("rules: " + err.Error())
	}
	s, ok := sets[name]
	if !ok {
		panic("rules: no rule set " + name)
	}
	return s
}

// setFinding looks a finding id up in every rule set.
func setFinding(id ID) (Behaviour, bool) {
	sets, err := loadSets()
	if err != nil {
		panic("rules: " + err.Error())
	}
	for _, s := range sets {
		if b, ok := s.Findings[string(id)]; ok {
			return b, true
		}
	}
	return Behaviour{}, false
}

// SetNames lists the embedded rule sets, the engine's first.
func SetNames() []string {
	sets, err := loadSets()
	if err != nil {
		panic("rules: " + err.Error())
	}
	n := []string{"engine"}
	for k := range sets {
		if k != "engine" {
			n = append(n, k)
		}
	}
	sort.Strings(n[1:])
	return n
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

// writeSets renders every rule set for the catalogue.
func writeSets(w io.Writer) {
	for _, n := range SetNames() {
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
