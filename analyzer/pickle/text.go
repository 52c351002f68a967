package pickle

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

func trimSpace(b []byte) []byte { return bytes.TrimSpace(b) }

// clip bounds a byte slice for error messages.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// isPyFloatWord accepts the words Python's float() does that Go's parser
// spells differently.
func isPyFloatWord(b []byte) bool {
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity":
		return true
	}
	return false
}

// isBigInt reports whether s is a decimal integer too large for int64
// (Python ints are unbounded; underscores are allowed between digits).
func isBigInt(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if s == "" {
		return false
	}
	prevUnderscore := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			prevUnderscore = false
		case c == '_' && !prevUnderscore:
			prevUnderscore = true
		default:
			return false
		}
	}
	return !prevUnderscore
}

func parseMemoIndex(line []byte) (uint32, error) {
	n, err := strconv.ParseInt(string(trimSpace(line)), 10, 64)
	if err != nil {
		return 0, errors.New("invalid memo key")
	}
	if n < 0 {
		return 0, errors.New("negative memo key")
	}
	if n > 1<<32-1 {
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
