package jinja

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/internal/rules"
)

// argVals are the evaluated arguments of a call, filter or test.
type argVals struct {
	pos     []*value
	kwNames []string
	kw      []*value
	dynArgs *value // *args, may be nil
	dynKwds *value // **kwargs, may be nil
}

func (in *interp) args(c *callArgs, sc *scope, off int) *argVals {
	a := &argVals{kwNames: c.kwNames}
	for _, n := range c.args {
		a.pos = append(a.pos, in.eval(n, sc))
	}
	for i, n := range c.kwVals {
		in.ident(c.kwNames[i], c.kwOffs[i], "a keyword argument")
		a.kw = append(a.kw, in.eval(n, sc))
	}
	if c.dynArgs != nil {
		a.dynArgs = in.eval(c.dynArgs, sc)
	}
	if c.dynKwds != nil {
		a.dynKwds = in.eval(c.dynKwds, sc)
	}
	return a
}

// arg returns positional argument i or keyword name, or nil. Dynamic
// arguments may stand for any of them.
func (in *interp) arg(a *argVals, i int, name string) *value {
	var v *value
	if i >= 0 && i < len(a.pos) {
		v = a.pos[i].clone()
	}
	for k, n := range a.kwNames {
		if n == name {
			if v == nil {
				v = &value{}
			}
			v.join(a.kw[k])
		}
	}
	if a.dynArgs != nil && i >= len(a.pos) && i >= 0 {
		if v == nil {
			v = &value{}
		}
		v.join(in.elems(a.dynArgs))
	}
	if a.dynKwds != nil && name != "" {
		if v == nil {
			v = &value{}
		}
		v.join(in.values(a.dynKwds))
	}
	return v
}

// all is every argument value joined.
func (in *interp) all(a *argVals) *value {
	v := joinAll(a.pos...)
	v.join(joinAll(a.kw...))
	if a.dynArgs != nil {
		v.join(a.dynArgs)
		v.join(in.elems(a.dynArgs))
	}
	if a.dynKwds != nil {
		v.join(a.dynKwds)
		v.join(in.values(a.dynKwds))
	}
	return v
}

func (in *interp) callExpr(c *callExpr, sc *scope, caller *value) *value {
	callee := in.eval(c.node, sc)
	a := in.args(&c.callArgs, sc, c.off)
	if caller != nil {
		a.kwNames = append(append([]string(nil), a.kwNames...), "caller")
		a.kw = append(a.kw, caller)
	}
	return in.call(callee, a, c.off)
}

// maxMacroSet bounds the macros one call may reach (real templates
// define tens).
const maxMacroSet = 256

// call calls every possible callee.
func (in *interp) call(callee *value, a *argVals, off int) *value {
	out := &value{}
	if callee.data != 0 {
		out.join(anyData()) // a callable the server passed in
	}
	for k := objKind(1); k != 0 && k <= oServerGlobal; k <<= 1 {
		if callee.obj&k != 0 {
			out.join(in.callObj(k, a, off))
		}
	}
	if len(callee.macros) > maxMacroSet {
		panic(&budgetError{fmt.Sprintf("a call may reach more than %d macros", maxMacroSet)})
	}
	for _, id := range callee.macros {
		in.step()
		out.join(in.callMacro(id, a))
	}
	for _, m := range callee.methods {
		out.join(in.callMethod(m, a, off))
	}
	return out
}

func (in *interp) callObj(k objKind, a *argVals, off int) *value {
	switch k {
	case oLoop:
		if v := in.arg(a, 0, ""); v != nil {
			in.grow(in.loopRecurse, in.elems(v))
		}
		return dataVal(dStr)
	case oCyclerClass:
		in.grow(in.cyclerItems, joinAll(a.pos...))
		if a.dynArgs != nil {
			in.grow(in.cyclerItems, in.elems(a.dynArgs))
		}
		return objVal(oCycler)
	case oJoinerClass:
		if v := in.arg(a, 0, "sep"); v != nil {
			in.grow(in.joinerSep, v)
		}
		return objVal(oJoiner)
	case oJoiner:
		return joinAll(dataVal(dStr), in.joinerSep)
	case oNamespaceClass:
		for _, p := range a.pos {
			in.grow(in.nsAny, in.values(p))
		}
		for i, n := range a.kwNames {
			x := in.ns[n]
			if x == nil {
				x = &value{}
				in.ns[n] = x
			}
			in.grow(x, a.kw[i])
		}
		if a.dynArgs != nil {
			in.grow(in.nsAny, in.values(in.elems(a.dynArgs)))
		}
		if a.dynKwds != nil {
			in.grow(in.nsAny, in.values(a.dynKwds))
		}
		return objVal(oNamespace)
	case oRange:
		return dataVal(dNumList)
	case oDictType:
		return in.dictCall(a)
	case oLipsum, oStrftime, oSuper:
		return dataVal(dStr)
	case oRaise:
		return dataVal(dNone)
	case oCycler, oNamespace:
		return dataVal(dNone) // not callable
	}
	// an object of unknown type: what it does with its arguments is
	// unknown, and it may look names up with them (__getattribute__,
	// str.format of a computed format string).
	all := in.all(a)
	if all.internal() {
		in.report(rules.JinjaComputedAttribute, off, fmt.Sprintf("the template calls an object of unknown type (reached through a name known only at render time or an unknown attribute) with %s", all.describe()))
	}
	for _, c := range all.consts {
		if s, ok := c.(string); ok {
			in.judge(unknownVal(), s, off, func(n string) string {
				return "the name " + strconv.Quote(n) + " through a call of an object of unknown type"
			})
		}
	}
	return unknownVal()
}

// dictCall is dict(...).
func (in *interp) dictCall(a *argVals) *value {
	all := in.all(a)
	if all.internal() {
		return containerOf(all, dDict)
	}
	if a.dynArgs == nil && a.dynKwds == nil && len(a.pos) <= 1 && !in.constMutable {
		d := &cdict{}
		ok := true
		if len(a.pos) == 1 {
			p := a.pos[0]
			if p.onlyConst() && len(p.consts) == 1 {
				switch x := p.consts[0].(type) {
				case *cdict:
					for i := range x.keys {
						d.set(x.keys[i], x.vals[i])
					}
				default:
					ok = false
				}
			} else {
				ok = false
			}
		}
		for i, n := range a.kwNames {
			if !ok {
				break
			}
			v := a.kw[i]
			if !v.onlyConst() || len(v.consts) != 1 {
				ok = false
				break
			}
			d.set(n, v.consts[0])
		}
		if ok {
			return constVal(d)
		}
	}
	return dataVal(dDict)
}

// callMacro binds the arguments to the macro's parameters; the result
// is what the macro renders.
func (in *interp) callMacro(id int, a *argVals) *value {
	if id < 0 || id >= len(in.macros) {
		return dataVal(dStr)
	}
	m := in.macros[id]
	sc := in.macroSc[id]
	if sc == nil {
		return dataVal(dStr)
	}
	extras := &value{}
	for i, p := range a.pos {
		if i < len(m.args) {
			in.bindParam(sc, m.args[i].name, p)
		} else {
			extras.join(p)
		}
	}
	kwExtra := &value{}
	for i, n := range a.kwNames {
		found := false
		for _, p := range m.args {
			if p.name == n {
				in.bindParam(sc, n, a.kw[i])
				found = true
			}
		}
		if !found {
			if n == "caller" {
				in.bindParam(sc, "caller", a.kw[i])
			} else {
				kwExtra.join(a.kw[i])
			}
		}
	}
	if a.dynArgs != nil {
		e := in.elems(a.dynArgs)
		for _, p := range m.args {
			in.bindParam(sc, p.name, e)
		}
		extras.join(e)
	}
	if a.dynKwds != nil {
		e := in.values(a.dynKwds)
		for _, p := range m.args {
			in.bindParam(sc, p.name, e)
		}
		kwExtra.join(e)
	}
	in.bindParam(sc, "varargs", containerOf(extras, dList))
	in.bindParam(sc, "kwargs", containerOf(kwExtra, dDict))
	if out := in.macroOut[id]; out != nil {
		return out.clone()
	}
	return dataVal(dStr)
}

var mutators = map[string]bool{
	"append": true, "extend": true, "insert": true, "update": true, "setdefault": true, "add": true,
	"appendleft": true, "extendleft": true, "sort": true,
}

// callMethod calls a bound method of a constant, of data, or of loop
// and cycler objects.
func (in *interp) callMethod(m method, a *argVals, off int) *value {
	recv := m.recv
	if recv.obj != 0 {
		switch m.name {
		case "cycle":
			return in.all(a)
		case "changed":
			return dataVal(dBool)
		case "next":
			return in.cyclerItems.clone()
		case "reset":
			return dataVal(dNone)
		}
		return unknownVal()
	}
	if mutators[m.name] {
		all := in.all(a)
		in.grow(in.mutated, all)
		in.grow(in.mutated, in.elems(all))
		in.grow(in.mutated, in.values(all))
		if len(recv.consts) > 0 && !in.constMutable {
			in.constMutable = true
			in.changed = true
		}
	}
	switch m.name {
	case "format", "format_map":
		return in.format(recv, a, off, m.name == "format_map")
	case "get", "pop", "setdefault":
		v := joinAll(in.values(recv), dataVal(dNone))
		if d := in.arg(a, 1, ""); d != nil {
			v.join(d)
		}
		if m.name == "pop" {
			v.join(in.elems(recv))
		}
		return v
	case "popitem", "items", "values", "keys":
		return containerOf(joinAll(in.elems(recv), in.values(recv)), dList)
	case "copy":
		return recv.clone()
	case "fromkeys", "maketrans":
		return containerOf(in.all(a), dDict)
	case "append", "extend", "insert", "update", "clear", "sort", "reverse", "remove", "add":
		return dataVal(dNone)
	case "count", "find", "rfind", "index", "rindex":
		return dataVal(dNum)
	case "split", "rsplit", "splitlines", "partition", "rpartition":
		if v := in.foldStrMethod(m.name, recv, a); v != nil {
			return v
		}
		return dataVal(dList)
	}
	if strings.HasPrefix(m.name, "is") || m.name == "startswith" || m.name == "endswith" {
		return dataVal(dBool)
	}
	if v := in.foldStrMethod(m.name, recv, a); v != nil {
		return v
	}
	return dataVal(dStr)
}

// constArgs returns the arguments when each is a single constant.
func constArgs(a *argVals) ([]cval, map[string]cval, bool) {
	if a.dynArgs != nil || a.dynKwds != nil {
		return nil, nil, false
	}
	pos := make([]cval, len(a.pos))
	for i, p := range a.pos {
		if !p.onlyConst() || len(p.consts) != 1 {
			return nil, nil, false
		}
		pos[i] = p.consts[0]
	}
	kw := map[string]cval{}
	for i, n := range a.kwNames {
		v := a.kw[i]
		if !v.onlyConst() || len(v.consts) != 1 {
			return nil, nil, false
		}
		kw[n] = v.consts[0]
	}
	return pos, kw, true
}

// foldStrMethod computes a str method on constants, or returns nil.
func (in *interp) foldStrMethod(name string, recv *value, a *argVals) *value {
	if !recv.onlyConst() {
		return nil
	}
	pos, kw, ok := constArgs(a)
	if !ok || len(kw) > 0 {
		return nil
	}
	out := &value{}
	for _, c := range recv.consts {
		s, ok := c.(string)
		if !ok || markupSensitive(s) {
			return nil
		}
		r, ok := strMethod(name, s, pos)
		if !ok {
			return nil
		}
		out.addConst(r)
	}
	return out
}

func strArg(pos []cval, i int) (*string, bool) {
	if i >= len(pos) {
		return nil, true
	}
	switch x := pos[i].(type) {
	case none:
		return nil, true
	case string:
		if markupSensitive(x) {
			return nil, false
		}
		return &x, true
	}
	return nil, false
}

func strMethod(name, s string, pos []cval) (cval, bool) {
	switch name {
	case "upper":
		return strings.ToUpper(s), len(pos) == 0
	case "lower", "casefold":
		return strings.ToLower(s), len(pos) == 0
	case "capitalize":
		return capitalize(s), len(pos) == 0
	case "swapcase":
		return swapcase(s), len(pos) == 0
	case "title":
		return pyTitle(s), len(pos) == 0
	case "strip", "lstrip", "rstrip":
		chars, ok := strArg(pos, 0)
		if !ok || len(pos) > 1 {
			return nil, false
		}
		return pyStrip(s, chars, name != "rstrip", name != "lstrip"), true
	case "removeprefix", "removesuffix":
		p, ok := strArg(pos, 0)
		if !ok || p == nil || len(pos) != 1 {
			return nil, false
		}
		if name == "removeprefix" {
			return strings.TrimPrefix(s, *p), true
		}
		return strings.TrimSuffix(s, *p), true
	case "replace":
		return replaceConst(s, pos)
	case "join":
		if len(pos) != 1 {
			return nil, false
		}
		return joinConst(s, pos[0])
	case "split", "rsplit":
		sep, ok := strArg(pos, 0)
		if !ok || len(pos) > 1 {
			return nil, false
		}
		var parts []string
		if sep == nil {
			parts = strings.FieldsFunc(s, isSpace)
		} else {
			if *sep == "" {
				return nil, false
			}
			parts = strings.Split(s, *sep)
		}
		if len(parts) > maxConstItems {
			return nil, false
		}
		l := &clist{}
		for _, p := range parts {
			l.items = append(l.items, p)
		}
		return l, true
	case "format":
		return nil, false
	}
	return nil, false
}

func replaceConst(s string, pos []cval) (cval, bool) {
	if len(pos) < 2 || len(pos) > 3 {
		return nil, false
	}
	old, ok1 := pos[0].(string)
	nw, ok2 := pos[1].(string)
	if !ok1 || !ok2 || markupSensitive(old) || markupSensitive(nw) {
		return nil, false
	}
	n := -1
	if len(pos) == 3 {
		c, ok := pos[2].(int64)
		if !ok {
			return nil, false
		}
		if c >= 0 {
			n = int(c)
		}
	}
	if old == "" && n != 0 {
		return nil, false
	}
	r := strings.Replace(s, old, nw, n)
	if len(r) > maxConstLen {
		return nil, false
	}
	return r, true
}

func joinConst(sep string, seq cval) (cval, bool) {
	var items []cval
	switch x := seq.(type) {
	case *clist:
		items = x.items
	case string:
		for _, r := range x {
			items = append(items, string(r))
		}
	case *cdict:
		items = x.keys
	default:
		return nil, false
	}
	parts := make([]string, len(items))
	n := 0
	for i, it := range items {
		s, ok := it.(string)
		if !ok || markupSensitive(s) {
			return nil, false
		}
		parts[i] = s
		n += len(s) + len(sep)
	}
	if n > maxConstLen {
		return nil, false
	}
	return strings.Join(parts, sep), true
}

// format judges str.format and str.format_map. With a constant format
// string each field's attribute and key accessors are names read from
// the argument they name; with a format string known only at render
// time, any attribute of any argument can be read.
func (in *interp) format(recv *value, a *argVals, off int, isMap bool) *value {
	argOf := func(f formatField) *value {
		if isMap {
			v := in.arg(a, 0, "")
			if v == nil {
				return &value{}
			}
			return in.values(v)
		}
		if f.arg == "" {
			// automatic numbering: any positional argument
			v := joinAll(a.pos...)
			if a.dynArgs != nil {
				v.join(in.elems(a.dynArgs))
			}
			return v
		}
		if n, err := strconv.Atoi(f.arg); err == nil {
			if v := in.arg(a, n, ""); v != nil {
				return v
			}
			return &value{}
		}
		if v := in.arg(a, -1, f.arg); v != nil {
			return v
		}
		return &value{}
	}
	out := &value{}
	all := in.all(a)
	if isMap {
		all = joinAll(all, in.values(all))
	}
	if !recv.onlyConst() && all.internal() {
		in.report(rules.JinjaComputedAttribute, off, fmt.Sprintf("str.%s with a format string known only at render time can read any attribute of %s", map[bool]string{true: "format_map", false: "format"}[isMap], all.describe()))
	}
	if !recv.onlyConst() {
		out.data |= dStr
	}
	for _, c := range recv.consts {
		f, ok := c.(string)
		if !ok {
			continue
		}
		lits, fields, ok := parseFormat(f)
		if !ok {
			continue // ValueError at render time
		}
		simple := true
		for _, fld := range fields {
			cur := argOf(fld)
			if len(fld.attrs) > 0 || fld.conv == 'r' || fld.conv == 'a' || fld.spec != "" {
				simple = false
			}
			for j, n := range fld.attrs {
				how := func(n string) string { return fmt.Sprintf("%q.format field .%s", clip(f), n) }
				if fld.isKey[j] {
					how = func(n string) string { return fmt.Sprintf("%q.format field [%s]", clip(f), n) }
					if isDunder(n) || in.escape.Has(n) {
						in.judge(cur, n, off, how)
					}
					cur = in.values(cur)
					continue
				}
				cur = in.attr(cur, n, off, how, false)
			}
		}
		if simple && !isMap && !markupSensitive(f) {
			if s, ok := in.foldFormat(lits, fields, a); ok {
				out.addConst(s)
				continue
			}
		}
		out.data |= dStr
	}
	return out
}

// foldFormat computes a str.format whose fields are plain {} {0} {name}.
func (in *interp) foldFormat(lits []string, fields []formatField, a *argVals) (string, bool) {
	pos, kw, ok := constArgs(a)
	if !ok || len(lits) != len(fields)+1 {
		return "", false
	}
	var b strings.Builder
	auto, manual := 0, false
	for i, f := range fields {
		b.WriteString(lits[i])
		var v cval
		switch {
		case f.arg == "":
			if auto >= len(pos) || manual {
				return "", false
			}
			v = pos[auto]
			auto++
		default:
			if n, err := strconv.Atoi(f.arg); err == nil {
				if n >= len(pos) || auto > 0 {
					return "", false
				}
				manual = true
				v = pos[n]
			} else if x, ok := kw[f.arg]; ok {
				v = x
			} else {
				return "", false
			}
		}
		s, ok := pyStr(v)
		if !ok || markupSensitive(s) {
			return "", false
		}
		b.WriteString(s)
	}
	b.WriteString(lits[len(lits)-1])
	if b.Len() > maxConstLen {
		return "", false
	}
	return b.String(), true
}
