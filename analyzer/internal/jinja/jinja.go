// Package jinja statically analyses Jinja2 templates (chat templates of
// GGUF files and tokenizer configs) for sandbox escapes.
//
// It parses the template with a port of jinja2's lexer and parser and
// runs it abstractly: every expression gets a value that says whether it
// is a known constant, plain request data (messages, tools, special
// tokens) or an object that can reach Python internals (the globals,
// loop, macros, anything of unknown type). Every name looked up on a
// value is judged: dunder and name-mangled names, names that only lead
// out of the sandbox, and names known only at render time on objects
// that reach internals are findings. It never renders, compiles or
// evaluates a template. The rule data is internal/rules/sets/jinja.yaml.
package jinja

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// MaxSize is the largest template analysed completely (real chat
// templates are tens of KB).
const MaxSize = 1 << 20

// Issue is one finding about a template, at byte offset Off.
type Issue struct {
	Rule rules.ID
	Off  int
	Msg  string
}

// Finding converts an issue into a report finding at loc.
func (i Issue) Finding(loc string) report.Finding {
	return rules.New(i.Rule, loc, i.Msg)
}

// Analyze returns the issues found in src, at most one per rule and
// message.
func Analyze(src string) []Issue {
	var pre []Issue
	if len(src) > MaxSize {
		pre = append(pre, Issue{Rule: rules.JinjaTooLarge, Msg: fmt.Sprintf("template of %d bytes exceeds the %d-byte budget", len(src), MaxSize)})
		cut := MaxSize
		for cut > 0 && !utf8.RuneStart(src[cut]) {
			cut--
		}
		src = src[:cut]
	}
	issues, err := analyze(src)
	var se *syntaxError
	var be *budgetError
	switch {
	case errors.As(err, &se):
		// jinja2 refuses the template; other engines may not.
		issues = append([]Issue{{Rule: rules.JinjaUnparsable, Off: se.off, Msg: "jinja2 cannot parse the template: " + se.msg}}, scanTokens(src)...)
	case errors.As(err, &be):
		issues = append([]Issue{{Rule: rules.JinjaTooComplex, Msg: "the template exceeds the analysis budget: " + be.msg}}, scanTokens(src)...)
	}
	return append(pre, dedupe(issues)...)
}

func analyze(src string) (issues []Issue, err error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	body, macros, err := parse(toks)
	if err != nil {
		return nil, err
	}
	in := newInterp(rules.Format("jinja"), macros)
	defer func() {
		if r := recover(); r != nil {
			be, ok := r.(*budgetError)
			if !ok {
				panic(r)
			}
			issues, err = nil, be
		}
	}()
	in.run(body)
	return in.issues, nil
}

func dedupe(issues []Issue) []Issue {
	seen := map[string]bool{}
	var out []Issue
	for _, i := range issues {
		k := string(i.Rule) + "\x00" + i.Msg
		if !seen[k] {
			seen[k] = true
			out = append(out, i)
		}
	}
	return out
}

func clip(s string) string {
	if len(s) > 60 {
		cut := 60
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "..."
	}
	return s
}
