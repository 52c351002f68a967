// Package pyreq parses Python requirement lines: PEP 508 specifiers as
// written in pyproject.toml, requirements files and the pip section of a
// conda environment, and pip's option lines (--extra-index-url, -r, ...).
//
// It only reads text. It never resolves a requirement, never contacts an
// index and never evaluates an environment marker; lines are bounded and a
// malformed line is an error, never a panic.
package pyreq

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// MaxLine bounds one logical line (after joining continuations).
const MaxLine = 64 << 10

// Requirement is one PEP 508 requirement.
type Requirement struct {
	Name      string
	Extras    []string
	Specifier string // e.g. ">=1.0,<2", "" for any version
	URL       string // "name @ url" direct reference
	Marker    string // text after ';', not evaluated
}

var (
	reName   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)`) })
	reClause = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\s*(===|==|!=|~=|<=|>=|<|>)\s*([A-Za-z0-9_.*+!-]+)\s*$`)
	})
)

// Parse parses one requirement (comments already removed or not: a " #"
// comment is dropped here too).
func Parse(line string) (Requirement, error) {
	var r Requirement
	if len(line) > MaxLine {
		return r, fmt.Errorf("requirement is %d bytes, over the %d byte limit", len(line), MaxLine)
	}
	s := StripComment(line)
	s = strings.TrimSpace(s)
	if s == "" {
		return r, errors.New("empty requirement")
	}
	if strings.HasPrefix(s, "-") {
		return r, fmt.Errorf("%q is an option, not a requirement", s)
	}
	m := reName().FindString(s)
	if m == "" {
		return r, fmt.Errorf("%q does not start with a package name", s)
	}
	r.Name = m
	rest := strings.TrimSpace(s[len(m):])
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return r, fmt.Errorf("%q: unclosed extras", s)
		}
		for e := range strings.SplitSeq(rest[1:end], ",") {
			if e = strings.TrimSpace(e); e != "" {
				r.Extras = append(r.Extras, e)
			}
		}
		rest = strings.TrimSpace(rest[end+1:])
	}
	if strings.HasPrefix(rest, "@") {
		url, marker, _ := strings.Cut(rest[1:], ";")
		r.URL = strings.TrimSpace(url)
		r.Marker = strings.TrimSpace(marker)
		if r.URL == "" {
			return r, fmt.Errorf("%q: empty direct reference", s)
		}
		return r, nil
	}
	spec, marker, _ := strings.Cut(rest, ";")
	r.Marker = strings.TrimSpace(marker)
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "(") && strings.HasSuffix(spec, ")") {
		spec = strings.TrimSpace(spec[1 : len(spec)-1])
	}
	if spec != "" {
		for c := range strings.SplitSeq(spec, ",") {
			if !reClause().MatchString(c) {
				return r, fmt.Errorf("%q: bad version clause %q", s, strings.TrimSpace(c))
			}
		}
	}
	r.Specifier = spec
	return r, nil
}

// Pinned returns the single version the requirement allows: an "==X"
// clause without a wildcard, or "===X". Anything else ("~=", ">=", "==1.*",
// no specifier, a URL) is not locked: any of several versions may be
// installed.
func (r Requirement) Pinned() (string, bool) {
	if r.URL != "" || r.Specifier == "" {
		return "", false
	}
	for c := range strings.SplitSeq(r.Specifier, ",") {
		m := reClause().FindStringSubmatch(c)
		if m == nil {
			continue
		}
		if (m[1] == "==" || m[1] == "===") && !strings.Contains(m[2], "*") {
			return m[2], true
		}
	}
	return "", false
}

// String renders the requirement compactly ("numpy[x]>=1.2").
func (r Requirement) String() string {
	s := r.Name
	if len(r.Extras) > 0 {
		s += "[" + strings.Join(r.Extras, ",") + "]"
	}
	if r.URL != "" {
		return s + " @ " + r.URL
	}
	return s + strings.ReplaceAll(r.Specifier, " ", "")
}

// StripComment drops a "#" comment that starts the line or follows
// whitespace (pip's rule: "pkg#egg" in a URL is not a comment).
func StripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

// Option is a pip option line.
type Option struct {
	Name  string // canonical long name: "--extra-index-url", "--index-url", "--requirement", ...
	Value string
}

var shortOptions = map[string]string{
	"-i": "--index-url",
	"-r": "--requirement",
	"-c": "--constraint",
	"-f": "--find-links",
	"-e": "--editable",
}

// ParseOption parses a requirements-file option line ("--extra-index-url
// URL", "--extra-index-url=URL", "-i URL", "-rfile.txt").
func ParseOption(line string) (Option, bool) {
	s := strings.TrimSpace(StripComment(line))
	if !strings.HasPrefix(s, "-") || len(s) > MaxLine {
		return Option{}, false
	}
	name, val := s, ""
	if i := strings.IndexAny(s, " \t="); i >= 0 {
		name, val = s[:i], strings.TrimSpace(strings.TrimLeft(s[i:], " \t="))
	}
	if long, ok := shortOptions[name]; ok {
		name = long
	} else if len(name) > 2 && !strings.HasPrefix(name, "--") {
		// "-rreqs.txt": a short option glued to its value.
		if long, ok := shortOptions[name[:2]]; ok {
			name, val = long, name[2:]
		}
	}
	return Option{Name: name, Value: val}, true
}

// Lines splits requirements-file text into logical lines: backslash
// continuations joined, each with the 1-based number of its first physical
// line. It stops with an error past maxLines or at a line over MaxLine.
func Lines(text string, maxLines int) ([]Line, error) {
	var out []Line
	var cur strings.Builder
	start := 0
	n := 0
	for raw := range strings.SplitSeq(text, "\n") {
		n++
		if n > maxLines {
			return out, fmt.Errorf("more than %d lines", maxLines)
		}
		raw = strings.TrimRight(raw, "\r")
		if cur.Len() == 0 {
			start = n
		}
		if cur.Len()+len(raw) > MaxLine {
			return out, fmt.Errorf("line %d: over the %d byte limit", start, MaxLine)
		}
		if strings.HasSuffix(raw, `\`) && !strings.Contains(StripComment(raw), "#") {
			cur.WriteString(raw[:len(raw)-1])
			continue
		}
		cur.WriteString(raw)
		out = append(out, Line{N: start, Text: cur.String()})
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, Line{N: start, Text: cur.String()})
	}
	return out, nil
}

// Line is one logical line of a requirements file.
type Line struct {
	N    int
	Text string
}
