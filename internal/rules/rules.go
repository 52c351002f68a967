// Package rules is the one registry of everything aigis reports, as
// embedded data: every finding of every verb (scan, verify, deps, sign)
// with its verdict, severity and reason, which pickle imports are safe or
// dangerous, module aliases, and extension hints. Code never hard-codes a
// module name; it asks this package. ids.go (Go constants for every
// finding) and docs/rules.md are generated from the same data.
package rules

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/aigis-dev/aigis/report"
)

//go:generate go run ../gen/rulegen -o ../../docs/rules.md -json pickle.json -libjson pickle_libraries.json -ids ids.go

// pickle.yaml is the policy as people edit it; pickle.json is the same
// data generated from it (TestPickleJSONIsCurrent), which the binary
// loads four times faster on every pickle scan.
//
//go:embed pickle.yaml
var pickleYAML []byte

//go:embed pickle.json
var pickleJSON []byte

// pickle_libraries.yaml holds allow rules generated from the libraries'
// own source by internal/gen/allowgen (every nn.Module subclass torch
// defines, every numpy ufunc, ...): thousands of exact names, consulted
// after pickle.yaml's allow rules. pickle_libraries.json is the same data;
// the binary decodes it only when a pickle imports something pickle.yaml
// does not allow, so that a state dict's scan does not pay for it.
//
//go:embed pickle_libraries.yaml
var librariesYAML []byte

//go:embed pickle_libraries.json
var librariesJSON []byte

//go:embed extensions.yaml
var extensionsYAML []byte

// ID names a finding. The constants in ids.go are generated from the rule
// data, so reporting a finding nobody defined does not compile.
type ID string

// New builds a finding from its definition in a rule set or the pickle
// behaviours. Every ID constant has one (TestEveryIDIsDefined).
func New(id ID, location, message string) report.Finding {
	b, ok := Lookup(id)
	if !ok {
		panic("rules: no definition for finding " + string(id))
	}
	return report.Finding{Rule: string(id), Verdict: b.Verdict, Severity: b.Severity, Reason: b.Reason, Location: location, Message: message}
}

// Lookup returns the definition of a finding id.
func Lookup(id ID) (Behaviour, bool) {
	if b, ok := setFinding(id); ok {
		return b, true
	}
	b, ok := Pickle().Findings[string(id)]
	return b, ok
}

// FromData builds a finding whose id comes from data rather than from the
// registry: an advisory id (deps), a pickle deny rule, a dependency
// correlation. Its data carries the verdict, severity and reason.
func FromData(id string, v report.Verdict, s report.Severity, reason, location, message string) report.Finding {
	return report.Finding{Rule: id, Verdict: v, Severity: s, Reason: reason, Location: location, Message: message}
}

// AllIDs lists every finding id in the registry, sorted.
func AllIDs() []ID {
	var ids []ID
	for _, n := range SetNames() {
		for id := range Format(n).Findings {
			ids = append(ids, ID(id))
		}
	}
	for id := range Pickle().Findings {
		ids = append(ids, ID(id))
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Action is what a rule does with a matching import.
type Action string

const (
	Allow Action = "allow"
	Deny  Action = "deny"
)

// Rule is one entry of pickle.yaml.
type Rule struct {
	ID       string          `yaml:"id" json:"id"`
	Action   Action          `yaml:"action" json:"action"`
	Severity report.Severity `yaml:"severity" json:"severity"`
	Reason   string          `yaml:"reason" json:"reason"`
	Globals  []string        `yaml:"globals" json:"globals"`
	// Names lists exact imports by module (module -> qualnames), the
	// compact form of the generated allow rules: no pattern syntax, a
	// lookup in one map.
	Names map[string][]string `yaml:"names,omitempty" json:"names,omitempty"`

	pats []pattern
}

type pattern struct {
	module string // exact module, or prefix ending in "." for submodules, or "" for any
	prefix bool
	name   glob
}

// PicklePolicy is the compiled pickle.yaml.
type PicklePolicy struct {
	Aliases     map[string]string    `yaml:"aliases" json:"aliases"`
	NameAliases map[string]string    `yaml:"name_aliases" json:"name_aliases"`
	Loaders     []Loader             `yaml:"loaders" json:"loaders"`
	Decoders    map[string]string    `yaml:"decoders" json:"decoders"`
	Wrappers    map[string]string    `yaml:"wrappers" json:"wrappers"`
	Findings    map[string]Behaviour `yaml:"findings" json:"findings"`
	Rules       []*Rule              `yaml:"rules" json:"rules"`

	loaders map[string]*Loader
	// exactAllow indexes allow patterns that name one import exactly
	// ("module:name") and the names of allow rules, so that a lookup does
	// not scan patterns.
	exactAllow map[string]*Rule

	// libs holds the generated library rules, loaded on first need.
	libOnce sync.Once
	libs    *PicklePolicy
	libErr  error
	libJSON []byte
}

// libraries returns the generated library allow rules, compiled.
func (p *PicklePolicy) libraries() *PicklePolicy {
	p.libOnce.Do(func() {
		var l PicklePolicy
		if p.libJSON != nil {
			if p.libErr = json.Unmarshal(p.libJSON, &l); p.libErr == nil {
				p.libErr = l.compile()
			}
		}
		p.libs = &l
	})
	if p.libErr != nil {
		panic("rules: embedded pickle_libraries.yaml: " + p.libErr.Error())
	}
	return p.libs
}

// AllRules returns the policy's rules followed by the generated library
// rules.
func (p *PicklePolicy) AllRules() []*Rule {
	return append(append([]*Rule(nil), p.Rules...), p.libraries().Rules...)
}

// Behaviour describes a finding the pickle VM reports for what a stream
// does (rather than what it imports).
type Behaviour struct {
	Verdict  report.Verdict  `yaml:"verdict" json:"verdict"`
	Severity report.Severity `yaml:"severity" json:"severity"`
	Reason   string          `yaml:"reason" json:"reason"`
}

// Loader is a callable that deserialises its first argument.
type Loader struct {
	Global      string `yaml:"global" json:"global"`
	TrustNested bool   `yaml:"trust_nested" json:"trust_nested,omitempty"`
}

// Loader returns the loader rule for a normalised import, or nil.
func (p *PicklePolicy) Loader(module, name string) *Loader { return p.loaders[module+":"+name] }

// Decoder returns the codec name of a pure function aigis may evaluate on
// constant arguments ("base64", "hex", ...), or "".
func (p *PicklePolicy) Decoder(module, name string) string { return p.Decoders[module+":"+name] }

// Wrapper kinds: callables whose result only reaches or wraps another
// value, which the VM models (rather than classifying the wrapper alone)
// when every use of the wrapper in a stream has the benign shape.
const (
	// WrapAttribute is getattr(x, "name"): on an import it is the import
	// of the dotted name; on an object an allowed class built it is a
	// bound-method reference.
	WrapAttribute = "attribute"
	// WrapPartial is functools.partial(f, ...): a callable as safe as f.
	WrapPartial = "partial"
)

// Wrapper returns the wrapper kind of a normalised import, or "".
func (p *PicklePolicy) Wrapper(module, name string) string { return p.Wrappers[module+":"+name] }

var (
	pickleOnce   sync.Once
	picklePolicy *PicklePolicy
	pickleErr    error
)

// Pickle returns the embedded pickle policy. The data is validated by
// tests, so an error here is a build defect.
func Pickle() *PicklePolicy {
	pickleOnce.Do(func() {
		p := &PicklePolicy{libJSON: librariesJSON}
		if pickleErr = json.Unmarshal(pickleJSON, p); pickleErr == nil {
			pickleErr = p.compile()
		}
		picklePolicy = p
	})
	if pickleErr != nil {
		panic("rules: embedded pickle.yaml: " + pickleErr.Error())
	}
	return picklePolicy
}

// ParsePickle compiles a policy document in YAML and, if given, a
// library rules document (the form of pickle_libraries.yaml).
func ParsePickle(b []byte, libraries ...[]byte) (*PicklePolicy, error) {
	var p PicklePolicy
	if err := yaml.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	if err := p.compile(); err != nil {
		return nil, err
	}
	var l PicklePolicy
	for _, m := range libraries {
		var extra PicklePolicy
		if err := yaml.Unmarshal(m, &extra); err != nil {
			return nil, err
		}
		l.Rules = append(l.Rules, extra.Rules...)
	}
	if err := l.compile(); err != nil {
		return nil, err
	}
	p.libOnce.Do(func() { p.libs = &l })
	return &p, nil
}

// PickleJSON converts the embedded pickle.yaml to the JSON form that go
// generate writes to pickle.json.
func PickleJSON() ([]byte, error) {
	var p PicklePolicy
	if err := yaml.Unmarshal(pickleYAML, &p); err != nil {
		return nil, err
	}
	return marshalJSON(&p)
}

// LibrariesJSON converts the embedded pickle_libraries.yaml to the JSON
// form that go generate writes to pickle_libraries.json.
func LibrariesJSON() ([]byte, error) {
	var p struct {
		Rules []*Rule `yaml:"rules" json:"rules"`
	}
	if err := yaml.Unmarshal(librariesYAML, &p); err != nil {
		return nil, err
	}
	return marshalJSON(&p)
}

func marshalJSON(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// compile validates the policy and builds its lookup tables.
func (p *PicklePolicy) compile() error {
	p.loaders = map[string]*Loader{}
	for i := range p.Loaders {
		l := &p.Loaders[i]
		if !strings.Contains(l.Global, ":") {
			return fmt.Errorf("loader %q: want module:name", l.Global)
		}
		p.loaders[l.Global] = l
	}
	for id, b := range p.Findings {
		if b.Reason == "" {
			return fmt.Errorf("finding %s: every finding needs a reason", id)
		}
	}
	for g := range p.Decoders {
		if !strings.Contains(g, ":") {
			return fmt.Errorf("decoder %q: want module:name", g)
		}
	}
	for g, k := range p.Wrappers {
		if !strings.Contains(g, ":") || (k != WrapAttribute && k != WrapPartial) {
			return fmt.Errorf("wrapper %q: want module:name and kind %s or %s", g, WrapAttribute, WrapPartial)
		}
	}
	seen := map[string]bool{}
	p.exactAllow = map[string]*Rule{}
	for _, r := range p.Rules {
		if r.ID == "" || seen[r.ID] {
			return fmt.Errorf("rule id %q missing or duplicated", r.ID)
		}
		seen[r.ID] = true
		if r.Action != Allow && r.Action != Deny {
			return fmt.Errorf("rule %s: action %q", r.ID, r.Action)
		}
		if r.Reason == "" {
			return fmt.Errorf("rule %s: every rule needs a reason", r.ID)
		}
		for _, g := range r.Globals {
			pt, err := compilePattern(g)
			if err != nil {
				return fmt.Errorf("rule %s: %w", r.ID, err)
			}
			if r.Action == Allow && pt.module != "" && !pt.prefix && pt.name.exact {
				if _, dup := p.exactAllow[g]; !dup {
					p.exactAllow[g] = r
				}
				continue
			}
			r.pats = append(r.pats, pt)
		}
		if len(r.Names) > 0 && r.Action != Allow {
			return fmt.Errorf("rule %s: names (exact imports) are for allow rules only", r.ID)
		}
		for mod, names := range r.Names {
			if mod == "" || strings.ContainsAny(mod, ":*") {
				return fmt.Errorf("rule %s: bad module %q in names", r.ID, mod)
			}
			for _, n := range names {
				if n == "" || strings.Contains(n, ":") {
					return fmt.Errorf("rule %s: bad name %q in module %s", r.ID, n, mod)
				}
				if _, dup := p.exactAllow[mod+":"+n]; !dup {
					p.exactAllow[mod+":"+n] = r
				}
			}
		}
	}
	return nil
}

func compilePattern(g string) (pattern, error) {
	mod, name, ok := strings.Cut(g, ":")
	if !ok || mod == "" || name == "" {
		return pattern{}, fmt.Errorf("pattern %q: want module:qualname", g)
	}
	var pt pattern
	switch {
	case mod == "*" || mod == "**":
	case strings.HasSuffix(mod, ".*"):
		pt.module, pt.prefix = strings.TrimSuffix(mod, "*"), true
	case strings.ContainsAny(mod, "*?["):
		return pattern{}, fmt.Errorf("pattern %q: module wildcard only as a trailing .*", g)
	default:
		pt.module = mod
	}
	gl, err := compileGlob(name)
	if err != nil {
		return pattern{}, fmt.Errorf("pattern %q: %w", g, err)
	}
	pt.name = gl
	return pt, nil
}

func (pt *pattern) match(module, name string) bool {
	switch {
	case pt.module == "":
	case pt.prefix:
		if !strings.HasPrefix(module, pt.module) {
			return false
		}
	case module != pt.module:
		return false
	}
	return pt.name.match(name)
}

func (r *Rule) matches(module, name string) bool {
	for i := range r.pats {
		if r.pats[i].match(module, name) {
			return true
		}
	}
	return false
}

// Decision is the classification of one import.
type Decision struct {
	// Action is Allow, Deny, or "" for unknown.
	Action Action
	// Rule is the matching rule (nil for unknown).
	Rule *Rule
	// Module and Name are the normalised import.
	Module, Name string
	// Via is the re-rooted reference that a deny rule matched, when it
	// differs from Module:Name ("os:system" reached through "pathlib").
	Via string
	// Traversal is set when a dotted name walks through a dunder
	// attribute such as __globals__ or __subclasses__.
	Traversal string
}

// Normalize maps pickler aliases to the module users know, including
// aliased parents ("_io.x" stays "_io.x" unless "_io" is an alias: only the
// first component is mapped, as the unpickler's fix_imports does).
func (p *PicklePolicy) Normalize(module, name string) (string, string) {
	if m, ok := p.Aliases[module]; ok {
		module = m
	} else if first, rest, ok := strings.Cut(module, "."); ok {
		if m, ok := p.Aliases[first]; ok {
			module = m + "." + rest
		}
	}
	if to, ok := p.NameAliases[module+":"+name]; ok {
		module, name, _ = strings.Cut(to, ":")
	}
	return module, name
}

// maxNameParts bounds the dotted names Classify re-roots.
const maxNameParts = 32

// Classify decides an import. Allow rules must match the import exactly;
// deny rules are also tried against every re-rooting of a dotted name, so
// ("pathlib", "os.system") is denied as os:system. The module string itself
// is never re-rooted: "myproj.code" is not the stdlib module "code".
func (p *PicklePolicy) Classify(module, name string) Decision {
	module, name = p.Normalize(module, name)
	d := Decision{Module: module, Name: name}
	if r := p.allow(module, name); r != nil {
		d.Action, d.Rule = Allow, r
		return d
	}
	if r := p.libraries().allow(module, name); r != nil {
		d.Action, d.Rule = Allow, r
		return d
	}
	// Try the import as written first, then every split of the full
	// dotted path into (module, attribute path).
	if r := p.deny(module, name); r != nil {
		d.Action, d.Rule = Deny, r
		return d
	}
	// The module string is imported as written; a dotted name then walks
	// attributes from it. Any attribute may itself be a module (pathlib.os),
	// so every split of the name is a possible new root, and the module
	// extended by a prefix of the name is one too (torch + hub.load).
	np := strings.Split(name, ".")
	if len(np) > maxNameParts {
		// Real attribute paths are a few names deep; a long one is an
		// evasion attempt, and re-rooting it would cost quadratic time.
		d.Traversal = fmt.Sprintf("an attribute path of %d names", len(np))
		return d
	}
	for k := 1; k < len(np); k++ {
		m, n := p.Normalize(module+"."+strings.Join(np[:k], "."), strings.Join(np[k:], "."))
		if r := p.deny(m, n); r != nil {
			d.Action, d.Rule, d.Via = Deny, r, m+"."+n
			return d
		}
	}
	for s := 0; s < len(np)-1; s++ {
		for k := s + 1; k < len(np); k++ {
			m, n := p.Normalize(strings.Join(np[s:k], "."), strings.Join(np[k:], "."))
			if r := p.deny(m, n); r != nil {
				d.Action, d.Rule, d.Via = Deny, r, m+"."+n
				return d
			}
		}
	}
	if strings.Contains(name, ".") {
		for _, c := range strings.Split(name, ".") {
			if len(c) > 4 && strings.HasPrefix(c, "__") && strings.HasSuffix(c, "__") {
				d.Traversal = c
				return d
			}
		}
	}
	return d
}

func (p *PicklePolicy) allow(module, name string) *Rule {
	if r := p.exactAllow[module+":"+name]; r != nil {
		return r
	}
	for _, r := range p.Rules {
		if r.Action == Allow && r.matches(module, name) {
			return r
		}
	}
	return nil
}

func (p *PicklePolicy) deny(module, name string) *Rule {
	for _, r := range p.Rules {
		if r.Action == Deny && r.matches(module, name) {
			return r
		}
	}
	return nil
}

// ExtensionHints is the compiled extensions.yaml.
type ExtensionHints struct {
	Invalid     []string `yaml:"invalid"`
	Unsupported []string `yaml:"unsupported"`
}

var (
	extOnce  sync.Once
	extHints ExtensionHints
)

// Extensions returns the embedded extension hints.
func Extensions() *ExtensionHints {
	extOnce.Do(func() {
		if err := yaml.Unmarshal(extensionsYAML, &extHints); err != nil {
			panic("rules: embedded extensions.yaml: " + err.Error())
		}
		sort.Strings(extHints.Invalid)
		sort.Strings(extHints.Unsupported)
	})
	return &extHints
}

// Hint returns the verdict to give unrecognised content with this file
// extension (lower-cased, with the dot), and false when there is none.
func (h *ExtensionHints) Hint(ext string) (report.Verdict, bool) {
	ext = strings.ToLower(ext)
	if i := sort.SearchStrings(h.Invalid, ext); i < len(h.Invalid) && h.Invalid[i] == ext {
		return report.Invalid, true
	}
	if i := sort.SearchStrings(h.Unsupported, ext); i < len(h.Unsupported) && h.Unsupported[i] == ext {
		return report.Unsupported, true
	}
	return report.Clean, false
}
