// Package jinja statically analyses Jinja2 templates (chat templates of
// GGUF files and tokenizer configs) for sandbox-escape constructs.
//
// It tokenises the template and inspects names, attributes, filters and
// string literals; it folds string pieces together to see names that are
// built at render time. It never renders, compiles or evaluates a
// template. The rule data (names, reasons, verdicts) is rules/formats/
// jinja.yaml.
package jinja

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aigis-dev/aigis/analyzer/internal/pystr"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// MaxSize is the largest template analysed completely (real chat
// templates are tens of KB; tokens cost about 32 bytes each).
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

type kind int

const (
	tName kind = iota
	tString
	tInt
	tOp
)

type token struct {
	k   kind
	s   string // name, decoded string, operator, number text
	off int
}

// Analyze returns the issues found in src, at most one per rule and
// subject.
func Analyze(src string) []Issue {
	a := &analysis{set: rules.Format("jinja"), seen: map[string]bool{}}
	if len(src) > MaxSize {
		a.add(rules.JinjaTooLarge, 0, fmt.Sprintf("template of %d bytes exceeds the %d-byte budget", len(src), MaxSize))
		src = src[:MaxSize]
	}
	blocks, err := split(src)
	if err != nil {
		a.add(rules.JinjaUnparsable, err.off, err.msg)
	}
	var all []string // every decoded literal, in order
	for _, b := range blocks {
		toks, err := lex(b.code, b.off)
		if err != nil {
			a.add(rules.JinjaUnparsable, err.off, err.msg)
		}
		if b.tag && len(toks) > 0 && toks[0].k == tName && a.set.List("loader_tags").Has(toks[0].s) {
			a.add(rules.JinjaTemplateLoading, toks[0].off, fmt.Sprintf("{%% %s %%} loads another template", toks[0].s))
		}
		a.block(toks)
		all = append(all, a.folded...)
	}
	a.fold(all, 0, "the template's string literals")
	return a.issues
}

type analysis struct {
	set    *rules.Set
	issues []Issue
	seen   map[string]bool
	folded []string // the last block's decoded literals
}

func (a *analysis) add(rule rules.ID, off int, msg string) {
	key := string(rule) + "\x00" + msg
	if a.seen[key] {
		return
	}
	a.seen[key] = true
	a.issues = append(a.issues, Issue{Rule: rule, Off: off, Msg: msg})
}

// dunder matches double-underscore names and name-mangled privates.
var dunder = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`__[A-Za-z0-9_]*__|\b_[A-Za-z][A-Za-z0-9]*__[A-Za-z]`)
})

func isDunder(s string) bool { return dunder().MatchString(s) }

// block inspects one {{ }} or {% %} block's tokens.
func (a *analysis) block(toks []token) {
	var lits []string
	dangerous := a.set.List("dangerous_attributes")
	for i, t := range toks {
		prev := ""
		if i > 0 && toks[i-1].k == tOp {
			prev = toks[i-1].s
		}
		next := func(k int) *token {
			if i+k < len(toks) {
				return &toks[i+k]
			}
			return nil
		}
		switch t.k {
		case tName:
			if isDunder(t.s) {
				a.add(rules.JinjaDunderAccess, t.off, fmt.Sprintf("the template names %s", t.s))
				continue
			}
			switch prev {
			case ".":
				if dangerous.Has(t.s) {
					a.add(rules.JinjaDangerousAttribute, t.off, fmt.Sprintf("the template reads attribute .%s", t.s))
				}
				continue
			case "|":
				if t.s == "attr" {
					a.attrFilter(toks, i)
				}
				continue
			}
			if n := next(1); n != nil && n.k == tOp && n.s == "=" {
				continue // keyword argument or assignment target
			}
			if a.set.List("sandbox_globals").Has(t.s) {
				a.add(rules.JinjaSandboxGlobal, t.off, fmt.Sprintf("the template uses the global %q", t.s))
			}
		case tString:
			s := t.s
			if n, m := next(1), next(2); n != nil && m != nil && n.k == tOp && n.s == "*" && m.k == tInt {
				if k, err := strconv.Atoi(m.s); err == nil && k > 0 && k <= 64 {
					s = strings.Repeat(s, k)
				}
			}
			lits = append(lits, s)
			if isDunder(s) {
				a.add(rules.JinjaDunderAccess, t.off, fmt.Sprintf("a string literal spells %q", clip(s)))
				continue
			}
			// x['popen'] is x.popen.
			if prev == "[" && dangerous.Has(s) && s != "system" {
				a.add(rules.JinjaDangerousAttribute, t.off, fmt.Sprintf("the template reads item %q", s))
			}
		case tInt:
			// format(95, 95, ...) builds text from character codes.
			if k, err := strconv.Atoi(t.s); err == nil && k >= 32 && k < 127 && inFormatCall(toks, i) {
				lits = append(lits, string(rune(k)))
			}
		}
	}
	a.folded = lits
	if len(toks) > 0 {
		a.fold(lits, toks[0].off, "string pieces of one block")
	}
}

// inFormatCall reports whether token i is an argument of a format(...)
// call or filter.
func inFormatCall(toks []token, i int) bool {
	depth := 0
	for j := i - 1; j >= 0 && j > i-300; j-- {
		if toks[j].k != tOp {
			continue
		}
		switch toks[j].s {
		case ")":
			depth++
		case "(":
			if depth == 0 {
				return j > 0 && toks[j-1].k == tName && toks[j-1].s == "format"
			}
			depth--
		}
	}
	return false
}

// attrFilter judges |attr(...) at name token i.
func (a *analysis) attrFilter(toks []token, i int) {
	t := toks[i]
	if i+3 < len(toks) && toks[i+1].s == "(" && toks[i+2].k == tString && toks[i+3].s == ")" {
		name := toks[i+2].s
		switch {
		case isDunder(name):
			a.add(rules.JinjaDunderAccess, t.off, fmt.Sprintf("|attr(%q) reads a dunder attribute", clip(name)))
		case a.set.List("dangerous_attributes").Has(name):
			a.add(rules.JinjaDangerousAttribute, t.off, fmt.Sprintf("|attr(%q)", name))
		default:
			a.add(rules.JinjaAttrFilter, t.off, fmt.Sprintf("|attr(%q) reads an attribute by name", clip(name)))
		}
		return
	}
	a.add(rules.JinjaComputedAttribute, t.off, "|attr(...) reads an attribute whose name is computed when the template renders")
}

// fold checks text assembled from literals for names being built: a
// name that appears only once the pieces are joined (forwards or
// reversed, any case). A name already whole in one literal is judged
// with that literal.
func (a *analysis) fold(lits []string, off int, what string) {
	if len(lits) < 2 {
		return
	}
	joined := strings.Join(lits, "")
	low := strings.ToLower(joined)
	whole := func(n string) bool {
		for _, l := range lits {
			ll := strings.ToLower(l)
			if strings.Contains(ll, n) || strings.Contains(pystr.Reverse(ll), n) {
				return true
			}
		}
		return false
	}
	for _, text := range []string{joined, pystr.Reverse(joined)} {
		for _, m := range dunder().FindAllString(text, -1) {
			if !whole(strings.ToLower(m)) {
				a.add(rules.JinjaDunderAccess, off, fmt.Sprintf("%s join into %q", what, clip(m)))
				return
			}
		}
	}
	for _, n := range a.set.List("folded_names").Values {
		if (strings.Contains(low, n) || strings.Contains(pystr.Reverse(low), n)) && !whole(n) {
			a.add(rules.JinjaDangerousAttribute, off, fmt.Sprintf("%s join into %q", what, n))
			return
		}
	}
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
