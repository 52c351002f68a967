package pickle

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
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

// digitsWith reports whether b is one or more digits (ok) with single
// underscores between them, as Python's number literals allow.
func digitsWith(b []byte, ok func(byte) bool) bool {
	if len(b) == 0 || !ok(b[0]) || !ok(b[len(b)-1]) {
		return false
	}
	for i := 1; i < len(b); i++ {
		if b[i] == '_' {
			if b[i-1] == '_' {
				return false
			}
		} else if !ok(b[i]) {
			return false
		}
	}
	return true
}

func isDec(c byte) bool { return c >= '0' && c <= '9' }
func isOct(c byte) bool { return c >= '0' && c <= '7' }
func isBin(c byte) bool { return c == '0' || c == '1' }
func isHex(c byte) bool { return isDec(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

// pyIntLiteral reports whether b is what Python's int(b, base) accepts
// for base 0 (prefixes, no leading zeros) or base 10, and returns the
// digits without underscores and the base they are in.
func pyIntLiteral(b []byte, base0 bool) (digits string, base int, neg, ok bool) {
	b = trimPySpace(b)
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	clean := func(d []byte) string { return strings.ReplaceAll(string(d), "_", "") }
	if base0 && len(b) > 2 && b[0] == '0' {
		d := b[2:]
		if len(d) > 0 && d[0] == '_' {
			d = d[1:] // 0x_1f
		}
		switch b[1] | 0x20 {
		case 'x':
			return clean(d), 16, neg, digitsWith(d, isHex)
		case 'o':
			return clean(d), 8, neg, digitsWith(d, isOct)
		case 'b':
			return clean(d), 2, neg, digitsWith(d, isBin)
		}
	}
	if !digitsWith(b, isDec) {
		return "", 0, false, false
	}
	d := clean(b)
	if base0 && len(d) > 1 && d[0] == '0' && strings.Trim(d, "0") != "" {
		return "", 0, false, false // leading zeros
	}
	return d, 10, neg, true
}

// cStrtol reports whether C's strtol(line, &end, 0) consumes the line up
// to its newline or a NUL, and returns the digits and base it read.
func cStrtol(b []byte) (digits string, base int, neg, ok bool) {
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	base, valid := 10, isDec
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
		return "", 0, false, false
	}
	return string(b[start:i]), base, neg, true
}

// textInt is the value of an INT or LONG argument. bigOK marks a value
// outside int64 that Python holds as a long.
func textInt(digits string, base int, neg bool) val {
	n, ok := new(big.Int).SetString(digits, base)
	if !ok {
		return val{k: kBigInt}
	}
	if neg {
		n.Neg(n)
	}
	if n.IsInt64() && n.Int64() >= math.MinInt32 && n.Int64() <= math.MaxInt32 {
		return val{k: kInt, ref: uint32(int32(n.Int64()))}
	}
	return val{k: kBigInt}
}

// parseTextInt parses an INT argument (C: strtol, then PyLong_FromString
// with base 0; Python: int(line, 0)) or a LONG one (both base 0, after
// the "L" is dropped).
func parseTextInt(line []byte, long bool) (val, bool) {
	if !long {
		if d, base, neg, ok := cStrtol(line); ok {
			return textInt(d, base, neg), true
		}
	}
	if d, base, neg, ok := pyIntLiteral(upToNUL(line), true); ok {
		return textInt(d, base, neg), true
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
		if f, err := strconv.ParseFloat(string(c), 64); err == nil || isFloatWord(c) || !math.IsInf(f, 0) {
			return true
		}
	}
	return bytes.IndexByte(line, 0) < 0 && floatSyntax(trimPySpace(line), true)
}

func isFloatWord(b []byte) bool {
	switch strings.ToLower(strings.TrimLeft(string(b), "+-")) {
	case "inf", "infinity", "nan":
		return true
	}
	return false
}

// floatSyntax checks a decimal float: [sign] (digits [. [digits]] |
// . digits) [e [sign] digits], or inf, infinity, nan; underscores
// between digits only for Python.
func floatSyntax(b []byte, underscores bool) bool {
	if len(b) == 0 {
		return false
	}
	if isFloatWord(b) && strings.Count(string(b), "+")+strings.Count(string(b), "-") <= 1 {
		return true
	}
	if b[0] == '+' || b[0] == '-' {
		b = b[1:]
	}
	digits := func(d []byte) bool {
		if underscores {
			return digitsWith(d, isDec)
		}
		return len(d) > 0 && bytes.IndexFunc(d, func(r rune) bool { return r < '0' || r > '9' }) < 0
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
	d, _, neg, ok := pyIntLiteral(upToNUL(line), false)
	if !ok {
		return 0, errors.New("invalid memo key")
	}
	n, err := strconv.ParseUint(d, 10, 64)
	switch {
	case neg && strings.Trim(d, "0") != "":
		return 0, errors.New("negative memo key")
	case err != nil || n > 1<<32-1:
		return 0, errors.New("memo key out of range")
	}
	return uint32(n), nil
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
