package jinja

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/aigis-dev/aigis/analyzer/internal/pystr"
)

var rawEnd = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{%[-+]?\s*endraw\s*[-+]?%\}`) })

type parseError struct {
	off int
	msg string
}

type block struct {
	code string
	off  int
	tag  bool // {% %} rather than {{ }}
}

// split finds the code blocks of a template. Comments are dropped and
// {% raw %} sections are literal text, as Jinja treats them.
func split(src string) ([]block, *parseError) {
	var out []block
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
		e := findEnd(src, body, end)
		if e < 0 {
			return out, &parseError{start, fmt.Sprintf("block opened with {%c at offset %d is never closed", open, start)}
		}
		code := strings.Trim(src[body:e], "-+")
		i = e + 2
		if open == '#' {
			continue
		}
		out = append(out, block{code: code, off: body, tag: open == '%'})
		if open == '%' && strings.TrimSpace(code) == "raw" {
			k := rawEnd().FindStringIndex(src[i:])
			if k == nil {
				return out, &parseError{start, "{% raw %} is never closed"}
			}
			i += k[1]
		}
	}
	return out, nil
}

// findEnd finds the block terminator, skipping string literals (a "}}"
// inside a string does not end an expression).
func findEnd(src string, i int, end string) int {
	code := end != "#}"
	for i+1 < len(src) {
		c := src[i]
		if code && (c == '\'' || c == '"') {
			j := skipString(src, i)
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

func skipString(src string, i int) int {
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

// lex tokenises one block's code; off is its offset in the template.
func lex(code string, off int) ([]token, *parseError) {
	var toks []token
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
			toks = append(toks, token{tName, code[i:j], off + i})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(code) && (code[j] >= '0' && code[j] <= '9' || code[j] == '_' || code[j] == '.' || code[j] == 'x' || code[j] == 'e') {
				j++
			}
			toks = append(toks, token{tInt, strings.ReplaceAll(code[i:j], "_", ""), off + i})
			i = j
		case c == '\'' || c == '"':
			j := skipString(code, i)
			if j < 0 {
				return toks, &parseError{off + i, fmt.Sprintf("string literal at offset %d is never closed", off+i)}
			}
			toks = append(toks, token{tString, pystr.Unescape(code[i+1:j-1], false), off + i})
			i = j
		default:
			n := 1
			if i+1 < len(code) && strings.Contains("== != <= >= // ** ", code[i:i+2]+" ") {
				n = 2
			}
			toks = append(toks, token{tOp, code[i : i+n], off + i})
			i += n
		}
	}
	return toks, nil
}
