package jinja

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Constant folding of the Python operations templates use to build
// strings. Each returns ok=false when aigis does not compute the exact
// result; the caller then treats the result as a string of unknown value.

// markupSensitive: Markup operands escape these characters, so results
// involving them are not folded (a Markup "x" + "<" is "x&lt;").
func markupSensitive(s string) bool { return strings.ContainsAny(s, `&<>"'`) }

// printf is Python's str % args (and Jinja's |format) for the
// conversions %s %r %c %d %i %u %x %X %o %% with optional mapping keys,
// flags, width and precision on strings and integers.
func printf(f string, args cval) (string, bool) {
	var pos []cval
	var mapping *cdict
	switch x := args.(type) {
	case *clist:
		if x.tuple {
			pos = x.items
		} else {
			pos = []cval{x}
		}
	case *cdict:
		mapping = x
		pos = []cval{x}
	default:
		pos = []cval{x}
	}
	var b strings.Builder
	next := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			b.WriteByte(f[i])
			continue
		}
		i++
		if i >= len(f) {
			return "", false
		}
		var arg cval
		haveArg := false
		if f[i] == '(' {
			j := strings.IndexByte(f[i:], ')')
			if j < 0 || mapping == nil {
				return "", false
			}
			key := f[i+1 : i+j]
			found := false
			for k := range mapping.keys {
				if s, ok := mapping.keys[k].(string); ok && s == key {
					arg, found = mapping.vals[k], true
				}
			}
			if !found {
				return "", false
			}
			haveArg = true
			i += j + 1
		}
		// flags, width, precision
		flags := ""
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			flags += string(f[i])
			i++
		}
		width, prec := -1, -1
		j := i
		for i < len(f) && isDigit(f[i]) {
			i++
		}
		if i > j {
			width, _ = strconv.Atoi(f[j:i])
		}
		if i < len(f) && f[i] == '.' {
			i++
			j = i
			for i < len(f) && isDigit(f[i]) {
				i++
			}
			prec, _ = strconv.Atoi(f[j:i])
		}
		if i >= len(f) || width > maxConstLen {
			return "", false
		}
		conv := f[i]
		if conv == '%' {
			b.WriteByte('%')
			continue
		}
		if !haveArg {
			if next >= len(pos) {
				return "", false
			}
			arg = pos[next]
			next++
		}
		var s string
		switch conv {
		case 's', 'r':
			var ok bool
			if conv == 's' {
				s, ok = pyStr(arg)
			} else {
				s, ok = pyRepr(arg)
			}
			if !ok {
				return "", false
			}
			if prec >= 0 && prec < utf8.RuneCountInString(s) {
				s = string([]rune(s)[:prec])
			}
		case 'c':
			switch x := arg.(type) {
			case int64:
				if x < 0 || x > 0x10ffff {
					return "", false
				}
				s = string(rune(x))
			case string:
				if utf8.RuneCountInString(x) != 1 {
					return "", false
				}
				s = x
			default:
				return "", false
			}
		case 'd', 'i', 'u', 'x', 'X', 'o':
			n, ok := arg.(int64)
			if !ok {
				if bv, isb := arg.(bool); isb {
					n, ok = map[bool]int64{false: 0, true: 1}[bv], true
				}
			}
			if !ok {
				return "", false
			}
			base := map[byte]int{'d': 10, 'i': 10, 'u': 10, 'x': 16, 'X': 16, 'o': 8}[conv]
			s = strconv.FormatInt(n, base)
			if conv == 'X' {
				s = strings.ToUpper(s)
			}
			if strings.Contains(flags, "#") && base != 10 {
				return "", false
			}
			if n >= 0 && strings.Contains(flags, "+") {
				s = "+" + s
			} else if n >= 0 && strings.Contains(flags, " ") {
				s = " " + s
			}
		default:
			return "", false
		}
		if n := utf8.RuneCountInString(s); width > n {
			pad := strings.Repeat(" ", width-n)
			switch {
			case strings.Contains(flags, "-"):
				s += pad
			case strings.Contains(flags, "0") && conv != 's' && conv != 'r' && conv != 'c':
				if s[0] == '-' || s[0] == '+' || s[0] == ' ' {
					s = s[:1] + strings.Repeat("0", width-n) + s[1:]
				} else {
					s = strings.Repeat("0", width-n) + s
				}
			default:
				s = pad + s
			}
		}
		b.WriteString(s)
		if b.Len() > maxConstLen {
			return "", false
		}
	}
	if mapping == nil && next < len(pos) {
		return "", false // not all arguments converted: TypeError
	}
	return b.String(), true
}

// formatField is one replacement field of a str.format string.
type formatField struct {
	arg      string   // "" (automatic numbering), digits, or a keyword
	attrs    []string // .name accessors, in order, interleaved with keys
	isKey    []bool   // whether attrs[i] is a [key] rather than .name
	conv     byte
	spec     string
	hasField bool
}

// parseFormat splits a str.format format string into literal text and
// fields, including the fields nested in format specs. ok is false when
// Python would reject the string.
func parseFormat(f string) (lits []string, fields []formatField, ok bool) {
	var lit strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c == '}' {
			if i+1 < len(f) && f[i+1] == '}' {
				lit.WriteByte('}')
				i++
				continue
			}
			return nil, nil, false
		}
		if c != '{' {
			lit.WriteByte(c)
			continue
		}
		if i+1 < len(f) && f[i+1] == '{' {
			lit.WriteByte('{')
			i++
			continue
		}
		// find the matching close brace; [...] may hold any character
		depth, j := 1, i+1
		inKey := false
		for ; j < len(f); j++ {
			switch {
			case inKey:
				if f[j] == ']' {
					inKey = false
				}
			case f[j] == '[':
				inKey = true
			case f[j] == '{':
				depth++
			case f[j] == '}':
				depth--
			}
			if depth == 0 {
				break
			}
		}
		if j >= len(f) {
			return nil, nil, false
		}
		body := f[i+1 : j]
		fld, nested, good := parseField(body)
		if !good {
			return nil, nil, false
		}
		lits = append(lits, lit.String())
		lit.Reset()
		fields = append(fields, fld)
		fields = append(fields, nested...)
		i = j
	}
	lits = append(lits, lit.String())
	return lits, fields, true
}

func parseField(body string) (formatField, []formatField, bool) {
	fld := formatField{hasField: true}
	// field name: up to ! or : outside [...]
	end := len(body)
	inKey := false
	for k := 0; k < len(body); k++ {
		if inKey {
			if body[k] == ']' {
				inKey = false
			}
			continue
		}
		if body[k] == '[' {
			inKey = true
			continue
		}
		if body[k] == '!' || body[k] == ':' {
			end = k
			break
		}
	}
	name := body[:end]
	rest := body[end:]
	// arg name then accessors
	k := 0
	for k < len(name) && name[k] != '.' && name[k] != '[' {
		k++
	}
	fld.arg = name[:k]
	for k < len(name) {
		switch name[k] {
		case '.':
			e := k + 1
			for e < len(name) && name[e] != '.' && name[e] != '[' {
				e++
			}
			if e == k+1 {
				return fld, nil, false
			}
			fld.attrs = append(fld.attrs, name[k+1:e])
			fld.isKey = append(fld.isKey, false)
			k = e
		case '[':
			e := strings.IndexByte(name[k:], ']')
			if e < 0 || e == 1 {
				return fld, nil, false
			}
			fld.attrs = append(fld.attrs, name[k+1:k+e])
			fld.isKey = append(fld.isKey, true)
			k += e + 1
		default:
			return fld, nil, false
		}
	}
	var nested []formatField
	if strings.HasPrefix(rest, "!") {
		if len(rest) < 2 {
			return fld, nil, false
		}
		fld.conv = rest[1]
		rest = rest[2:]
		if rest != "" && rest[0] != ':' {
			return fld, nil, false
		}
	}
	if strings.HasPrefix(rest, ":") {
		fld.spec = rest[1:]
		if strings.ContainsAny(fld.spec, "{}") {
			_, nf, ok := parseFormat(fld.spec)
			if !ok {
				return fld, nil, false
			}
			nested = nf
		}
	}
	return fld, nested, true
}

// title is Jinja's |title filter.
func title(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if unicode.IsSpace(r) || strings.ContainsRune("-({[<", r) {
			b.WriteRune(r)
			start = true
			continue
		}
		if start {
			b.WriteRune(unicode.ToUpper(r))
			start = false
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// pyTitle is Python's str.title.
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		if unicode.IsLetter(r) {
			if prevCased {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteRune(unicode.ToUpper(r))
			}
			prevCased = true
			continue
		}
		prevCased = false
		b.WriteRune(r)
	}
	return b.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + strings.ToLower(s[n:])
}

func swapcase(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, s)
}

// htmlEscape is markupsafe.escape.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func reverseString(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// pyIndex normalises a Python index into [0, n); ok is false when out of
// range.
func pyIndex(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

// pySlice returns the indices a Python slice selects.
func pySlice(n int, start, stop, step *int64) ([]int, bool) {
	st := int64(1)
	if step != nil {
		st = *step
	}
	if st == 0 {
		return nil, false
	}
	clamp := func(p *int64, def int64, lo, hi int64) int64 {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += int64(n)
			if v < lo {
				v = lo
			}
		} else if v > hi {
			v = hi
		}
		return v
	}
	var out []int
	if st > 0 {
		a := clamp(start, 0, 0, int64(n))
		b := clamp(stop, int64(n), 0, int64(n))
		for i := a; i < b; i += st {
			out = append(out, int(i))
		}
	} else {
		a := clamp(start, int64(n)-1, -1, int64(n)-1)
		b := clamp(stop, -1, -1, int64(n)-1)
		for i := a; i > b; i += st {
			out = append(out, int(i))
		}
	}
	return out, true
}

// pyStrip is str.strip/lstrip/rstrip with optional characters.
func pyStrip(s string, chars *string, left, right bool) string {
	f := isSpace
	if chars != nil {
		cs := *chars
		f = func(r rune) bool { return strings.ContainsRune(cs, r) }
	}
	if left {
		s = strings.TrimLeftFunc(s, f)
	}
	if right {
		s = strings.TrimRightFunc(s, f)
	}
	return s
}
