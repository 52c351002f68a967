package numpy

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

var errEOF = io.ErrUnexpectedEOF

// parseLiteral reads the subset of Python literals numpy writes in .npy
// headers (dicts, tuples, lists, strings, ints, True/False/None), the way
// ast.literal_eval would, within depth and size bounds. It evaluates
// nothing.
func parseLiteral(s string) (any, error) {
	p := &lit{s: s}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the literal", p.rest())
	}
	return v, nil
}

type lit struct {
	s     string
	i     int
	items int
}

const (
	maxLiteralDepth = 32
	maxLiteralItems = 100_000
)

func (p *lit) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20]
	}
	return r
}

func (p *lit) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *lit) value(depth int) (any, error) {
	if depth > maxLiteralDepth {
		return nil, errors.New("literal nested too deeply")
	}
	if p.items++; p.items > maxLiteralItems {
		return nil, errors.New("literal has too many items")
	}
	p.space()
	if p.i >= len(p.s) {
		return nil, errEOF
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return m, nil
			}
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("dict key %v is not a string", k)
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, errors.New("expected ':' in dict")
			}
			p.i++
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[ks] = v
			if !p.sep('}') {
				return nil, errors.New("expected ',' or '}' in dict")
			}
		}
	case c == '(' || c == '[':
		end := byte(')')
		if c == '[' {
			end = ']'
		}
		p.i++
		var l []any
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == end {
				p.i++
				if l == nil {
					l = []any{}
				}
				return l, nil
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			if !p.sep(end) {
				return nil, fmt.Errorf("expected ',' or '%c'", end)
			}
		}
	case c == '\'' || c == '"':
		return p.str(c)
	case c == '-' || c == '+' || c >= '0' && c <= '9':
		j := p.i + 1
		for j < len(p.s) && (p.s[j] >= '0' && p.s[j] <= '9' || p.s[j] == '_') {
			j++
		}
		if j < len(p.s) && p.s[j] == 'L' { // Python 2 longs
			defer func() { p.i++ }()
		}
		n, err := strconv.ParseInt(strings.ReplaceAll(p.s[p.i:j], "_", ""), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("integer %q out of range", p.s[p.i:j])
		}
		p.i = j
		return n, nil
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"True", true}, {"False", false}, {"None", nil}} {
		if strings.HasPrefix(p.s[p.i:], w.word) {
			p.i += len(w.word)
			return w.v, nil
		}
	}
	return nil, fmt.Errorf("unexpected %q", p.rest())
}

// sep consumes a ',' (returning true) or peeks the closing byte.
func (p *lit) sep(end byte) bool {
	p.space()
	if p.i >= len(p.s) {
		return false
	}
	if p.s[p.i] == ',' {
		p.i++
		return true
	}
	return p.s[p.i] == end
}

func (p *lit) str(q byte) (any, error) {
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\' && p.i+1 < len(p.s):
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return nil, errEOF
}
