package numpy

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aigis-dev/aigis/analyzer"
)

// dtype is what numpy.dtype makes of a header's descr, as far as the
// scanner needs it: the item size, whether items are Python objects (a
// pickle follows the header), and for weight forensics the float type.
type dtype struct {
	itemsize int64
	object   bool
	float    analyzer.DType // little-endian float arrays
	void     bool           // dt.type is numpy.void (structured, subarray or V)
	fields   bool           // dt.names is not None
}

// maxDescrDepth bounds nested descriptions (numpy recurses through
// Python's recursion limit; real files nest a few levels).
const maxDescrDepth = 64

var errDescr = errors.New("descr is not a valid dtype descriptor")

// descrToDtype is numpy.lib.format.descr_to_dtype: a string is a dtype
// string, a tuple is (descr, shape), anything else is iterated as a
// list of fields, each (name, descr) or (name, descr, shape).
func descrToDtype(v pyValue, depth int) (dtype, error) {
	if depth > maxDescrDepth {
		return dtype{}, errors.New("descr nested too deeply")
	}
	switch v.kind {
	case pyStr:
		return parseDtypeString(v.str, depth+1)
	case pyTuple:
		if len(v.items) < 2 {
			return dtype{}, errDescr
		}
		base, err := descrToDtype(v.items[0], depth+1)
		if err != nil {
			return dtype{}, err
		}
		return withShape(base, v.items[1])
	case pyList, pyDict, pySet:
		// A dict is iterated over its keys, a set in hash order (which
		// changes neither the size nor the presence of objects).
		return fieldsDtype(v.items, depth+1)
	}
	// bytes iterate as ints, numbers and None not at all.
	return dtype{}, errDescr
}

// fieldsDtype builds a structured dtype from (name, descr[, shape])
// fields, skipping unnamed void padding as descr_to_dtype does.
func fieldsDtype(fields []pyValue, depth int) (dtype, error) {
	dt := dtype{void: true, fields: true}
	seen := map[string]bool{}
	for _, f := range fields {
		var parts []pyValue
		switch f.kind {
		case pyStr: // a string unpacks into its characters
			for _, r := range f.str {
				parts = append(parts, pyValue{kind: pyStr, str: string(r)})
			}
		case pyTuple, pyList, pyDict:
			parts = f.items
		default:
			// A set field unpacks in hash order, random per process:
			// numpy's reading cannot be predicted.
			return dtype{}, errDescr
		}
		if len(parts) != 2 && len(parts) != 3 {
			return dtype{}, fmt.Errorf("structured descr field of %d values", len(parts))
		}
		sub, err := descrToDtype(parts[1], depth+1)
		if err != nil {
			return dtype{}, err
		}
		if len(parts) == 3 {
			if sub, err = withShape(sub, parts[2]); err != nil {
				return dtype{}, err
			}
		}
		name := parts[0]
		isPad := name.kind == pyStr && name.str == "" && sub.void && !sub.fields
		if !isPad {
			var title *pyValue
			if name.kind == pyTuple {
				if len(name.items) != 2 {
					return dtype{}, errDescr
				}
				title, name = &name.items[0], name.items[1]
			}
			if name.kind != pyStr {
				return dtype{}, errors.New("field names must be strings")
			}
			if seen[name.str] {
				return dtype{}, fmt.Errorf("field %q occurs more than once", clip(name.str))
			}
			seen[name.str] = true
			if title != nil && title.kind == pyStr {
				if seen[title.str] {
					return dtype{}, fmt.Errorf("title %q is already used", clip(title.str))
				}
				seen[title.str] = true
			}
			dt.object = dt.object || sub.object
		}
		if sub.itemsize < 0 || dt.itemsize > math.MaxInt64-sub.itemsize {
			return dtype{}, errors.New("structured descr overflows")
		}
		dt.itemsize += sub.itemsize
	}
	return dt, nil
}

// withShape is numpy.dtype((base, shape)): a subarray, or base itself
// for the shapes () and 1.
func withShape(base dtype, shape pyValue) (dtype, error) {
	var dims []pyValue
	switch {
	case shape.kind == pyInt && !shape.b:
		if shape.i == 1 {
			return base, nil // deprecated synonym of the base type
		}
		dims = []pyValue{shape}
	case shape.kind == pyTuple:
		if len(shape.items) == 0 {
			return base, nil
		}
		dims = shape.items
	default:
		return dtype{}, errors.New("invalid shape in fixed-type tuple")
	}
	n := base.itemsize
	for _, d := range dims {
		if d.kind != pyInt || d.i < 0 {
			return dtype{}, errors.New("invalid shape in fixed-type tuple")
		}
		if d.i > 0 && n > math.MaxInt64/d.i {
			return dtype{}, errors.New("subarray size overflows")
		}
		n *= d.i
	}
	return dtype{itemsize: n, object: base.object, void: true}, nil
}

// parseDtypeString is numpy.dtype(str) (_convert_from_str in numpy's
// descriptor.c): comma strings, a byte-order character, datetime types,
// one-letter typecodes, kind plus size ("f4", "S10", "U3"), and the
// names of np.sctypeDict, looked up with the byte-order character still
// on.
func parseDtypeString(s string, depth int) (dtype, error) {
	if s == "" || !utf8.ValidString(s) {
		return dtype{}, fmt.Errorf("data type %q not understood", clip(s))
	}
	if isCommaString(s) {
		return commaString(s, depth)
	}
	t := s
	littleOrNative := true
	switch t[0] {
	case '>':
		littleOrNative = false
		t = t[1:]
	case '<', '=', '|':
		t = t[1:]
	}
	if t == "" {
		return dtype{}, fmt.Errorf("data type %q not understood", clip(s))
	}
	if isDatetime(t) {
		if !datetimeUnit(t) {
			return dtype{}, fmt.Errorf("invalid datetime metadata in %q", clip(s))
		}
		return dtype{itemsize: 8}, nil
	}
	if len(t) == 1 {
		if dt, ok := typeChars[t[0]]; ok {
			if littleOrNative {
				dt.float = floatOf(t[0], dt.itemsize)
			}
			return dt, nil
		}
		return byName(s)
	}
	kind := t[0]
	size, ok := strtol(t[1:])
	if !ok {
		return byName(s)
	}
	switch kind {
	case 'S', 'a':
		return flexible(s, int64(size))
	case 'U':
		return flexible(s, int64(int32(uint32(size)<<2)))
	case 'V':
		dt, err := flexible(s, int64(size))
		dt.void = true
		return dt, err
	}
	if size == 0 {
		return byName(s)
	}
	dt, ok := typestr(kind, size)
	if !ok {
		return byName(s)
	}
	if littleOrNative {
		dt.float = floatOf(kind, dt.itemsize)
	}
	return dt, nil
}

func byName(s string) (dtype, error) {
	if dt, ok := typeNames[s]; ok {
		return dt, nil
	}
	return dtype{}, fmt.Errorf("data type %q not understood", clip(s))
}

func flexible(s string, size int64) (dtype, error) {
	if size < 0 {
		return dtype{}, fmt.Errorf("data type %q has a negative size", clip(s))
	}
	return dtype{itemsize: size}, nil
}

func floatOf(kind byte, size int64) analyzer.DType {
	if kind == 'f' || kind == 'e' || kind == 'd' {
		return map[int64]analyzer.DType{2: analyzer.F16, 4: analyzer.F32, 8: analyzer.F64}[size]
	}
	return analyzer.OtherDType
}

// typestr is PyArray_TypestrConvert on x86-64: the sizes each kind has.
func typestr(kind byte, size int32) (dtype, bool) {
	ok := false
	switch kind {
	case 'b':
		ok = size == 1
	case 'i', 'u':
		ok = size == 1 || size == 2 || size == 4 || size == 8
	case 'f':
		ok = size == 2 || size == 4 || size == 8 || size == 16
	case 'c':
		ok = size == 8 || size == 16 || size == 32
	case 'O':
		// 'O4' and 'O8' are deprecated spellings of object.
		if size == 4 || size == 8 {
			return dtype{itemsize: 8, object: true}, true
		}
	}
	return dtype{itemsize: int64(size)}, ok
}

// strtol parses all of s as C's strtol(s, &end, 10) would and truncates
// the result to a C int, as numpy does with it; ok is false unless the
// number ends the string.
func strtol(s string) (int32, bool) {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var n uint64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n < 1<<63 {
			n = n*10 + uint64(s[i]-'0')
		}
	}
	if i == start || i != len(s) {
		return 0, false
	}
	v := int64(math.MaxInt64)
	if n < 1<<63 {
		v = int64(n)
	}
	if neg {
		v = -v
	}
	return int32(v), true
}

// isDatetime is numpy's is_datetime_typestr.
func isDatetime(t string) bool {
	return len(t) >= 2 && t[1] == '8' && (t[0] == 'M' || t[0] == 'm') ||
		strings.HasPrefix(t, "datetime64") || strings.HasPrefix(t, "timedelta64")
}

var datetimeRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:[Mm]8|datetime64|timedelta64)(?:\[\s*[0-9]*\s*(?:Y|M|W|D|h|m|s|ms|us|μs|ns|ps|fs|as|generic)\s*(?:/\s*[0-9]+\s*)?\])?$`)
})

// datetimeUnit checks the unit of a datetime type ("M8[ns]").
func datetimeUnit(t string) bool { return datetimeRE().MatchString(t) }

// isCommaString is numpy's _check_for_commastring: a leading digit
// (after a byte-order character), a leading "()", or a comma outside
// square brackets.
func isCommaString(s string) bool {
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	order := func(c byte) bool { return strings.IndexByte("<>|=", c) >= 0 }
	if digit(s[0]) || len(s) > 1 && order(s[0]) && digit(s[1]) {
		return true
	}
	if len(s) > 1 && s[0] == '(' && s[1] == ')' || len(s) > 3 && order(s[0]) && s[1] == '(' && s[2] == ')' {
		return true
	}
	sq := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',':
			if sq == 0 {
				return true
			}
		case '[':
			sq++
		case ']':
			sq--
		}
	}
	return false
}

// The regular expressions of numpy.core._internal._commastring.
var (
	formatRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([<>|=]?)( *[(]?[ ,0-9]*[)]? *)([<>|=]?)([A-Za-z0-9.?]*(?:\[[a-zA-Z0-9,.]+\])?)`)
	})
	sepRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + pySpace + `*,` + pySpace + `*`) })
	spaceRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + pySpace + `+$`) })
)

// pySpace is Python's \s for str patterns.
const pySpace = `[\t\n\v\f\r \x{1c}-\x{1f}\x{85}\p{Z}]`

// commaString is numpy's _commastring followed by
// _convert_from_commastring: one item is a dtype (with a repeat count,
// a subarray), several are the fields f0, f1, ...
func commaString(s string, depth int) (dtype, error) {
	if depth > maxDescrDepth {
		return dtype{}, errors.New("descr nested too deeply")
	}
	var items []dtype
	for start := 0; start < len(s); {
		m := formatRE().FindStringSubmatchIndex(s[start:])
		if m == nil {
			return dtype{}, fmt.Errorf("format number %d of %q is not recognized", len(items)+1, clip(s))
		}
		g := func(i int) string { return s[start+m[2*i] : start+m[2*i+1]] }
		order1, repeats, order2, name := g(1), g(2), g(3), g(4)
		start += m[1]
		if start < len(s) {
			if spaceRE().MatchString(s[start:]) {
				start = len(s)
			} else if sep := sepRE().FindStringIndex(s[start:]); sep != nil {
				start += sep[1]
			} else {
				return dtype{}, fmt.Errorf("format number %d of %q is not recognized", len(items)+1, clip(s))
			}
		}
		conv := func(o string) string {
			if o == "=" {
				return "<"
			}
			return o
		}
		order := order1
		if order2 != "" {
			if order1 != "" && conv(order1) != conv(order2) {
				return dtype{}, fmt.Errorf("inconsistent byte-order specification %s and %s", order1, order2)
			}
			order = order2
		}
		if order == "|" || order == "=" || order == "<" {
			order = ""
		}
		dt, err := parseDtypeString(order+name, depth+1)
		if err != nil {
			return dtype{}, err
		}
		if repeats != "" {
			r, err := parseLiteral(repeats, literalOptions{})
			if err != nil {
				return dtype{}, err
			}
			if dt, err = withShape(dt, r); err != nil {
				return dtype{}, err
			}
		}
		items = append(items, dt)
		if len(items) > maxLiteralItems {
			return dtype{}, errors.New("too many fields")
		}
	}
	if len(items) == 1 {
		return items[0], nil
	}
	dt := dtype{void: true, fields: true}
	for _, it := range items {
		if dt.itemsize > math.MaxInt64-it.itemsize {
			return dtype{}, errors.New("structured descr overflows")
		}
		dt.itemsize += it.itemsize
		dt.object = dt.object || it.object
	}
	return dt, nil
}
