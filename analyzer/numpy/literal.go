package numpy

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/runenames"
)

var errEOF = io.ErrUnexpectedEOF

// pyKind is the Python type of a literal value.
type pyKind uint8

const (
	pyStr pyKind = iota
	pyBytes
	pyInt // bool is an int to Python (isinstance(True, int))
	pyBigInt
	pyFloat
	pyComplex
	pyNone
	pyEllipsis
	pyTuple
	pyList
	pySet
	pyDict
)

// pyValue is what ast.literal_eval returns, as far as an .npy header
// needs it: strings, ints (with bool marked), opaque other numbers,
// None, Ellipsis and containers. A dict keeps its keys in items and its
// values in vals, in insertion order, duplicates folded as Python folds
// them (the last value at the first key's place).
type pyValue struct {
	kind  pyKind
	str   string // str (UTF-8; lone surrogates as WTF-8) and bytes
	i     int64  // int and bool
	b     bool   // the int is True or False
	f     float64
	items []pyValue
	vals  []pyValue
}

func (v pyValue) isBool() bool { return v.kind == pyInt && v.b }

// literalOptions choose the dialect: npy format versions 1 and 2 drop a
// Python 2 long suffix ("10L") as numpy's _filter_header does.
type literalOptions struct {
	py2Longs bool
}

// parseLiteral evaluates s the way Python 3.11's ast.literal_eval does,
// within depth and size bounds, and evaluates nothing else: it accepts
// exactly the displays, constants, signed numbers and complex sums that
// literal_eval accepts, with Python's tokenizer rules for whitespace,
// comments, line continuations, string prefixes and escapes, and numeric
// literals.
func parseLiteral(s string, opt literalOptions) (pyValue, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return pyValue{}, errors.New("source code string cannot contain null bytes")
	}
	// The tokenizer reads "\r\n" and "\r" as "\n"; literal_eval strips
	// leading spaces and tabs.
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimLeft(s, " \t")
	p := &lit{s: s, opt: opt, lineStart: true}
	n, err := p.expr()
	if err != nil {
		return pyValue{}, err
	}
	if err := p.end(); err != nil {
		return pyValue{}, err
	}
	return convert(n, 0)
}

// Bounds. Python's tokenizer refuses more than 200 nested brackets.
const (
	maxLiteralDepth = 200
	maxLiteralItems = 100_000
)

// node is the syntax tree of the expression, as ast.parse builds it.
type node struct {
	op    byte // 'c' constant, '(' tuple, '[' list, '{' dict or set ('s'), 'u' unary, 'b' binary
	minus bool // unary or binary minus
	v     pyValue
	kids  []*node // containers; dict: key, value, key, value...
}

type lit struct {
	s     string
	i     int
	opt   literalOptions
	depth int // open brackets
	items int
	// lineStart is set at the start of a logical line outside brackets:
	// the next token must not be indented.
	lineStart bool
}

func (p *lit) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20]
	}
	return r
}

func (p *lit) fail(format string, a ...any) error {
	return fmt.Errorf("invalid syntax at %q: %s", p.rest(), fmt.Sprintf(format, a...))
}

// space skips what the tokenizer skips between tokens: spaces, tabs, form
// feeds, comments, line continuations and, inside brackets, newlines.
// Outside brackets a newline ends the logical line; blank lines are
// skipped, but a line whose first token is indented is an error.
func (p *lit) space() error {
	col := 0
	for p.i < len(p.s) {
		switch c := p.s[p.i]; c {
		case ' ', '\t':
			p.i++
			col++
		case '\f':
			p.i++
			col = 0
		case '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		case '\\':
			if p.i+1 < len(p.s) && p.s[p.i+1] == '\n' {
				p.i += 2
				if p.i == len(p.s) {
					return errors.New("unexpected EOF while parsing")
				}
				col = -1 << 20 // a continued line is never indented
				continue
			}
			return p.fail("unexpected character after line continuation character")
		case '\n':
			p.i++
			if p.depth == 0 {
				p.lineStart = true
			}
			col = 0
		default:
			if p.lineStart && p.depth == 0 && col > 0 {
				return errors.New("unexpected indent")
			}
			return nil
		}
	}
	return nil
}

// end accepts only what may follow the expression: whitespace, comments
// and newlines.
func (p *lit) end() error {
	if err := p.space(); err != nil {
		return err
	}
	if p.i != len(p.s) {
		return p.fail("unexpected text after the literal")
	}
	return nil
}

func (p *lit) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// expr parses an additive expression: literal_eval allows at most one
// binary + or - (a real plus or minus an imaginary number).
func (p *lit) expr() (*node, error) {
	left, err := p.unary(0)
	if err != nil {
		return nil, err
	}
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		c := p.peek()
		if c != '+' && c != '-' || p.depth == 0 && p.lineStart {
			return left, nil // a new logical line is not part of this expression
		}
		p.i++
		right, err := p.unary(0)
		if err != nil {
			return nil, err
		}
		left = &node{op: 'b', minus: c == '-', kids: []*node{left, right}}
	}
}

func (p *lit) unary(n int) (*node, error) {
	if err := p.space(); err != nil {
		return nil, err
	}
	if c := p.peek(); c == '+' || c == '-' {
		if n > maxLiteralDepth {
			return nil, errors.New("too many unary operators")
		}
		p.i++
		x, err := p.unary(n + 1)
		if err != nil {
			return nil, err
		}
		return &node{op: 'u', minus: c == '-', kids: []*node{x}}, nil
	}
	return p.atom()
}

func (p *lit) atom() (*node, error) {
	if err := p.space(); err != nil {
		return nil, err
	}
	p.lineStart = false
	if p.items++; p.items > maxLiteralItems {
		return nil, errors.New("literal has too many items")
	}
	if p.i >= len(p.s) {
		return nil, errEOF
	}
	c := p.s[p.i]
	switch {
	case c == '(' || c == '[' || c == '{':
		return p.display(c)
	case c == '\'' || c == '"':
		return p.strings()
	case c >= '0' && c <= '9' || c == '.' && p.i+1 < len(p.s) && p.s[p.i+1] >= '0' && p.s[p.i+1] <= '9':
		return p.number()
	case strings.HasPrefix(p.s[p.i:], "..."):
		p.i += 3
		return &node{op: 'c', v: pyValue{kind: pyEllipsis}}, nil
	}
	id := p.ident()
	if id == "" {
		return nil, p.fail("not a literal")
	}
	if q := p.peek(); (q == '\'' || q == '"') && isStringPrefix(id) {
		p.i -= len(id)
		return p.strings()
	}
	switch id {
	case "True":
		return &node{op: 'c', v: pyValue{kind: pyInt, i: 1, b: true}}, nil
	case "False":
		return &node{op: 'c', v: pyValue{kind: pyInt, b: true}}, nil
	case "None":
		return &node{op: 'c', v: pyValue{kind: pyNone}}, nil
	}
	return nil, fmt.Errorf("name %q is not a literal", clip(id))
}

func clip(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

func isIdentStart(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || r >= utf8.RuneSelf && unicode.Is(unicode.Other_ID_Start, r)
}

func isIdentPart(r rune) bool {
	return isIdentStart(r) || unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc) || unicode.Is(unicode.Other_ID_Continue, r)
}

// ident reads an identifier (Python allows Unicode letters in them).
func (p *lit) ident() string {
	start := p.i
	for p.i < len(p.s) {
		r, size := utf8.DecodeRuneInString(p.s[p.i:])
		if p.i == start && !isIdentStart(r) || p.i > start && !isIdentPart(r) {
			break
		}
		p.i += size
	}
	return p.s[start:p.i]
}

func isStringPrefix(id string) bool {
	switch strings.ToLower(id) {
	case "r", "u", "b", "br", "rb", "f", "fr", "rf":
		return true
	}
	return false
}

// display parses a tuple, list, dict or set display, or a parenthesised
// expression.
func (p *lit) display(open byte) (*node, error) {
	p.i++
	p.depth++
	if p.depth >= maxLiteralDepth+1 {
		return nil, errors.New("too many nested parentheses")
	}
	close := map[byte]byte{'(': ')', '[': ']', '{': '}'}[open]
	n := &node{op: open}
	commas, colons := 0, 0
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.peek() == close {
			p.i++
			break
		}
		if len(n.kids) > 0 && commas < len(n.kids)-colons {
			return nil, p.fail("expected ',' or '%c'", close)
		}
		k, err := p.expr()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
		if err := p.space(); err != nil {
			return nil, err
		}
		if open == '{' {
			isDict := p.peek() == ':'
			if len(n.kids) == 1 {
				if !isDict {
					n.op = 's'
				}
			} else if isDict != (n.op == '{') {
				return nil, p.fail("dict and set items mixed")
			}
			if isDict {
				p.i++
				v, err := p.expr()
				if err != nil {
					return nil, err
				}
				n.kids = append(n.kids, v)
				colons++
				if err := p.space(); err != nil {
					return nil, err
				}
			}
		}
		if p.peek() == ',' {
			p.i++
			commas++
		}
	}
	p.depth--
	if open == '(' && commas == 0 && len(n.kids) == 1 {
		return n.kids[0], nil // parentheses, not a tuple
	}
	if open == '(' && commas > 0 && len(n.kids) == 0 {
		return nil, p.fail("empty tuple with a comma")
	}
	return n, nil
}

// strings reads one or more adjacent string literals and concatenates
// them, as the compiler does.
func (p *lit) strings() (*node, error) {
	var b strings.Builder
	kind := pyKind(255)
	for {
		start := p.i
		prefix := strings.ToLower(p.ident())
		if !isStringPrefix(prefix) && prefix != "" || p.peek() != '\'' && p.peek() != '"' {
			p.i = start
			break
		}
		k := pyStr
		if strings.Contains(prefix, "b") {
			k = pyBytes
		}
		if strings.Contains(prefix, "f") {
			return nil, errors.New("f-strings are not literals")
		}
		if kind != 255 && kind != k {
			return nil, errors.New("cannot mix bytes and nonbytes literals")
		}
		kind = k
		if err := p.string1(&b, strings.Contains(prefix, "r"), k == pyBytes); err != nil {
			return nil, err
		}
		save, line := p.i, p.lineStart
		if err := p.space(); err != nil {
			return nil, err
		}
		if c := p.peek(); c != '\'' && c != '"' && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') || p.depth == 0 && p.lineStart {
			p.i, p.lineStart = save, line
			break
		}
	}
	return &node{op: 'c', v: pyValue{kind: kind, str: b.String()}}, nil
}

// string1 reads one quoted literal at p.i into b.
func (p *lit) string1(b *strings.Builder, raw, bytes bool) error {
	q := p.s[p.i]
	triple := strings.HasPrefix(p.s[p.i:], strings.Repeat(string(q), 3))
	if triple {
		p.i += 3
	} else {
		p.i++
	}
	for {
		if p.i >= len(p.s) {
			return errors.New("unterminated string literal")
		}
		c := p.s[p.i]
		switch {
		case c == q && (!triple || strings.HasPrefix(p.s[p.i:], strings.Repeat(string(q), 3))):
			if triple {
				p.i += 3
			} else {
				p.i++
			}
			return nil
		case c == '\n' && !triple:
			return errors.New("unterminated string literal")
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return errors.New("unterminated string literal")
			}
			if raw {
				b.WriteByte('\\')
				b.WriteByte(p.s[p.i+1])
				p.i += 2
				continue
			}
			if err := p.escape(b, bytes); err != nil {
				return err
			}
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			if bytes && r >= utf8.RuneSelf {
				return errors.New("bytes can only contain ASCII literal characters")
			}
			b.WriteString(p.s[p.i : p.i+size])
			p.i += size
		}
	}
}

// escape decodes the escape sequence at p.i (a backslash).
func (p *lit) escape(b *strings.Builder, bytes bool) error {
	c := p.s[p.i+1]
	p.i += 2
	simple := map[byte]byte{'\n': 0, '\\': '\\', '\'': '\'', '"': '"', 'a': 7, 'b': 8, 'f': 12, 'n': 10, 'r': 13, 't': 9, 'v': 11}
	if v, ok := simple[c]; ok {
		if c != '\n' {
			b.WriteByte(v)
		}
		return nil
	}
	hex := func(n int) (rune, error) {
		if p.i+n > len(p.s) {
			return 0, fmt.Errorf("truncated \\%c escape", c)
		}
		v, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
		if err != nil || strings.ContainsAny(p.s[p.i:p.i+n], "+-_xX") {
			return 0, fmt.Errorf("truncated \\%c escape", c)
		}
		p.i += n
		return rune(v), nil
	}
	switch {
	case c >= '0' && c <= '7':
		v := rune(c - '0')
		for k := 0; k < 2 && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '7'; k++ {
			v = v*8 + rune(p.s[p.i]-'0')
			p.i++
		}
		if bytes {
			if v > 0xff {
				return errors.New("octal escape out of range in bytes")
			}
			b.WriteByte(byte(v))
		} else {
			writeRune(b, v)
		}
		return nil
	case c == 'x':
		v, err := hex(2)
		if err != nil {
			return err
		}
		if bytes {
			b.WriteByte(byte(v))
		} else {
			writeRune(b, v)
		}
		return nil
	case (c == 'u' || c == 'U' || c == 'N') && !bytes:
		var v rune
		var err error
		switch c {
		case 'u':
			v, err = hex(4)
		case 'U':
			v, err = hex(8)
			if err == nil && v > unicode.MaxRune {
				err = errors.New("illegal Unicode character")
			}
		case 'N':
			v, err = p.named()
		}
		if err != nil {
			return err
		}
		writeRune(b, v)
		return nil
	}
	// Unknown escapes keep their backslash (a warning to Python).
	b.WriteByte('\\')
	p.i-- // the character after the backslash is read as itself
	return nil
}

// named reads {NAME} of a \N escape.
func (p *lit) named() (rune, error) {
	if p.peek() != '{' {
		return 0, errors.New("malformed \\N character escape")
	}
	end := strings.IndexByte(p.s[p.i:], '}')
	if end < 0 {
		return 0, errors.New("malformed \\N character escape")
	}
	name := strings.ToUpper(p.s[p.i+1 : p.i+end])
	p.i += end + 1
	if r, ok := runeNames()[name]; ok {
		return r, nil
	}
	return 0, fmt.Errorf("unknown Unicode character name %q", clip(name))
}

// runeNames maps Unicode character names to runes, built on first use
// (\N escapes are rare in headers).
var runeNames = sync.OnceValue(func() map[string]rune {
	m := make(map[string]rune, 1<<15)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		if n := runenames.Name(r); n != "" && n[0] != '<' {
			m[n] = r
		}
	}
	return m
})

// writeRune writes r as UTF-8, and a lone surrogate (which Python strings
// may hold) as WTF-8, which no UTF-8 consumer accepts.
func writeRune(b *strings.Builder, r rune) {
	if r >= 0xd800 && r <= 0xdfff {
		b.WriteByte(byte(0xe0 | r>>12))
		b.WriteByte(byte(0x80 | r>>6&0x3f))
		b.WriteByte(byte(0x80 | r&0x3f))
		return
	}
	b.WriteRune(r)
}

// number reads a numeric literal (Python 3.11 rules: underscores between
// digits, no leading zeros in decimal integers) and, for npy versions 1
// and 2, drops a following Python 2 "L".
func (p *lit) number() (*node, error) {
	start := p.i
	digits := func(ok func(byte) bool) bool {
		n := 0
		for p.i < len(p.s) {
			c := p.s[p.i]
			if c == '_' && n > 0 && p.i+1 < len(p.s) && ok(p.s[p.i+1]) {
				p.i++
				continue
			}
			if !ok(c) {
				break
			}
			p.i++
			n++
		}
		return n > 0
	}
	dec := func(c byte) bool { return c >= '0' && c <= '9' }
	v := pyValue{kind: pyInt}
	isFloat, imag := false, false
	if c := p.s[p.i]; c == '0' && p.i+1 < len(p.s) && strings.IndexByte("xXoObB", p.s[p.i+1]) >= 0 {
		base := map[byte]int{'x': 16, 'o': 8, 'b': 2}[p.s[p.i+1]|0x20]
		p.i += 2
		if !digits(func(c byte) bool {
			d, err := strconv.ParseUint(string(c), base, 8)
			return err == nil && int(d) < base
		}) {
			return nil, p.fail("invalid %d-base literal", base)
		}
		text := strings.ReplaceAll(p.s[start+2:p.i], "_", "")
		setInt(&v, text, base)
	} else {
		digits(dec)
		if p.peek() == '.' {
			p.i++
			digits(dec)
			isFloat = true
		}
		if c := p.peek(); c == 'e' || c == 'E' {
			save := p.i
			p.i++
			if c := p.peek(); c == '+' || c == '-' {
				p.i++
			}
			if digits(dec) {
				isFloat = true
			} else {
				p.i = save
			}
		}
		if c := p.peek(); c == 'j' || c == 'J' {
			p.i++
			imag = true
		}
		text := strings.ReplaceAll(p.s[start:p.i], "_", "")
		switch {
		case imag:
			v.kind = pyComplex
		case isFloat:
			v.kind = pyFloat
			v.f, _ = strconv.ParseFloat(text, 64)
		default:
			if len(text) > 1 && text[0] == '0' && strings.Trim(text, "0") != "" {
				return nil, errors.New("leading zeros in decimal integer literals are not permitted")
			}
			setInt(&v, text, 10)
		}
	}
	if p.opt.py2Longs {
		save := p.i
		for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\f') {
			p.i++
		}
		if id := p.ident(); id != "L" {
			p.i = save
		}
	}
	if r, _ := utf8.DecodeRuneInString(p.s[p.i:]); p.i < len(p.s) && isIdentPart(r) {
		return nil, p.fail("invalid decimal literal")
	}
	return &node{op: 'c', v: v}, nil
}

func setInt(v *pyValue, text string, base int) {
	n, ok := new(big.Int).SetString(text, base)
	if ok && n.IsInt64() {
		v.i = n.Int64()
		return
	}
	v.kind = pyBigInt
}

// convert applies ast.literal_eval's rules to the tree.
func convert(n *node, depth int) (pyValue, error) {
	if depth > maxLiteralDepth {
		return pyValue{}, errors.New("literal nested too deeply")
	}
	switch n.op {
	case 'c':
		return n.v, nil
	case '(', '[', 's':
		kind := map[byte]pyKind{'(': pyTuple, '[': pyList, 's': pySet}[n.op]
		v := pyValue{kind: kind, items: make([]pyValue, 0, len(n.kids))}
		for _, k := range n.kids {
			x, err := convert(k, depth+1)
			if err != nil {
				return pyValue{}, err
			}
			if kind == pySet {
				if !hashable(x) {
					return pyValue{}, errors.New("unhashable type in a set")
				}
				if indexOf(v.items, x) >= 0 {
					continue
				}
			}
			v.items = append(v.items, x)
		}
		return v, nil
	case '{':
		v := pyValue{kind: pyDict}
		for i := 0; i+1 < len(n.kids); i += 2 {
			k, err := convert(n.kids[i], depth+1)
			if err != nil {
				return pyValue{}, err
			}
			x, err := convert(n.kids[i+1], depth+1)
			if err != nil {
				return pyValue{}, err
			}
			if !hashable(k) {
				return pyValue{}, errors.New("unhashable dict key")
			}
			if j := indexOf(v.items, k); j >= 0 {
				v.vals[j] = x
				continue
			}
			v.items = append(v.items, k)
			v.vals = append(v.vals, x)
		}
		return v, nil
	case 'b':
		left, okL := signedNum(n.kids[0])
		right, okR := constNum(n.kids[1])
		if okL && okR && (left.kind == pyInt && !left.b || left.kind == pyBigInt || left.kind == pyFloat) && right.kind == pyComplex {
			return pyValue{kind: pyComplex}, nil
		}
	case 'u':
		if v, ok := signedNum(n); ok {
			return v, nil
		}
	}
	return pyValue{}, errors.New("malformed node or string")
}

// constNum is _convert_num: a constant int, float or complex (not bool).
func constNum(n *node) (pyValue, bool) {
	if n.op != 'c' || n.v.b {
		return pyValue{}, false
	}
	switch n.v.kind {
	case pyInt, pyBigInt, pyFloat, pyComplex:
		return n.v, true
	}
	return pyValue{}, false
}

// signedNum is _convert_signed_num: a number with at most one sign.
func signedNum(n *node) (pyValue, bool) {
	if n.op != 'u' {
		return constNum(n)
	}
	v, ok := constNum(n.kids[0])
	if !ok || !n.minus {
		return v, ok
	}
	switch v.kind {
	case pyInt:
		if v.i == math.MinInt64 {
			v.kind = pyBigInt
		} else {
			v.i = -v.i
		}
	case pyFloat:
		v.f = -v.f
	}
	return v, true
}

func hashable(v pyValue) bool {
	switch v.kind {
	case pyList, pyDict, pySet:
		return false
	case pyTuple:
		for _, x := range v.items {
			if !hashable(x) {
				return false
			}
		}
	}
	return true
}

func indexOf(vs []pyValue, x pyValue) int {
	for i, v := range vs {
		if pyEqual(v, x) {
			return i
		}
	}
	return -1
}

// pyEqual is Python's == for hashable literals (True == 1 == 1.0).
// Numbers it cannot compare exactly (big ints, complex) are unequal to
// everything, which only matters for keys numpy rejects anyway.
func pyEqual(a, b pyValue) bool {
	num := func(v pyValue) (float64, bool) {
		switch v.kind {
		case pyInt:
			return float64(v.i), true
		case pyFloat:
			return v.f, true
		}
		return 0, false
	}
	if x, ok := num(a); ok {
		y, ok := num(b)
		if a.kind == pyInt && b.kind == pyInt {
			return a.i == b.i
		}
		return ok && x == y
	}
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case pyStr, pyBytes:
		return a.str == b.str
	case pyNone, pyEllipsis:
		return true
	case pyTuple:
		if len(a.items) != len(b.items) {
			return false
		}
		for i := range a.items {
			if !pyEqual(a.items[i], b.items[i]) {
				return false
			}
		}
		return true
	}
	return false
}
