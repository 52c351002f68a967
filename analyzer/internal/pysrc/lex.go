package pysrc

import (
	"fmt"
	"strings"

	"github.com/aigis-dev/aigis/analyzer/internal/pystr"
)

type kind int

const (
	tName kind = iota
	tString
	tNumber
	tOp
)

type token struct {
	k    kind
	s    string // name, decoded string value, number or operator
	line int
	// bytes is set for b"" literals.
	bytes bool
}

// logical is one logical line: its tokens and indentation.
type logical struct {
	indent int
	toks   []token
}

type lexError struct {
	line int
	msg  string
}

// lex splits Python source into logical lines (brackets and backslashes
// join physical lines), dropping comments.
func lex(src string) ([]logical, *lexError) {
	var out []logical
	var cur logical
	depth := 0
	line := 1
	atStart := true
	flush := func() {
		if len(cur.toks) > 0 {
			out = append(out, cur)
		}
		cur = logical{}
		atStart = true
	}
	for i := 0; i < len(src); {
		c := src[i]
		if atStart && depth == 0 {
			ind := 0
			j := i
			for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\f') {
				if src[j] == '\t' {
					ind = (ind/8 + 1) * 8
				} else {
					ind++
				}
				j++
			}
			cur.indent = ind
			i = j
			atStart = false
			continue
		}
		switch {
		case c == '\n':
			line++
			i++
			if depth == 0 {
				flush()
			}
		case c == '\\' && i+1 < len(src) && src[i+1] == '\n':
			line++
			i += 2
		case c == '\\' && i+2 < len(src) && src[i+1] == '\r' && src[i+2] == '\n':
			line++
			i += 3
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case c == ';' && depth == 0:
			// "a; b" are two statements at the same indentation.
			ind := cur.indent
			flush()
			cur.indent = ind
			atStart = false
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case isStringStart(src, i):
			j, tok, err := lexString(src, i, line)
			if err != nil {
				return out, err
			}
			line += strings.Count(src[i:j], "\n")
			cur.toks = append(cur.toks, tok)
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i + 1
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9' || src[j] >= 0x80) {
				j++
			}
			cur.toks = append(cur.toks, token{k: tName, s: src[i:j], line: line})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i + 1
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] == '_' || src[j] == '.') {
				j++
			}
			cur.toks = append(cur.toks, token{k: tNumber, s: src[i:j], line: line})
			i = j
		default:
			switch c {
			case '(', '[', '{':
				depth++
			case ')', ']', '}':
				if depth > 0 {
					depth--
				}
			}
			n := 1
			if i+1 < len(src) && strings.Contains("** // == != <= >= -> := += -= *= /= |= &=", src[i:i+2]) && src[i+1] != ' ' {
				n = 2
			}
			cur.toks = append(cur.toks, token{k: tOp, s: src[i : i+n], line: line})
			i += n
		}
	}
	if depth > 0 {
		flush()
		return out, &lexError{line, "unclosed bracket at the end of the file"}
	}
	flush()
	return out, nil
}

func isStringStart(src string, i int) bool {
	j := i
	for j < len(src) && j < i+2 && strings.ContainsRune("rRbBuUfF", rune(src[j])) {
		j++
	}
	if j < len(src) && (src[j] == '\'' || src[j] == '"') {
		// A prefix must not be the tail of a longer name.
		return i == 0 || !isIdent(src[i-1])
	}
	return false
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func lexString(src string, i, line int) (int, token, *lexError) {
	j := i
	raw, isBytes := false, false
	for src[j] != '\'' && src[j] != '"' {
		switch src[j] {
		case 'r', 'R':
			raw = true
		case 'b', 'B':
			isBytes = true
		}
		j++
	}
	q := src[j]
	triple := j+2 < len(src) && src[j+1] == q && src[j+2] == q
	start := j + 1
	if triple {
		start = j + 3
	}
	k := start
	for {
		if k >= len(src) {
			return 0, token{}, &lexError{line, "unterminated string"}
		}
		c := src[k]
		if c == '\\' {
			k += 2
			continue
		}
		if !triple && c == '\n' {
			return 0, token{}, &lexError{line, "unterminated string"}
		}
		if c == q && (!triple || k+2 < len(src) && src[k+1] == q && src[k+2] == q) {
			break
		}
		k++
	}
	body := src[start:k]
	end := k + 1
	if triple {
		end = k + 3
	}
	v := body
	if !raw {
		v = pystr.Unescape(body, isBytes)
	}
	return end, token{k: tString, s: v, line: line, bytes: isBytes}, nil
}

func (e *lexError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }
