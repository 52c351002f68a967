package pickle

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// clip bounds a byte slice for error messages.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// The protocol-0 number opcodes (INT, LONG, FLOAT) and memo keys (GET,
// PUT) are text. The C unpickler (what pickle.load, torch.load and
// numpy.load use) and the pure-Python one (what joblib.load uses) parse
// them differently: C reads a NUL-terminated copy of the line with
// strtol and PyOS_string_to_double, Python uses int() and float() on the
// bytes. A stream either accepts is loadable, so the VM accepts the
// union (internal/gen/loaderprobe/pickleprobe.py, strict_test.go).

// upToNUL is the line as C sees it: up to the first NUL.
func upToNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// isCSpace is C's isspace in the "C" locale (Python's Py_ISSPACE too).
func isCSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

func trimPySpace(b []byte) []byte {
	for len(b) > 0 && isCSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isCSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isDec(c byte) bool { return c >= '0' && c <= '9' }
func isOct(c byte) bool { return c >= '0' && c <= '7' }
func isHex(c byte) bool { return isDec(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

// textNum is an integer read from text: its magnitude when it fits 64
// bits (big otherwise) and its sign.
type textNum struct {
	mag      uint64
	big, neg bool
}

// digits reads b as one or more digits of base with single underscores
// between them (Python's literal rule), accumulating the value, in one
// pass. It reports whether b is such a literal.
func (n *textNum) digits(b []byte, base uint64) bool {
	if len(b) == 0 || b[0] == '_' || b[len(b)-1] == '_' {
		return false
	}
	prevUnderscore := false
	for _, c := range b {
		if c == '_' {
			if prevUnderscore {
				return false
			}
			prevUnderscore = true
			continue
		}
		prevUnderscore = false
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			d = uint64(c|0x20-'a') + 10
		default:
			return false
		}
		if d >= base {
			return false
		}
		if !n.big {
			if n.mag > (^uint64(0)-d)/base {
				n.big = true
			} else {
				n.mag = n.mag*base + d
			}
		}
	}
	return true
}

// value is the VM value of the number: an int when it fits 32 bits.
func (n textNum) value() val {
	if n.big || n.mag > 1<<31 || n.mag == 1<<31 && !n.neg {
		return val{k: kBigInt}
	}
	v := int64(n.mag)
	if n.neg {
		v = -v
	}
	return val{k: kInt, ref: uint32(int32(v))}
}

// pyIntLiteral reports whether b is what Python's int(b, base) accepts
// for base 0 (prefixes, no leading zeros) or base 10.
func pyIntLiteral(b []byte, base0 bool) (textNum, bool) {
	var n textNum
	b = trimPySpace(b)
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		n.neg = b[0] == '-'
		b = b[1:]
	}
	if base0 && len(b) > 2 && b[0] == '0' {
		d := b[2:]
		if len(d) > 0 && d[0] == '_' {
			d = d[1:] // 0x_1f
		}
		switch b[1] | 0x20 {
		case 'x':
			return n, n.digits(d, 16)
		case 'o':
			return n, n.digits(d, 8)
		case 'b':
			return n, n.digits(d, 2)
		}
	}
	if !n.digits(b, 10) {
		return n, false
	}
	if base0 && b[0] == '0' && (n.mag != 0 || n.big) {
		return n, false // leading zeros
	}
	return n, true
}

// cStrtol reports whether C's strtol(line, &end, 0) consumes the line up
// to its newline or a NUL, and returns the number it read.
func cStrtol(b []byte) (textNum, bool) {
	var n textNum
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		n.neg = b[i] == '-'
		i++
	}
	base, valid := uint64(10), isDec
	switch {
	case i+2 < len(b) && b[i] == '0' && b[i+1]|0x20 == 'x' && isHex(b[i+2]):
		base, valid = 16, isHex
		i += 2
	case i < len(b) && b[i] == '0':
		base, valid = 8, isOct
	}
	start := i
	for i < len(b) && valid(b[i]) {
		i++
	}
	if i == start || i < len(b) && b[i] != 0 {
		return n, false
	}
	n.digits(b[start:i], base)
	return n, true
}

// parseTextInt parses an INT argument (C: strtol, then PyLong_FromString
// with base 0; Python: int(line, 0)) or a LONG one (both base 0, after
// the "L" is dropped).
func parseTextInt(line []byte, long bool) (val, bool) {
	if !long {
		if n, ok := cStrtol(line); ok {
			return n.value(), true
		}
	}
	if n, ok := pyIntLiteral(upToNUL(line), true); ok {
		return n.value(), true
	}
	return val{}, false
}

// parseTextFloat reports whether a FLOAT argument is accepted: by C's
// PyOS_string_to_double (no surrounding space, no underscores, finite
// unless spelled inf or nan, up to a NUL) or Python's float() (spaces,
// underscores, overflow to infinity, no NUL).
func parseTextFloat(line []byte) bool {
	c := upToNUL(line)
	if floatSyntax(c, false) {
		// Only an exponent or a very long mantissa can overflow.
		if isFloatWord(c) || bytes.IndexAny(c, "eE") < 0 && len(c) < 300 {
			return true
		}
		if f, err := strconv.ParseFloat(string(c), 64); err == nil || !math.IsInf(f, 0) {
			return true
		}
	}
	return bytes.IndexByte(line, 0) < 0 && floatSyntax(trimPySpace(line), true)
}

func isFloatWord(b []byte) bool {
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		b = b[1:]
	}
	return bytes.EqualFold(b, []byte("inf")) || bytes.EqualFold(b, []byte("infinity")) || bytes.EqualFold(b, []byte("nan"))
}

// floatSyntax checks a decimal float: [sign] (digits [. [digits]] |
// . digits) [e [sign] digits], or inf, infinity, nan; underscores
// between digits only for Python.
func floatSyntax(b []byte, underscores bool) bool {
	if len(b) == 0 {
		return false
	}
	if isFloatWord(b) {
		return true
	}
	if b[0] == '+' || b[0] == '-' {
		b = b[1:]
	}
	digits := func(d []byte) bool {
		if underscores {
			var n textNum
			return n.digits(d, 10)
		}
		for _, c := range d {
			if c < '0' || c > '9' {
				return false
			}
		}
		return len(d) > 0
	}
	mant, exp := b, []byte(nil)
	if i := bytes.IndexAny(b, "eE"); i >= 0 {
		mant, exp = b[:i], b[i+1:]
		if len(exp) > 0 && (exp[0] == '+' || exp[0] == '-') {
			exp = exp[1:]
		}
		if !digits(exp) {
			return false
		}
	}
	intPart, frac, dot := mant, []byte(nil), false
	if i := bytes.IndexByte(mant, '.'); i >= 0 {
		intPart, frac, dot = mant[:i], mant[i+1:], true
	}
	switch {
	case !dot:
		return digits(intPart)
	case len(intPart) == 0:
		return digits(frac)
	case len(frac) == 0:
		return digits(intPart)
	}
	return digits(intPart) && digits(frac)
}

// parseMemoIndex parses a GET or PUT key: int(line) in base 10 for both
// unpicklers (spaces, a sign and underscores allowed; C stops at a NUL).
func parseMemoIndex(line []byte) (uint32, error) {
	n, ok := pyIntLiteral(upToNUL(line), false)
	switch {
	case !ok:
		return 0, errors.New("invalid memo key")
	case n.neg && (n.mag != 0 || n.big):
		return 0, errors.New("negative memo key")
	case n.big || n.mag > 1<<32-1:
		return 0, errors.New("memo key out of range")
	}
	return uint32(n.mag), nil
}

// unescapeString decodes the body of a protocol-0 STRING argument the way
// Python's codecs.escape_decode does.
func unescapeString(b []byte) ([]byte, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return b, nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			return nil, errors.New("trailing \\ in string")
		}
		switch c = b[i]; c {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, c)
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 >= len(b) {
				return nil, errors.New("invalid \\x escape")
			}
			v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				return nil, errors.New("invalid \\x escape")
			}
			out = append(out, byte(v))
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(b[i]-'0')
			}
			out = append(out, byte(v))
		default:
			out = append(out, '\\', c)
		}
	}
	return out, nil
}

// rawUnicodeEscape decodes a protocol-0 UNICODE argument: bytes are
// Latin-1 code points, and \uXXXX / \UXXXXXXXX are escapes.
func rawUnicodeEscape(b []byte) ([]byte, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) && (b[i+1] == 'u' || b[i+1] == 'U') {
			n := 4
			if b[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(b) {
				return nil, errors.New("truncated \\uXXXX escape")
			}
			v, err := strconv.ParseUint(string(b[i+2:i+2+n]), 16, 32)
			if err != nil || v > 0x10FFFF {
				return nil, errors.New("invalid \\u escape")
			}
			out = utf8.AppendRune(out, rune(v))
			i += 1 + n
			continue
		}
		out = utf8.AppendRune(out, rune(c))
	}
	return out, nil
}
