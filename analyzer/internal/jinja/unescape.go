package jinja

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// unescape decodes a string literal body the way jinja2's lexer does:
// value.encode("ascii", "backslashreplace").decode("unicode-escape").
// Non-ASCII characters are first written as \x, \u or \U escapes (so a
// backslash before one is a literal backslash), then Python's
// unicode-escape codec runs. inexact is set when a \N{...} names a
// character this package does not know (anything outside ASCII).
func unescape(s string) (out string, inexact bool, err error) {
	if !strings.Contains(s, `\`) {
		return s, false, nil
	}
	// backslashreplace
	var a strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80:
			a.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&a, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&a, `\u%04x`, r)
		default:
			fmt.Fprintf(&a, `\U%08x`, r)
		}
	}
	in := a.String()
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(in) {
			return "", false, errors.New(`\ at end of string`)
		}
		switch c := in[i]; c {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(c)
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte(12)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte(11)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(in) && j < i+3 && in[j] >= '0' && in[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(in[i:j], 8, 32)
			writeRune(&b, rune(v))
			i = j - 1
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
			if i+1+n > len(in) {
				return "", false, fmt.Errorf(`truncated \%c escape`, c)
			}
			h := in[i+1 : i+1+n]
			for k := 0; k < len(h); k++ {
				if !isHex(h[k]) {
					return "", false, fmt.Errorf(`truncated \%c escape`, c)
				}
			}
			v, _ := strconv.ParseUint(h, 16, 32)
			if v > 0x10ffff {
				return "", false, errors.New("illegal Unicode character")
			}
			writeRune(&b, rune(v))
			i += n
		case 'N':
			if i+1 >= len(in) || in[i+1] != '{' {
				return "", false, errors.New("malformed \\N character escape")
			}
			end := strings.IndexByte(in[i+2:], '}')
			if end <= 0 {
				return "", false, errors.New("malformed \\N character escape")
			}
			name := strings.ToUpper(in[i+2 : i+2+end])
			if ch, ok := asciiNames[name]; ok {
				b.WriteByte(ch)
			} else {
				b.WriteRune(utf8.RuneError)
				inexact = true
			}
			i += 2 + end
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String(), inexact, nil
}

func writeRune(b *strings.Builder, r rune) {
	if r < 0x80 {
		b.WriteByte(byte(r))
		return
	}
	b.WriteRune(r)
}
