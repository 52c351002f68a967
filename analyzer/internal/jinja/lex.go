package jinja

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The lexer follows jinja2/lexer.py with the default delimiters ({{ }},
// {% %}, {# #}), line statements and line comments off, and
// keep_trailing_newline off. Template text is recorded twice: as Jinja's
// defaults render it and as servers that set trim_blocks and lstrip_blocks
// (transformers, llama-cpp-python) render it, so that names built from
// template text are seen whichever way it is rendered.

type tokType uint8

const (
	tEOF tokType = iota
	tData
	tVarBegin
	tVarEnd
	tBlockBegin
	tBlockEnd
	tName
	tString
	tInt
	tFloat
	tOp
)

var tokNames = [...]string{"end of template", "template data", "begin of print statement", "end of print statement", "begin of statement block", "end of statement block", "name", "string", "integer", "float", "operator"}

type token struct {
	typ tokType
	off int
	// val: the name, operator, decoded string, number text, or template
	// text as rendered by default.
	val string
	// alt: template text with trim_blocks and lstrip_blocks.
	alt string
	// inexact marks a string whose value is not fully known (a \N{...}
	// escape naming a character outside ASCII).
	inexact bool
}

func (t token) String() string {
	switch t.typ {
	case tName, tOp:
		return t.val
	}
	return tokNames[t.typ]
}

// syntaxError is a template jinja2 refuses to parse.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.off, e.msg) }

// budgetError is a template beyond the analysis budget.
type budgetError struct{ msg string }

func (e *budgetError) Error() string { return e.msg }

// maxTokens bounds the token list (real templates have a few thousand).
const maxTokens = 1 << 18

type lexer struct {
	src  string
	pos  int
	toks []token
	// whether the last match ended a line (jinja's line_starting), by
	// default and with trim_blocks/lstrip_blocks.
	lineStart, lineStartAlt bool
	// trimNL: the next text loses one leading newline under trim_blocks.
	trimNL bool
}

// lex tokenises a whole template.
func lex(src string) ([]token, error) {
	// keep_trailing_newline=False drops one final newline.
	switch {
	case strings.HasSuffix(src, "\r\n"):
		src = src[:len(src)-2]
	case strings.HasSuffix(src, "\n"), strings.HasSuffix(src, "\r"):
		src = src[:len(src)-1]
	}
	l := &lexer{src: src, lineStart: true, lineStartAlt: true, toks: make([]token, 0, len(src)/8+16)}
	err := l.run()
	return l.toks, err
}

func (l *lexer) emit(t token) error {
	if len(l.toks) >= maxTokens {
		return &budgetError{fmt.Sprintf("more than %d tokens", maxTokens)}
	}
	l.toks = append(l.toks, t)
	return nil
}

func (l *lexer) run() error {
	for l.pos < len(l.src) {
		start, kind, sign, end := l.nextTag(l.pos)
		if start < 0 {
			text := l.src[l.pos:]
			if err := l.data(l.pos, text, text); err != nil {
				return err
			}
			return nil
		}
		text := l.src[l.pos:start]
		def, alt := text, text
		if sign == '-' {
			def = rstripSpace(text)
			alt = def
		} else if sign != '+' && kind != tVarBegin {
			alt = lstripLine(text, l.lineStartAlt)
		}
		if err := l.data(l.pos, def, alt); err != nil {
			return err
		}
		l.pos = end
		l.lineStart, l.lineStartAlt = false, false
		var err error
		switch kind {
		case tVarBegin, tBlockBegin:
			if err = l.emit(token{typ: kind, off: start}); err == nil {
				err = l.tag(kind)
			}
		case tComment:
			err = l.comment(start)
		case tRaw:
			l.lineStart = endsLine(l.src[start:end])
			l.lineStartAlt = l.lineStart
			err = l.raw(start)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pseudo token types for the root state.
const (
	tComment tokType = 100 + iota
	tRaw
)

// nextTag finds the next tag start at or after i: its offset, kind, the
// whitespace-control sign, and where the opening ends.
func (l *lexer) nextTag(i int) (int, tokType, byte, int) {
	s := l.src
	for {
		j := strings.IndexByte(s[i:], '{')
		if j < 0 || i+j+1 >= len(s) {
			return -1, 0, 0, 0
		}
		p := i + j
		var kind tokType
		switch s[p+1] {
		case '{':
			kind = tVarBegin
		case '%':
			kind = tBlockBegin
		case '#':
			kind = tComment
		default:
			i = p + 1
			continue
		}
		end := p + 2
		var sign byte
		if end < len(s) && (s[end] == '-' || s[end] == '+') {
			sign = s[end]
			end++
		}
		if kind == tBlockBegin {
			if e, ok := matchRawBegin(s, p); ok {
				return p, tRaw, sign, e
			}
		}
		return p, kind, sign, end
	}
}

// matchRawBegin matches {%(-|+|)\s*raw\s*(-%}\s*|%}) at p.
func matchRawBegin(s string, p int) (int, bool) {
	i := p + 2
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	i = skipSpace(s, i)
	if !strings.HasPrefix(s[i:], "raw") {
		return 0, false
	}
	i = skipSpace(s, i+3)
	switch {
	case strings.HasPrefix(s[i:], "-%}"):
		return skipSpace(s, i+3), true
	case strings.HasPrefix(s[i:], "%}"):
		return i + 2, true
	}
	return 0, false
}

// data emits template text (possibly empty: the token lists of both
// renderings stay aligned).
func (l *lexer) data(off int, def, alt string) error {
	if l.trimNL {
		alt = trimOneNL(alt)
		l.trimNL = false
	}
	if def == "" && alt == "" {
		return nil
	}
	return l.emit(token{typ: tData, off: off, val: normNL(def), alt: normNL(alt)})
}

func trimOneNL(s string) string {
	switch {
	case strings.HasPrefix(s, "\r\n"):
		return s[2:]
	case strings.HasPrefix(s, "\n"), strings.HasPrefix(s, "\r"):
		return s[1:]
	}
	return s
}

func normNL(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// lstripLine applies lstrip_blocks: whitespace between the last newline
// (or the start of a line) and a block tag is removed.
func lstripLine(text string, lineStart bool) string {
	lpos := strings.LastIndexAny(text, "\n\r") + 1
	if lpos > 0 || lineStart {
		rest := text[lpos:]
		if rest != "" && strings.TrimFunc(rest, isSpace) == "" {
			return text[:lpos]
		}
	}
	return text
}

// endsLine reports whether a match ended with a newline.
func endsLine(s string) bool { return strings.HasSuffix(s, "\n") || strings.HasSuffix(s, "\r") }

func (l *lexer) comment(start int) error {
	s := l.src
	for i := l.pos; i+1 < len(s); i++ {
		switch {
		case s[i] == '+' && strings.HasPrefix(s[i+1:], "#}"):
			l.pos = i + 3
			return nil
		case s[i] == '-' && strings.HasPrefix(s[i+1:], "#}"):
			e := skipSpace(s, i+3)
			l.lineStart = endsLine(s[:e]) && e > i+3
			l.lineStartAlt = l.lineStart
			l.pos = e
			return nil
		case s[i] == '#' && s[i+1] == '}':
			l.pos = i + 2
			l.trimNL = true
			l.lineStartAlt = l.pos < len(s) && (s[l.pos] == '\n' || s[l.pos] == '\r')
			return nil
		}
	}
	return &syntaxError{start, "missing end of comment tag"}
}

// raw reads a raw block: everything up to {% endraw %} is text.
func (l *lexer) raw(start int) error {
	s := l.src
	for i := l.pos; i < len(s); i++ {
		j := strings.Index(s[i:], "{%")
		if j < 0 {
			break
		}
		p := i + j
		k := p + 2
		var sign byte
		if k < len(s) && (s[k] == '-' || s[k] == '+') {
			sign = s[k]
			k++
		}
		k = skipSpace(s, k)
		if !strings.HasPrefix(s[k:], "endraw") {
			i = p + 1
			continue
		}
		k = skipSpace(s, k+6)
		end, trim := 0, false
		switch {
		case strings.HasPrefix(s[k:], "+%}"):
			end = k + 3
		case strings.HasPrefix(s[k:], "-%}"):
			end = skipSpace(s, k+3)
		case strings.HasPrefix(s[k:], "%}"):
			end, trim = k+2, true
		default:
			i = p + 1
			continue
		}
		text := s[l.pos:p]
		def, alt := text, text
		if sign == '-' {
			def = rstripSpace(text)
			alt = def
		} else if sign != '+' {
			alt = lstripLine(text, l.lineStartAlt)
		}
		if err := l.data(l.pos, def, alt); err != nil {
			return err
		}
		l.pos = end
		l.trimNL = trim
		l.lineStart = endsLine(s[:end]) && end > k+3
		l.lineStartAlt = l.lineStart || trim && end < len(s) && (s[end] == '\n' || s[end] == '\r')
		return nil
	}
	return &syntaxError{start, "missing end of raw directive"}
}

// tag tokenises the inside of {{ }} or {% %}.
func (l *lexer) tag(kind tokType) error {
	s := l.src
	var balance []byte
	for l.pos < len(s) {
		i := l.pos
		if len(balance) == 0 {
			if kind == tVarBegin {
				if strings.HasPrefix(s[i:], "-}}") {
					e := skipSpace(s, i+3)
					l.lineStart = endsLine(s[:e]) && e > i+3
					l.lineStartAlt = l.lineStart
					l.pos = e
					return l.emit(token{typ: tVarEnd, off: i})
				}
				if strings.HasPrefix(s[i:], "}}") {
					l.pos = i + 2
					return l.emit(token{typ: tVarEnd, off: i})
				}
			} else {
				switch {
				case strings.HasPrefix(s[i:], "+%}"):
					l.pos = i + 3
					return l.emit(token{typ: tBlockEnd, off: i})
				case strings.HasPrefix(s[i:], "-%}"):
					e := skipSpace(s, i+3)
					l.lineStart = endsLine(s[:e]) && e > i+3
					l.lineStartAlt = l.lineStart
					l.pos = e
					return l.emit(token{typ: tBlockEnd, off: i})
				case strings.HasPrefix(s[i:], "%}"):
					l.pos = i + 2
					l.trimNL = true
					l.lineStartAlt = l.pos < len(s) && (s[l.pos] == '\n' || s[l.pos] == '\r')
					return l.emit(token{typ: tBlockEnd, off: i})
				}
			}
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case isSpace(r):
			l.pos = skipSpace(s, i)
			continue
		case r >= '0' && r <= '9':
			if n := matchFloat(s, i); n > 0 {
				if err := l.emit(token{typ: tFloat, off: i, val: strings.ReplaceAll(s[i:i+n], "_", "")}); err != nil {
					return err
				}
				l.pos = i + n
				continue
			}
			n := matchInt(s, i)
			if err := l.emit(token{typ: tInt, off: i, val: strings.ReplaceAll(s[i:i+n], "_", "")}); err != nil {
				return err
			}
			l.pos = i + n
			continue
		case r == '\'' || r == '"':
			j := scanString(s, i)
			if j < 0 {
				return &syntaxError{i, fmt.Sprintf("unexpected char %q at %d", r, i)}
			}
			v, inexact, err := unescape(normNL(s[i+1 : j-1]))
			if err != nil {
				return &syntaxError{i, err.Error()}
			}
			if err := l.emit(token{typ: tString, off: i, val: v, inexact: inexact}); err != nil {
				return err
			}
			l.pos = j
			continue
		case isNameChar(r):
			j := i
			for j < len(s) {
				r, n := utf8.DecodeRuneInString(s[j:])
				if !isNameChar(r) {
					break
				}
				j += n
			}
			name := s[i:j]
			if !isIdentifier(name) {
				return &syntaxError{i, "invalid character in identifier"}
			}
			if err := l.emit(token{typ: tName, off: i, val: name}); err != nil {
				return err
			}
			l.pos = j
			continue
		}
		op := matchOp(s[i:])
		if op == "" {
			return &syntaxError{i, fmt.Sprintf("unexpected char %q at %d", r, i)}
		}
		_ = size
		switch op {
		case "(":
			balance = append(balance, ')')
		case "[":
			balance = append(balance, ']')
		case "{":
			balance = append(balance, '}')
		case ")", "]", "}":
			if len(balance) == 0 {
				return &syntaxError{i, fmt.Sprintf("unexpected '%s'", op)}
			}
			if want := balance[len(balance)-1]; want != op[0] {
				return &syntaxError{i, fmt.Sprintf("unexpected '%s', expected '%c'", op, want)}
			}
			balance = balance[:len(balance)-1]
		}
		if err := l.emit(token{typ: tOp, off: i, val: op}); err != nil {
			return err
		}
		l.pos = i + len(op)
	}
	return nil // the parser reports the missing end
}

var ops2 = [...]string{"//", "**", "==", "!=", ">=", "<="}

func matchOp(s string) string {
	for _, o := range ops2 {
		if strings.HasPrefix(s, o) {
			return o
		}
	}
	if s != "" && strings.IndexByte("+-/*%~[](){}><=.:|,;", s[0]) >= 0 {
		return s[:1]
	}
	return ""
}

// isSpace is Python's str.isspace for one character (re's \s).
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isSpace(r) {
			break
		}
		i += n
	}
	return i
}

func rstripSpace(s string) string { return strings.TrimRightFunc(s, isSpace) }

func isNameChar(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc, unicode.Nl) || r == 0xb7
}

// isIdentifier approximates str.isidentifier.
func isIdentifier(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '_' || unicode.IsLetter(r) || unicode.Is(unicode.Nl, r)
}

// matchInt matches jinja's integer_re at i (the first character is a digit).
func matchInt(s string, i int) int {
	if s[i] == '0' && i+1 < len(s) {
		var ok func(byte) bool
		switch s[i+1] {
		case 'b', 'B':
			ok = func(c byte) bool { return c == '0' || c == '1' }
		case 'o', 'O':
			ok = func(c byte) bool { return c >= '0' && c <= '7' }
		case 'x', 'X':
			ok = func(c byte) bool { return isHex(c) }
		}
		if ok != nil {
			if n := digitsUnderscore(s, i+2, ok); n > 0 {
				return 2 + n
			}
		}
	}
	if s[i] == '0' {
		return 1 + digitsUnderscore(s, i+1, func(c byte) bool { return c == '0' })
	}
	return 1 + digitsUnderscore(s, i+1, isDigit)
}

// digitsUnderscore matches (_?d)* at i.
func digitsUnderscore(s string, i int, ok func(byte) bool) int {
	j := i
	for j < len(s) {
		if ok(s[j]) {
			j++
			continue
		}
		if s[j] == '_' && j+1 < len(s) && ok(s[j+1]) {
			j += 2
			continue
		}
		break
	}
	return j - i
}

// matchFloat matches jinja's float_re at i: digits with _ separators,
// then an exponent, or a fraction and an optional exponent.
func matchFloat(s string, i int) int {
	if i > 0 && s[i-1] == '.' {
		return 0
	}
	j := i + digitRun(s, i)
	if j == i {
		return 0
	}
	frac := false
	if j < len(s) && s[j] == '.' {
		if n := digitRun(s, j+1); n > 0 {
			j += 1 + n
			frac = true
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if n := digitRun(s, k); n > 0 {
			return k + n - i
		}
	}
	if frac {
		return j - i
	}
	return 0
}

// digitRun matches (\d+_)*\d+ at i.
func digitRun(s string, i int) int {
	j := i
	for {
		k := j
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k == j {
			break
		}
		if k < len(s) && s[k] == '_' && k+1 < len(s) && isDigit(s[k+1]) {
			j = k + 1
			continue
		}
		j = k
		break
	}
	return j - i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanString returns the index after the closing quote of the string
// literal at i, or -1 (jinja's string_re: backslash escapes any
// character, newlines included).
func scanString(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			return j + 1
		}
	}
	return -1
}
