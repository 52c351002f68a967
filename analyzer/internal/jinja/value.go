package jinja

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// The abstract value of an expression is a set of possibilities:
//
//   - constants: Python values the template itself spells out or computes
//     from literals (strings, numbers, lists, dicts);
//   - plain data: values of JSON shape the server passes in (messages,
//     tools, documents, special tokens, keyword arguments) or computes
//     from them; their attributes are dict keys and str/list/dict methods;
//   - objects that can reach Python internals: the globals (cycler,
//     joiner, lipsum, namespace, range, dict, self, ...), loop, macros,
//     and anything of unknown type (what an unknown attribute or a name
//     computed at render time returns);
//   - macros and bound methods of data, which calls resolve.
//
// A value is known only as precisely as all paths to it: joining two
// values keeps every possibility.

// cval is a constant: string, int64, float64, bool, none, bigInt, *clist
// or *cdict.
type cval any

type none struct{}

// bigInt is an integer literal beyond int64: a number of unknown value.
type bigInt struct{}

type clist struct {
	items []cval
	tuple bool
}

type cdict struct {
	keys, vals []cval
}

type dataKind uint8

const (
	dStr dataKind = 1 << iota
	dNum
	dBool
	dNone
	dList
	dDict
	dNumList // a list of numbers (range)
	dAll     = dStr | dNum | dBool | dNone | dList | dDict
)

type objKind uint32

const (
	oUnknown objKind = 1 << iota
	oLoop
	oCyclerClass
	oCycler
	oJoinerClass
	oJoiner
	oNamespaceClass
	oNamespace
	oRange
	oDictType
	oLipsum
	oRaise
	oStrftime
	oSelf
	oSuper
	oServerGlobal // request, config, url_for, ... (web frameworks)
)

var objNames = map[objKind]string{
	oUnknown: "an object of unknown type", oLoop: "loop", oCyclerClass: "cycler", oCycler: "a cycler",
	oJoinerClass: "joiner", oJoiner: "a joiner", oNamespaceClass: "namespace", oNamespace: "a namespace",
	oRange: "range", oDictType: "dict", oLipsum: "lipsum", oRaise: "raise_exception", oStrftime: "strftime_now",
	oSelf: "self", oSuper: "super", oServerGlobal: "a web framework global",
}

// maxConsts bounds the constants a value keeps before it is widened to
// data of the same types.
const maxConsts = 16

type method struct {
	name string
	recv *value // never holds methods itself
}

type value struct {
	consts  []cval
	data    dataKind
	obj     objKind
	macros  []int // sorted macro ids
	methods []method
	// inner: what a container built by the template holds when that may
	// reach internals (macros, globals); always flat (no inner of its own).
	inner *value
	// widened: types whose constants overflowed maxConsts; further
	// constants of those types are absorbed in data (so a loop counter
	// cannot grow a value forever).
	widened dataKind
}

func constVal(c cval) *value { return &value{consts: []cval{c}} }
func dataVal(d dataKind) *value {
	return &value{data: d}
}
func objVal(o objKind) *value { return &value{obj: o} }

var (
	unknownVal = func() *value { return objVal(oUnknown) }
	anyData    = func() *value { return dataVal(dAll) }
)

func (v *value) empty() bool {
	return v == nil || len(v.consts) == 0 && v.data == 0 && v.obj == 0 && len(v.macros) == 0 && len(v.methods) == 0
}

// internal reports whether the value may be an object that reaches Python
// internals (not plain data, constants or methods of those).
func (v *value) internal() bool { return v != nil && (v.obj != 0 || len(v.macros) > 0) }

// onlyConst reports whether the value is fully known.
func (v *value) onlyConst() bool {
	return v != nil && len(v.consts) > 0 && v.data == 0 && v.obj == 0 && len(v.macros) == 0 && len(v.methods) == 0
}

// maybeString reports whether the value may be a string not known as a
// constant (a name only known at render time).
func (v *value) maybeString() bool {
	return v != nil && (v.data&dStr != 0 || v.obj != 0 || len(v.macros) > 0)
}

func (v *value) clone() *value {
	if v == nil {
		return &value{}
	}
	c := *v
	c.consts = append([]cval(nil), v.consts...)
	c.macros = append([]int(nil), v.macros...)
	c.methods = append([]method(nil), v.methods...)
	if v.inner != nil {
		c.inner = v.inner.clone()
	}
	return &c
}

// join adds the possibilities of w to v and reports whether v changed.
func (v *value) join(w *value) bool {
	if w == nil || w == v {
		return false
	}
	changed := false
	if d := v.data | w.data; d != v.data {
		v.data, changed = d, true
	}
	if o := v.obj | w.obj; o != v.obj {
		v.obj, changed = o, true
	}
	if wd := v.widened | w.widened; wd != v.widened {
		v.widened, changed = wd, true
		kept := v.consts[:0]
		for _, c := range v.consts {
			if wd&kindOf(c) == 0 {
				kept = append(kept, c)
			}
		}
		v.consts = kept
	}
	for _, c := range w.consts {
		if v.addConst(c) {
			changed = true
		}
	}
	for _, m := range w.macros {
		i := sort.SearchInts(v.macros, m)
		if i < len(v.macros) && v.macros[i] == m {
			continue
		}
		v.macros = append(v.macros, 0)
		copy(v.macros[i+1:], v.macros[i:])
		v.macros[i] = m
		changed = true
	}
	if w.inner != nil {
		if v.inner == nil {
			v.inner = &value{}
		}
		if v.inner.join(w.inner) {
			changed = true
		}
	}
	for _, m := range w.methods {
		found := false
		for i := range v.methods {
			if v.methods[i].name == m.name {
				found = true
				if v.methods[i].recv.join(m.recv) {
					changed = true
				}
				break
			}
		}
		if !found {
			v.methods = append(v.methods, method{m.name, m.recv.clone()})
			changed = true
		}
	}
	return changed
}

func (v *value) addConst(c cval) bool {
	if v.widened&kindOf(c) != 0 {
		return false
	}
	for _, x := range v.consts {
		if ceq(x, c) {
			return false
		}
	}
	if len(v.consts) >= maxConsts {
		// widen: the constants become data of their types
		for _, x := range v.consts {
			v.data |= kindOf(x)
			v.widened |= kindOf(x)
		}
		v.data |= kindOf(c)
		v.widened |= kindOf(c)
		v.consts = nil
		return true
	}
	v.consts = append(v.consts, c)
	return true
}

// widen turns every constant into data of its type (the widening of a
// value that is still growing after many passes).
func (v *value) widen() {
	for _, c := range v.consts {
		v.data |= kindOf(c)
		v.widened |= kindOf(c)
	}
	v.consts = nil
	for _, m := range v.methods {
		m.recv.widen()
	}
	if v.inner != nil {
		v.inner.widen()
	}
}

func joinAll(vs ...*value) *value {
	out := &value{}
	for _, v := range vs {
		out.join(v)
	}
	return out
}

// kindOf is the data type a constant belongs to.
func kindOf(c cval) dataKind {
	switch x := c.(type) {
	case string:
		return dStr
	case int64, float64, bigInt:
		return dNum
	case bool:
		return dBool
	case none:
		return dNone
	case *clist:
		return dList
	case *cdict:
		return dDict
	default:
		_ = x
	}
	return dAll
}

// ceq reports whether two constants are the same value (and type).
func ceq(a, b cval) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || x != x && y != y)
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case none:
		_, ok := b.(none)
		return ok
	case bigInt:
		_, ok := b.(bigInt)
		return ok
	case *clist:
		y, ok := b.(*clist)
		if !ok || x.tuple != y.tuple || len(x.items) != len(y.items) {
			return false
		}
		for i := range x.items {
			if !ceq(x.items[i], y.items[i]) {
				return false
			}
		}
		return true
	case *cdict:
		y, ok := b.(*cdict)
		if !ok || len(x.keys) != len(y.keys) {
			return false
		}
		for i := range x.keys {
			if !ceq(x.keys[i], y.keys[i]) || !ceq(x.vals[i], y.vals[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// maxConstLen bounds constant strings and lists built by folding.
const (
	maxConstLen   = 1 << 16
	maxConstItems = 4096
)

// str is Python's str() of a constant, when aigis computes it exactly.
func pyStr(c cval) (string, bool) {
	switch x := c.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	case none:
		return "None", true
	case float64:
		return pyFloat(x)
	case *clist, *cdict:
		return pyRepr(c)
	}
	return "", false
}

// pyFloat is repr(float) for the values where Go's shortest formatting
// agrees with Python's.
func pyFloat(f float64) (string, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	a := math.Abs(f)
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		return "", false
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s, true
}

// pyRepr is repr() of a constant for the simple cases.
func pyRepr(c cval) (string, bool) {
	switch x := c.(type) {
	case string:
		for _, r := range x {
			if r < 0x20 || r >= 0x7f {
				return "", false
			}
		}
		q := "'"
		if strings.Contains(x, "'") && !strings.Contains(x, `"`) {
			q = `"`
		}
		s := strings.ReplaceAll(x, `\`, `\\`)
		if q == "'" {
			s = strings.ReplaceAll(s, "'", `\'`)
		}
		return q + s + q, true
	case *clist:
		parts := make([]string, len(x.items))
		for i, it := range x.items {
			s, ok := pyRepr(it)
			if !ok {
				return "", false
			}
			parts[i] = s
		}
		if x.tuple {
			if len(parts) == 1 {
				return "(" + parts[0] + ",)", true
			}
			return "(" + strings.Join(parts, ", ") + ")", true
		}
		return "[" + strings.Join(parts, ", ") + "]", true
	case *cdict:
		parts := make([]string, len(x.keys))
		for i := range x.keys {
			k, ok1 := pyRepr(x.keys[i])
			v, ok2 := pyRepr(x.vals[i])
			if !ok1 || !ok2 {
				return "", false
			}
			parts[i] = k + ": " + v
		}
		return "{" + strings.Join(parts, ", ") + "}", true
	}
	return pyStr(c)
}

// truthy is bool() of a constant.
func truthy(c cval) bool {
	switch x := c.(type) {
	case string:
		return x != ""
	case int64:
		return x != 0
	case float64:
		return x != 0
	case bool:
		return x
	case none:
		return false
	case *clist:
		return len(x.items) > 0
	case *cdict:
		return len(x.keys) > 0
	}
	return true
}

// describe names what a value may be, for messages.
func (v *value) describe() string {
	var names []string
	for k := objKind(1); k != 0 && k <= oServerGlobal; k <<= 1 {
		if v.obj&k != 0 {
			names = append(names, objNames[k])
		}
	}
	if len(v.macros) > 0 {
		names = append(names, "a macro")
	}
	if len(names) == 0 {
		if len(v.consts) > 0 && v.data == 0 {
			return "a constant"
		}
		return "request data"
	}
	if len(names) > 3 {
		names = append(names[:3], "...")
	}
	return strings.Join(names, " or ")
}
