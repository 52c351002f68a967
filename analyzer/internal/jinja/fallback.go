package jinja

// The fallback scanner reads a template jinja2 cannot parse token by
// token, the way aigis read every template before it had a parser: such
// a template is reported jinja-unparsable whatever else is found, but a
// template that other engines (older Jinja versions, ports) may still
// render is not let through when its tokens spell a sandbox escape.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/aigis-dev/aigis/analyzer/internal/pystr"
	"github.com/aigis-dev/aigis/internal/rules"
)

// scanTokens runs the fallback scanner over src.
func scanTokens(src string) []Issue {
	a := &fallback{set: rules.Format("jinja"), seen: map[string]bool{}}
	blocks, _ := fbSplit(src)
	var all []string
	for _, b := range blocks {
		toks, _ := fbLex(b.code, b.off)
		if b.tag && len(toks) > 0 && toks[0].k == fbName && a.set.List("loader_tags").Has(toks[0].s) {
			a.add(rules.JinjaTemplateLoading, toks[0].off, fmt.Sprintf("{%% %s %%} loads another template", toks[0].s))
		}
		a.tokens(toks)
		all = append(all, a.folded...)
	}
	a.fold(all, 0, "the template's string literals")
	return a.issues
}

type fbKind int

const (
	fbName fbKind = iota
	fbString
	fbInt
	fbOp
)

type fbToken struct {
	k   fbKind
	s   string // name, decoded string, operator, number text
	off int
}

type fallback struct {
	set    *rules.Set
	issues []Issue
	seen   map[string]bool
	folded []string // the last fbBlock's decoded literals
}

func (a *fallback) add(rule rules.ID, off int, msg string) {
	key := string(rule) + "\x00" + msg
	if a.seen[key] {
		return
	}
	a.seen[key] = true
	a.issues = append(a.issues, Issue{Rule: rule, Off: off, Msg: msg})
}

// dunder matches double-underscore names and name-mangled privates.
var fbDunderRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`__[A-Za-z0-9_]*__|\b_[A-Za-z][A-Za-z0-9]*__[A-Za-z]`)
})

func fbDunder(s string) bool { return fbDunderRe().MatchString(s) }

// fbBlock inspects one {{ }} or {% %} fbBlock's tokens.
func (a *fallback) tokens(toks []fbToken) {
	var lits []string
	dangerous := a.set.List("escape_attributes")
	for i, t := range toks {
		prev := ""
		if i > 0 && toks[i-1].k == fbOp {
			prev = toks[i-1].s
		}
		next := func(k int) *fbToken {
			if i+k < len(toks) {
				return &toks[i+k]
			}
			return nil
		}
		switch t.k {
		case fbName:
			if fbDunder(t.s) {
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
			if n := next(1); n != nil && n.k == fbOp && n.s == "=" {
				continue // keyword argument or assignment target
			}
			if a.set.List("sandbox_globals").Has(t.s) {
				a.add(rules.JinjaSandboxGlobal, t.off, fmt.Sprintf("the template uses the global %q", t.s))
			}
		case fbString:
			s := t.s
			if n, m := next(1), next(2); n != nil && m != nil && n.k == fbOp && n.s == "*" && m.k == fbInt {
				if k, err := strconv.Atoi(m.s); err == nil && k > 0 && k <= 64 {
					s = strings.Repeat(s, k)
				}
			}
			lits = append(lits, s)
			if fbDunder(s) {
				a.add(rules.JinjaDunderAccess, t.off, fmt.Sprintf("a string literal spells %q", clip(s)))
				continue
			}
			// x['popen'] is x.popen.
			if prev == "[" && dangerous.Has(s) && s != "system" {
				a.add(rules.JinjaDangerousAttribute, t.off, fmt.Sprintf("the template reads item %q", s))
			}
		case fbInt:
			// format(95, 95, ...) builds text from character codes.
			if k, err := strconv.Atoi(t.s); err == nil && k >= 32 && k < 127 && inFormatCall(toks, i) {
				lits = append(lits, string(rune(k)))
			}
		}
	}
	a.folded = lits
	if len(toks) > 0 {
		a.fold(lits, toks[0].off, "string pieces of one fbBlock")
	}
}

// inFormatCall reports whether fbToken i is an argument of a format(...)
// call or filter.
func inFormatCall(toks []fbToken, i int) bool {
	depth := 0
	for j := i - 1; j >= 0 && j > i-300; j-- {
		if toks[j].k != fbOp {
			continue
		}
		switch toks[j].s {
		case ")":
			depth++
		case "(":
			if depth == 0 {
				return j > 0 && toks[j-1].k == fbName && toks[j-1].s == "format"
			}
			depth--
		}
	}
	return false
}

// attrFilter judges |attr(...) at name fbToken i.
func (a *fallback) attrFilter(toks []fbToken, i int) {
	t := toks[i]
	if i+3 < len(toks) && toks[i+1].s == "(" && toks[i+2].k == fbString && toks[i+3].s == ")" {
		name := toks[i+2].s
		switch {
		case fbDunder(name):
			a.add(rules.JinjaDunderAccess, t.off, fmt.Sprintf("|attr(%q) reads a dunder attribute", clip(name)))
		case a.set.List("escape_attributes").Has(name):
			a.add(rules.JinjaDangerousAttribute, t.off, fmt.Sprintf("|attr(%q)", name))
		}
		return
	}
	a.add(rules.JinjaComputedAttribute, t.off, "|attr(...) reads an attribute whose name is computed when the template renders")
}

// fold checks text assembled from literals for names being built: a
// name that appears only once the pieces are joined (forwards or
// reversed, any case). A name already whole in one literal is judged
// with that literal.
func (a *fallback) fold(lits []string, off int, what string) {
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
		for _, m := range fbDunderRe().FindAllString(text, -1) {
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

var fbRawEnd = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{%[-+]?\s*endraw\s*[-+]?%\}`) })

type fbError struct {
	off int
	msg string
}

type fbBlock struct {
	code string
	off  int
	tag  bool // {% %} rather than {{ }}
}

// split finds the code blocks of a template. Comments are dropped and
// {% raw %} sections are literal text, as Jinja treats them.
func fbSplit(src string) ([]fbBlock, *fbError) {
	var out []fbBlock
	i := 0
	for i < len(src) {
		j := strings.IndexByte(src[i:], '{')
		if j < 0 || i+j+1 >= len(src) {
			return out, nil
		}
		start := i + j
		open := src[start+1]
		var end string
		switch open {
		case '{':
			end = "}}"
		case '%':
			end = "%}"
		case '#':
			end = "#}"
		default:
			i = start + 1
			continue
		}
		body := start + 2
		e := fbFindEnd(src, body, end)
		if e < 0 {
			return out, &fbError{start, fmt.Sprintf("fbBlock opened with {%c at offset %d is never closed", open, start)}
		}
		code := strings.Trim(src[body:e], "-+")
		i = e + 2
		if open == '#' {
			continue
		}
		out = append(out, fbBlock{code: code, off: body, tag: open == '%'})
		if open == '%' && strings.TrimSpace(code) == "raw" {
			k := fbRawEnd().FindStringIndex(src[i:])
			if k == nil {
				return out, &fbError{start, "{% raw %} is never closed"}
			}
			i += k[1]
		}
	}
	return out, nil
}

// findEnd finds the fbBlock terminator, skipping string literals (a "}}"
// inside a string does not end an expression).
func fbFindEnd(src string, i int, end string) int {
	code := end != "#}"
	for i+1 < len(src) {
		c := src[i]
		if code && (c == '\'' || c == '"') {
			j := fbSkipString(src, i)
			if j < 0 {
				return -1
			}
			i = j
			continue
		}
		if c == end[0] && src[i+1] == end[1] {
			return i
		}
		i++
	}
	return -1
}

func fbSkipString(src string, i int) int {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case q:
			return j + 1
		}
	}
	return -1
}

// lex tokenises one fbBlock's code; off is its offset in the template.
func fbLex(code string, off int) ([]fbToken, *fbError) {
	var toks []fbToken
	for i := 0; i < len(code); {
		c := code[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(code) && (code[j] == '_' || code[j] >= 'a' && code[j] <= 'z' || code[j] >= 'A' && code[j] <= 'Z' || code[j] >= '0' && code[j] <= '9') {
				j++
			}
			toks = append(toks, fbToken{fbName, code[i:j], off + i})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(code) && (code[j] >= '0' && code[j] <= '9' || code[j] == '_' || code[j] == '.' || code[j] == 'x' || code[j] == 'e') {
				j++
			}
			toks = append(toks, fbToken{fbInt, strings.ReplaceAll(code[i:j], "_", ""), off + i})
			i = j
		case c == '\'' || c == '"':
			j := fbSkipString(code, i)
			if j < 0 {
				return toks, &fbError{off + i, fmt.Sprintf("string literal at offset %d is never closed", off+i)}
			}
			toks = append(toks, fbToken{fbString, pystr.Unescape(code[i+1:j-1], false), off + i})
			i = j
		default:
			n := 1
			if i+1 < len(code) && strings.Contains("== != <= >= // ** ", code[i:i+2]+" ") {
				n = 2
			}
			toks = append(toks, fbToken{fbOp, code[i : i+n], off + i})
			i += n
		}
	}
	return toks, nil
}
