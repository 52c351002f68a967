// Package indexes reads which package indexes a Python project resolves
// from — pip options in requirements files, poetry and uv sources in
// pyproject.toml, and the registries recorded in uv.lock, poetry.lock and
// Pipfile.lock — and reports configurations in which a package name can be
// served by more than one index: the dependency-confusion setup behind the
// torchtriton compromise.
//
// It only reads text; it never contacts an index. Inputs are bounded by
// the caller (and by pyreq's line bounds).
package indexes

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/aigis-dev/aigis/internal/deps/pyreq"
	"github.com/aigis-dev/aigis/internal/jsonerr"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// Signal is one dependency-confusion observation.
type Signal struct {
	Rule     rules.ID
	Severity report.Severity
	Message  string
	Line     int
}

// MaxLines bounds a requirements file.
const MaxLines = 200000

// FromRequirements reports --extra-index-url (and --index-url used with
// it) in a requirements file.
func FromRequirements(text string) ([]Signal, error) {
	lines, err := pyreq.Lines(text, MaxLines)
	if err != nil {
		return nil, err
	}
	var opts []LineOption
	for _, l := range lines {
		if o, ok := pyreq.ParseOption(l.Text); ok {
			opts = append(opts, LineOption{Option: o, Line: l.N})
		}
	}
	return FromPipOptions(opts), nil
}

// LineOption is a pip option with its line.
type LineOption struct {
	pyreq.Option
	Line int
}

// FromPipOptions judges pip options (from a requirements file or a conda
// pip section).
func FromPipOptions(opts []LineOption) []Signal {
	var out []Signal
	for _, o := range opts {
		switch o.Name {
		case "--extra-index-url":
			out = append(out, Signal{
				Rule:     rules.DepsExtraIndex,
				Severity: report.SeverityMedium,
				Line:     o.Line,
				Message: fmt.Sprintf("--extra-index-url %s: pip merges this index with the main one and installs the highest version found on either, so a name published on PyPI can replace a package of this index (dependency confusion)",
					redact(o.Value)),
			})
		case "--find-links":
			out = append(out, Signal{
				Rule:     rules.DepsExtraIndex,
				Severity: report.SeverityLow,
				Line:     o.Line,
				Message:  fmt.Sprintf("--find-links %s: pip also takes distributions from this location, merged with the index", redact(o.Value)),
			})
		}
	}
	return out
}

// pyproject holds the index settings of poetry and uv.
type pyproject struct {
	Tool struct {
		Poetry struct {
			Source []struct {
				Name      string `toml:"name"`
				URL       string `toml:"url"`
				Priority  string `toml:"priority"`
				Secondary bool   `toml:"secondary"`
			} `toml:"source"`
		} `toml:"poetry"`
		UV struct {
			Index []struct {
				Name     string `toml:"name"`
				URL      string `toml:"url"`
				Explicit bool   `toml:"explicit"`
				Default  bool   `toml:"default"`
			} `toml:"index"`
			ExtraIndexURL []string `toml:"extra-index-url"`
			IndexStrategy string   `toml:"index-strategy"`
		} `toml:"uv"`
	} `toml:"tool"`
}

// FromPyproject reports poetry sources searched after PyPI and uv indexes
// merged with an unsafe strategy.
func FromPyproject(text string) ([]Signal, error) {
	var p pyproject
	if _, err := toml.Decode(text, &p); err != nil {
		return nil, fmt.Errorf("pyproject.toml: %w", err)
	}
	var out []Signal
	for _, s := range p.Tool.Poetry.Source {
		prio := strings.ToLower(s.Priority)
		if s.Secondary {
			prio = "secondary"
		}
		if prio == "supplemental" || prio == "secondary" {
			out = append(out, Signal{
				Rule:     rules.DepsExtraIndex,
				Severity: report.SeverityMedium,
				Line:     lineOf(text, s.URL),
				Message:  fmt.Sprintf("poetry source %q (%s, priority %s) is searched only for names the primary index lacks, so anyone who publishes one of its names on PyPI wins (dependency confusion); mark it explicit and pin its packages to it", s.Name, redact(s.URL), prio),
			})
		}
	}
	uv := p.Tool.UV
	unsafe := strings.HasPrefix(uv.IndexStrategy, "unsafe-")
	for _, ix := range uv.Index {
		if ix.Explicit || ix.Default {
			continue
		}
		sev, how := report.SeverityLow, "uv's default first-index strategy takes a name from the first index that has it, so a name missing here falls through to PyPI"
		if unsafe {
			sev, how = report.SeverityHigh, fmt.Sprintf("index-strategy %q merges versions from every index, so a name published on PyPI can replace this index's package", uv.IndexStrategy)
		}
		out = append(out, Signal{Rule: rules.DepsExtraIndex, Severity: sev, Line: lineOf(text, ix.URL),
			Message: fmt.Sprintf("uv index %q (%s) is consulted besides PyPI: %s", ix.Name, redact(ix.URL), how)})
	}
	for _, u := range uv.ExtraIndexURL {
		sev := report.SeverityLow
		if unsafe {
			sev = report.SeverityHigh
		}
		out = append(out, Signal{Rule: rules.DepsExtraIndex, Severity: sev, Line: lineOf(text, u),
			Message: fmt.Sprintf("uv extra-index-url %s is consulted besides PyPI (index-strategy %q)", redact(u), strategyName(uv.IndexStrategy))})
	}
	return out, nil
}

func strategyName(s string) string {
	if s == "" {
		return "first-index"
	}
	return s
}

// FromUVLock reports packages resolved from more than one registry. uv
// writes its lock in a fixed layout, so a line scan finds each
// [[package]]'s name and source without a second full TOML parse (the
// extractor already did one).
func FromUVLock(text string) ([]Signal, error) {
	by := map[string][]string{}
	name := ""
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "[[package]]":
			name = ""
		case strings.HasPrefix(line, "name = "):
			if name == "" {
				name = unquote(strings.TrimPrefix(line, "name = "))
			}
		case strings.HasPrefix(line, "source = {") && name != "":
			if r := inlineValue(line, "registry"); r != "" {
				by[r] = append(by[r], name)
			}
			name = "\x00" // later source keys belong to sub-tables
		}
	}
	return mixed("uv.lock", text, by), nil
}

// FromPoetryLock reports packages resolved from sources besides PyPI
// (poetry writes a [package.source] table for those), by a line scan of
// poetry's fixed layout.
func FromPoetryLock(text string) ([]Signal, error) {
	by := map[string][]string{}
	name, url, legacy, inSource, inPackage := "", "", false, false, false
	finish := func() {
		if !inPackage || name == "" {
			return
		}
		reg := "https://pypi.org/simple"
		if legacy && url != "" {
			reg = url
		}
		by[reg] = append(by[reg], name)
	}
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			if line == "[[package]]" || !strings.HasPrefix(line, "[package") {
				finish()
				name, url, legacy = "", "", false
				inPackage = line == "[[package]]"
			}
			inSource = line == "[package.source]"
			continue
		}
		switch {
		case inPackage && !inSource && name == "" && strings.HasPrefix(line, "name = "):
			name = unquote(strings.TrimPrefix(line, "name = "))
		case inSource && strings.HasPrefix(line, "type = "):
			legacy = unquote(strings.TrimPrefix(line, "type = ")) == "legacy"
		case inSource && strings.HasPrefix(line, "url = "):
			url = unquote(strings.TrimPrefix(line, "url = "))
		}
	}
	finish()
	return mixed("poetry.lock", text, by), nil
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// inlineValue reads key = "value" from a TOML inline table line.
func inlineValue(line, key string) string {
	i := strings.Index(line, key+" = ")
	if i < 0 {
		return ""
	}
	rest := line[i+len(key)+3:]
	if len(rest) < 2 || rest[0] != '"' {
		return ""
	}
	end := strings.IndexByte(rest[1:], '"')
	if end < 0 {
		return ""
	}
	return rest[1 : end+1]
}

// FromPipfileLock reports a lock that names more than one source.
func FromPipfileLock(text string) ([]Signal, error) {
	var l struct {
		Meta struct {
			Sources []struct {
				Name string `json:"name"`
				URL  string `json:"url"`
			} `json:"sources"`
		} `json:"_meta"`
	}
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		return nil, fmt.Errorf("Pipfile.lock: %w", jsonerr.Clean(err))
	}
	if len(l.Meta.Sources) < 2 {
		return nil, nil
	}
	var urls []string
	for _, s := range l.Meta.Sources {
		urls = append(urls, redact(s.URL))
	}
	return []Signal{{Rule: rules.DepsMixedRegistries, Severity: report.SeverityMedium, Line: lineOf(text, l.Meta.Sources[1].URL),
		Message: fmt.Sprintf("Pipfile.lock resolves from %d sources (%s): pipenv searches them all for any package without an explicit index, so a public name can shadow a private one", len(urls), strings.Join(urls, ", "))}}, nil
}

// mixed reports a lock whose packages come from several registries.
func mixed(file, text string, by map[string][]string) []Signal {
	if len(by) < 2 {
		return nil
	}
	var regs []string
	for r := range by {
		regs = append(regs, r)
	}
	sort.Strings(regs)
	var parts []string
	var first string
	for _, r := range regs {
		if isPyPI(r) {
			continue
		}
		names := by[r]
		sort.Strings(names)
		if first == "" {
			first = r
		}
		if len(names) > 5 {
			names = append(names[:5], fmt.Sprintf("… %d more", len(by[r])-5))
		}
		parts = append(parts, fmt.Sprintf("%s: %s", redact(r), strings.Join(names, ", ")))
	}
	if len(parts) == 0 {
		return nil
	}
	return []Signal{{Rule: rules.DepsMixedRegistries, Severity: report.SeverityMedium, Line: lineOf(text, first),
		Message: fmt.Sprintf("%s resolves packages from %d registries (besides PyPI — %s): check that each private name is bound to its index, or a PyPI upload of the same name replaces it on the next lock", file, len(regs), strings.Join(parts, "; "))}}
}

func isPyPI(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Host == "pypi.org" || p.Host == "pypi.python.org" || p.Host == "files.pythonhosted.org")
}

// redact drops credentials from an index URL before it is reported.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	p.User = url.User("REDACTED")
	return p.String()
}

// lineOf returns the 1-based line of the first occurrence of s (0 if
// absent or empty).
func lineOf(text, s string) int {
	if s == "" {
		return 0
	}
	i := strings.Index(text, s)
	if i < 0 {
		return 0
	}
	return strings.Count(text[:i], "\n") + 1
}
