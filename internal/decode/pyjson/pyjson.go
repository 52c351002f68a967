// Package pyjson reads JSON the way Python's json module does, as a
// stream of events: arbitrarily large documents in bounded memory, and
// everything json.load accepts that RFC 8259 does not (NaN, Infinity,
// -Infinity). Loaders read configuration files with Python's json, so a
// scanner that rejects what they accept, or gives up on a large file,
// would wave through what they load.
//
// It decodes, never evaluates: strings are unescaped, numbers are kept as
// text. Depth and the length of one string are bounded; a string longer
// than the bound is delivered truncated with Truncated set, so callers can
// fail closed.
package pyjson

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the kind of a scalar value.
type Kind int

const (
	String Kind = iota
	Number
	Bool
	Null
)

// Limits bound a parse.
type Limits struct {
	MaxDepth  int // nesting of objects and arrays
	MaxString int // bytes of one string kept; longer ones are truncated
}

// Visitor receives the document. Path elements are object keys and
// array indexes; the slice is reused between calls.
type Visitor interface {
	// Value is a scalar at path (for strings, the unescaped text).
	Value(path []Elem, kind Kind, text string, truncated bool) error
	// Enter and Leave bracket an object or array at path.
	Enter(path []Elem, object bool) error
	Leave(path []Elem, object bool) error
}

// Elem is one step of a path: a key, or an index when IsIndex.
type Elem struct {
	Key     string
	Index   int
	IsIndex bool
}

// SyntaxError is a document Python's json.loads would reject.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// ErrDepth is returned when nesting exceeds MaxDepth.
var ErrDepth = errors.New("json nested too deep")

type parser struct {
	r    *bufio.Reader
	off  int64
	lim  Limits
	v    Visitor
	path []Elem
	buf  []byte
}

// Walk parses one JSON document from r, then requires only whitespace
// after it, as json.loads does.
func Walk(r io.Reader, lim Limits, v Visitor) error {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = 512
	}
	if lim.MaxString <= 0 {
		lim.MaxString = 1 << 20
	}
	p := &parser{r: bufio.NewReaderSize(r, 64<<10), lim: lim, v: v}
	if err := p.value(0); err != nil {
		return err
	}
	c, err := p.skipSpace()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	return p.errf("extra data after the document: %q", c)
}

func (p *parser) errf(format string, a ...any) error {
	return &SyntaxError{Offset: p.off, Msg: fmt.Sprintf(format, a...)}
}

func (p *parser) read() (byte, error) {
	c, err := p.r.ReadByte()
	if err == nil {
		p.off++
	}
	return c, err
}

func (p *parser) unread() {
	p.r.UnreadByte()
	p.off--
}

// skipSpace returns the next byte that is not JSON whitespace.
func (p *parser) skipSpace() (byte, error) {
	for {
		c, err := p.read()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c, nil
	}
}

func (p *parser) eof(err error) error {
	if err == io.EOF {
		return p.errf("unexpected end of document")
	}
	return err
}

func (p *parser) value(depth int) error {
	c, err := p.skipSpace()
	if err != nil {
		return p.eof(err)
	}
	switch {
	case c == '{' || c == '[':
		if depth >= p.lim.MaxDepth {
			return ErrDepth
		}
		object := c == '{'
		if err := p.v.Enter(p.path, object); err != nil {
			return err
		}
		if object {
			err = p.object(depth)
		} else {
			err = p.array(depth)
		}
		if err != nil {
			return err
		}
		return p.v.Leave(p.path, object)
	case c == '"':
		s, trunc, err := p.str()
		if err != nil {
			return err
		}
		return p.v.Value(p.path, String, s, trunc)
	case c == '-' || c >= '0' && c <= '9':
		p.unread()
		n, err := p.number()
		if err != nil {
			return err
		}
		return p.v.Value(p.path, Number, n, false)
	default:
		p.unread()
		return p.literal()
	}
}

func (p *parser) object(depth int) error {
	c, err := p.skipSpace()
	if err != nil {
		return p.eof(err)
	}
	if c == '}' {
		return nil
	}
	for {
		if c != '"' {
			return p.errf("expecting a property name in double quotes")
		}
		key, _, err := p.str()
		if err != nil {
			return err
		}
		if c, err = p.skipSpace(); err != nil {
			return p.eof(err)
		}
		if c != ':' {
			return p.errf("expecting ':' delimiter")
		}
		p.path = append(p.path, Elem{Key: key})
		if err := p.value(depth + 1); err != nil {
			return err
		}
		p.path = p.path[:len(p.path)-1]
		if c, err = p.skipSpace(); err != nil {
			return p.eof(err)
		}
		switch c {
		case '}':
			return nil
		case ',':
			if c, err = p.skipSpace(); err != nil {
				return p.eof(err)
			}
		default:
			return p.errf("expecting ',' delimiter")
		}
	}
}

func (p *parser) array(depth int) error {
	c, err := p.skipSpace()
	if err != nil {
		return p.eof(err)
	}
	if c == ']' {
		return nil
	}
	p.unread()
	for i := 0; ; i++ {
		p.path = append(p.path, Elem{Index: i, IsIndex: true})
		if err := p.value(depth + 1); err != nil {
			return err
		}
		p.path = p.path[:len(p.path)-1]
		if c, err = p.skipSpace(); err != nil {
			return p.eof(err)
		}
		switch c {
		case ']':
			return nil
		case ',':
		default:
			return p.errf("expecting ',' delimiter")
		}
	}
}

// literal reads true, false, null and Python's NaN, Infinity, -Infinity.
func (p *parser) literal() error {
	for _, l := range []struct {
		word string
		kind Kind
	}{{"true", Bool}, {"false", Bool}, {"null", Null}, {"NaN", Number}, {"Infinity", Number}} {
		b, _ := p.r.Peek(len(l.word))
		if string(b) == l.word {
			p.r.Discard(len(l.word))
			p.off += int64(len(l.word))
			return p.v.Value(p.path, l.kind, l.word, false)
		}
	}
	return p.errf("expecting a value")
}

// number reads a JSON number (or -Infinity) as text, with Python's
// grammar: no leading zeros, no leading '+', no bare '.'.
func (p *parser) number() (string, error) {
	var b strings.Builder
	c, _ := p.read()
	if c == '-' {
		b.WriteByte(c)
		if nb, _ := p.r.Peek(8); string(nb) == "Infinity" {
			p.r.Discard(8)
			p.off += 8
			return "-Infinity", nil
		}
		var err error
		if c, err = p.read(); err != nil || c < '0' || c > '9' {
			return "", p.errf("expecting a value")
		}
	}
	b.WriteByte(c)
	leadingZero := c == '0'
	digits := func() int {
		n := 0
		for {
			c, err := p.read()
			if err != nil {
				return n
			}
			if c < '0' || c > '9' {
				p.unread()
				return n
			}
			if b.Len() < 64 {
				b.WriteByte(c)
			}
			n++
		}
	}
	if n := digits(); leadingZero && n > 0 {
		// json.loads reads "01" as 0 followed by extra data.
		return "", p.errf("extra data after a leading zero")
	}
	c, err := p.read()
	if err == nil && c == '.' {
		b.WriteByte(c)
		if digits() == 0 {
			return "", p.errf("expecting digits after '.'")
		}
		c, err = p.read()
	}
	if err == nil && (c == 'e' || c == 'E') {
		b.WriteByte(c)
		if c, err = p.read(); err == nil && (c == '+' || c == '-') {
			b.WriteByte(c)
		} else if err == nil {
			p.unread()
		}
		if digits() == 0 {
			return "", p.errf("expecting digits in the exponent")
		}
	} else if err == nil {
		p.unread()
	}
	return b.String(), nil
}

// str reads a string after its opening quote, unescaping it. Like
// json.loads (strict), it rejects control characters inside strings.
func (p *parser) str() (string, bool, error) {
	p.buf = p.buf[:0]
	trunc := false
	put := func(b ...byte) {
		if len(p.buf)+len(b) > p.lim.MaxString {
			trunc = true
			return
		}
		p.buf = append(p.buf, b...)
	}
	for {
		c, err := p.read()
		if err != nil {
			return "", false, p.errf("unterminated string")
		}
		switch {
		case c == '"':
			return string(p.buf), trunc, nil
		case c < 0x20:
			return "", false, p.errf("invalid control character in a string")
		case c != '\\':
			put(c)
			continue
		}
		e, err := p.read()
		if err != nil {
			return "", false, p.errf("unterminated string")
		}
		switch e {
		case '"', '\\', '/':
			put(e)
		case 'b':
			put('\b')
		case 'f':
			put('\f')
		case 'n':
			put('\n')
		case 'r':
			put('\r')
		case 't':
			put('\t')
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return "", false, err
			}
			if utf16.IsSurrogate(r) {
				// A pair is one character; a lone half is kept by Python
				// and becomes U+FFFD here.
				if nb, _ := p.r.Peek(2); string(nb) == "\\u" {
					p.r.Discard(2)
					p.off += 2
					r2, err := p.hex4()
					if err != nil {
						return "", false, err
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
					} else {
						put(utf8.AppendRune(nil, utf8.RuneError)...)
						r = r2
					}
				}
				if utf16.IsSurrogate(r) {
					r = utf8.RuneError
				}
			}
			put(utf8.AppendRune(nil, r)...)
		default:
			return "", false, p.errf("invalid \\escape %q", e)
		}
	}
}

func (p *parser) hex4() (rune, error) {
	var h [4]byte
	for i := range h {
		c, err := p.read()
		if err != nil {
			return 0, p.errf("unterminated \\u escape")
		}
		h[i] = c
	}
	n, err := strconv.ParseUint(string(h[:]), 16, 16)
	if err != nil {
		return 0, p.errf("invalid \\uXXXX escape")
	}
	return rune(n), nil
}
