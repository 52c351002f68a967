package jinja

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/internal/rules"
)

// The interpreter runs the template abstractly: every branch, every loop
// body once, every macro body once per pass, with variables bound to the
// join of everything ever assigned to them (scoped as Jinja scopes them:
// template, for, macro, call, with, block, filter). Passes repeat until no
// binding grows, so a value assigned late in the template reaches the
// uses before it. The last pass reports.
//
// Names are judged where Python would look them up: attribute access
// (.name), |attr, subscripts (Jinja's getitem falls back to getattr for
// string keys), attribute paths of map, selectattr, sort, groupby, sum,
// unique, min, max and join, and the fields of str.format strings.

const (
	maxPasses = 64
	maxSteps  = 1 << 20
	// widenAfter: from this pass on, a value that still grows loses its
	// constants, which bounds the passes (a counter would otherwise count
	// up to maxConsts first).
	widenAfter = 6
)

type scope struct {
	parent *scope
	vars   map[string]*value
	// definite: names this scope always binds before they are read (loop
	// targets, macro parameters); lookups stop there.
	definite map[string]bool
}

type interp struct {
	escape, internalNames, serverGlobals, loaderTags *rules.List

	macros   []*macroStmt
	macroSc  map[int]*scope
	macroOut map[int]*value
	scopes   map[node]*scope
	root     *scope

	// what flows through mutable state, joined over the whole template
	ns          map[string]*value // namespace attributes by name
	nsAny       *value            // namespace attributes set from dicts
	cyclerItems *value
	joinerSep   *value
	mutated     *value // everything passed to append, update, ...
	loopItems   *value
	loopRecurse *value
	// constMutable: a mutating method may be called on a constant list
	// or dict, so constant containers are not trusted.
	constMutable bool

	// assigned: names the template binds somewhere; a global of that
	// name is then not reported as used (it may still be read)
	assigned map[string]bool

	changed  bool
	widening bool
	steps    int
	issues   []Issue
	seen     map[string]bool
}

func newInterp(set *rules.Set, macros []*macroStmt) *interp {
	return &interp{
		escape:        set.List("escape_attributes"),
		internalNames: set.List("internal_attributes"),
		serverGlobals: set.List("sandbox_globals"),
		loaderTags:    set.List("loader_tags"),
		macros:        macros,
		assigned:      map[string]bool{},
		macroSc:       map[int]*scope{},
		macroOut:      map[int]*value{},
		scopes:        map[node]*scope{},
		root:          &scope{vars: map[string]*value{}, definite: map[string]bool{}},
		ns:            map[string]*value{},
		nsAny:         &value{},
		cyclerItems:   &value{},
		joinerSep:     &value{},
		mutated:       &value{},
		loopItems:     &value{},
		loopRecurse:   &value{},
	}
}

func (in *interp) report(rule rules.ID, off int, msg string) {
	key := string(rule) + "\x00" + msg
	if in.seen[key] {
		return
	}
	in.seen[key] = true
	in.issues = append(in.issues, Issue{Rule: rule, Off: off, Msg: msg})
}

func (in *interp) grow(dst, v *value) {
	if dst.join(v) {
		in.changed = true
		if in.widening {
			dst.widen()
		}
	}
}

func (in *interp) step() {
	in.steps++
	if in.steps > maxSteps {
		panic(&budgetError{fmt.Sprintf("analysis exceeded %d steps", maxSteps)})
	}
}

// run analyses the template to a fixed point and returns the issues of
// the last pass.
func (in *interp) run(body []node) {
	in.prepare(body, in.root)
	for pass := 0; ; pass++ {
		if pass >= maxPasses {
			panic(&budgetError{fmt.Sprintf("values still growing after %d passes", maxPasses)})
		}
		in.changed = false
		in.widening = pass >= widenAfter
		in.issues = nil
		in.seen = map[string]bool{}
		in.body(body, in.root)
		if !in.changed {
			return
		}
	}
}

// prepare creates the scopes of the statements that introduce one.
func (in *interp) prepare(body []node, sc *scope) {
	for _, n := range body {
		in.prepareStmt(n, sc)
	}
}

func (in *interp) child(n node, parent *scope) *scope {
	s := &scope{parent: parent, vars: map[string]*value{}, definite: map[string]bool{}}
	in.scopes[n] = s
	return s
}

func (in *interp) prepareStmt(n node, sc *scope) {
	switch s := n.(type) {
	case *forStmt:
		c := in.child(s, sc)
		in.prepare(s.body, c)
		in.prepare(s.else_, c)
	case *ifStmt:
		in.prepare(s.body, sc)
		for _, e := range s.elifs {
			in.prepare(e.body, sc)
		}
		in.prepare(s.else_, sc)
	case *macroStmt:
		c := in.child(s, sc)
		in.macroSc[s.id] = c
		in.prepare(s.body, c)
	case *callBlockStmt:
		c := in.child(s.macro, sc)
		in.macroSc[s.macro.id] = c
		in.prepare(s.macro.body, c)
	case *filterBlockStmt:
		in.prepare(s.body, in.child(s, sc))
	case *withStmt:
		in.prepare(s.body, in.child(s, sc))
	case *blockStmt:
		in.prepare(s.body, in.child(s, sc))
	case *assignBlockStmt:
		in.prepare(s.body, in.child(s, sc))
	case *scopeStmt:
		in.prepare(s.body, in.child(s, sc))
	}
}

// bindParam binds a name the scope always sets before use.
func (in *interp) bindParam(sc *scope, name string, v *value) {
	sc.definite[name] = true
	in.bind(sc, name, v)
}

func (in *interp) bind(sc *scope, name string, v *value) {
	in.step()
	in.assigned[name] = true
	x := sc.vars[name]
	if x == nil {
		x = &value{}
		sc.vars[name] = x
	}
	in.grow(x, v)
}

func (in *interp) body(body []node, sc *scope) {
	for _, n := range body {
		in.stmt(n, sc)
	}
}

func (in *interp) stmt(n node, sc *scope) {
	in.step()
	switch s := n.(type) {
	case *outputStmt:
		for _, x := range s.nodes {
			if _, ok := x.(*templateData); !ok {
				in.eval(x, sc)
			}
		}
	case *loadStmt:
		in.report(rules.JinjaTemplateLoading, s.off, fmt.Sprintf("{%% %s %%} loads another template", s.tag))
		in.eval(s.template, sc)
		for _, t := range s.targets {
			in.ident(t, s.off, "an imported name")
			in.bind(sc, t, unknownVal())
		}
	case *forStmt:
		c := in.scopes[s]
		it := in.eval(s.iter, sc)
		el := in.elems(it)
		el.join(in.loopRecurse)
		in.grow(in.loopItems, el)
		in.assignParam(s.target, el, c)
		in.bindParam(c, "loop", objVal(oLoop))
		if s.test != nil {
			in.eval(s.test, c)
		}
		in.body(s.body, c)
		in.body(s.else_, c)
	case *ifStmt:
		in.eval(s.test, sc)
		in.body(s.body, sc)
		for _, e := range s.elifs {
			in.eval(e.test, sc)
			in.body(e.body, sc)
		}
		in.body(s.else_, sc)
	case *macroStmt:
		in.macro(s)
		in.bind(sc, s.name, &value{macros: []int{s.id}})
	case *callBlockStmt:
		in.macro(s.macro)
		in.callExpr(s.call, sc, &value{macros: []int{s.macro.id}})
	case *filterBlockStmt:
		c := in.scopes[s]
		in.body(s.body, c)
		in.filterExpr(s.filter, dataVal(dStr), sc)
	case *withStmt:
		c := in.scopes[s]
		for i, t := range s.targets {
			in.assignParam(t, in.eval(s.values[i], sc), c)
		}
		in.body(s.body, c)
	case *blockStmt:
		c := in.scopes[s]
		in.bindParam(c, "super", objVal(oSuper))
		in.body(s.body, c)
	case *assignStmt:
		in.assign(s.target, in.eval(s.value, sc), sc)
	case *assignBlockStmt:
		c := in.scopes[s]
		in.body(s.body, c)
		v := in.render(s.body, c)
		if s.filter != nil {
			v = in.filterExpr(s.filter, v, sc)
		}
		in.assign(s.target, v, sc)
	case *scopeStmt:
		c := in.scopes[s]
		if s.expr != nil {
			in.eval(s.expr, sc)
		}
		in.body(s.body, c)
	case *exprStmt:
		in.eval(s.expr, sc)
	case *loopControl:
	}
}

// macro analyses a macro's body and what calling it returns.
func (in *interp) macro(m *macroStmt) {
	c := in.macroSc[m.id]
	for i, a := range m.args {
		in.ident(a.name, a.off, "a macro parameter")
		// a parameter holds what the calls pass (macros only travel
		// along paths the analysis follows; a call it cannot follow is a
		// finding of its own) and its default
		v := &value{}
		if d := len(m.args) - len(m.defaults); i >= d {
			v.join(in.eval(m.defaults[i-d], c))
		}
		in.bindParam(c, a.name, v)
	}
	for _, n := range []string{"varargs", "kwargs", "caller"} {
		in.bindParam(c, n, &value{})
	}
	in.body(m.body, c)
	out := in.macroOut[m.id]
	if out == nil {
		out = &value{}
		in.macroOut[m.id] = out
	}
	in.grow(out, in.render(m.body, c))
}

// render is the text a body renders: constant strings when it is only
// text and constant expressions (as rendered with Jinja's defaults and
// with trim_blocks/lstrip_blocks), otherwise a string of unknown value.
func (in *interp) render(body []node, sc *scope) *value {
	var def, alt strings.Builder
	for _, n := range body {
		o, ok := n.(*outputStmt)
		if !ok {
			return dataVal(dStr)
		}
		for _, x := range o.nodes {
			if d, ok := x.(*templateData); ok {
				def.WriteString(d.val)
				alt.WriteString(d.alt)
				continue
			}
			v := in.eval(x, sc)
			if !v.onlyConst() || len(v.consts) != 1 {
				return dataVal(dStr)
			}
			s, ok := pyStr(v.consts[0])
			if !ok {
				return dataVal(dStr)
			}
			def.WriteString(s)
			alt.WriteString(s)
		}
		if def.Len() > maxConstLen {
			return dataVal(dStr)
		}
	}
	out := constVal(def.String())
	out.addConst(alt.String())
	return out
}

// assignParam binds the targets of a for or with statement.
func (in *interp) assignParam(target node, v *value, sc *scope) {
	switch t := target.(type) {
	case *nameExpr:
		in.ident(t.name, t.off, "a loop variable")
		in.bindParam(sc, t.name, v)
	case *tupleExpr:
		e := in.elems(v)
		for _, it := range t.items {
			in.assignParam(it, e, sc)
		}
	default:
		in.assign(target, v, sc)
	}
}

// assign binds an assignment target.
func (in *interp) assign(target node, v *value, sc *scope) {
	switch t := target.(type) {
	case *nameExpr:
		in.ident(t.name, t.off, "an assigned name")
		in.bind(sc, t.name, v)
	case *tupleExpr:
		e := in.elems(v)
		for _, it := range t.items {
			in.assign(it, e, sc)
		}
	case *nsRef:
		in.ident(t.attr, t.off, "a namespace attribute")
		in.lookup(t.name, sc, t.off)
		x := in.ns[t.attr]
		if x == nil {
			x = &value{}
			in.ns[t.attr] = x
		}
		in.grow(x, v)
	}
}

// ident judges a name written in the template's syntax (variables,
// parameters, keyword arguments): dunder names are never plain.
func (in *interp) ident(name string, off int, what string) {
	if isDunder(name) {
		in.report(rules.JinjaDunderAccess, off, fmt.Sprintf("%s is named %s", what, name))
	}
}

// lookup resolves a variable: everything bound to it in the enclosing
// scopes, and what the context provides when it is read before (or
// without) an assignment.
func (in *interp) lookup(name string, sc *scope, off int) *value {
	v := &value{}
	for s := sc; s != nil; s = s.parent {
		if x := s.vars[name]; x != nil {
			v.join(x)
		}
		if s.definite[name] {
			return v
		}
	}
	v.join(in.global(name, off))
	return v
}

func (in *interp) global(name string, off int) *value {
	switch name {
	case "range":
		return objVal(oRange)
	case "dict":
		return objVal(oDictType)
	case "namespace":
		return objVal(oNamespaceClass)
	case "raise_exception":
		return objVal(oRaise)
	case "strftime_now":
		return objVal(oStrftime)
	}
	var k objKind
	switch name {
	case "lipsum":
		k = oLipsum
	case "cycler":
		k = oCyclerClass
	case "joiner":
		k = oJoinerClass
	case "self":
		k = oSelf
	default:
		if !in.serverGlobals.Has(name) {
			return anyData() // request data: messages, tools, bos_token, ...
		}
		k = oServerGlobal
	}
	if in.assigned[name] {
		return objVal(k) // a variable of the template's own, maybe read early
	}
	in.report(rules.JinjaSandboxGlobal, off, fmt.Sprintf("the template uses the global %q", name))
	return objVal(k)
}

// eval computes the abstract value of an expression.
func (in *interp) eval(n node, sc *scope) *value {
	in.step()
	switch e := n.(type) {
	case *nameExpr:
		in.ident(e.name, e.off, "a variable")
		return in.lookup(e.name, sc, e.off)
	case *constExpr:
		if e.inexact {
			return dataVal(kindOf(e.v))
		}
		if _, ok := e.v.(bigInt); ok {
			return dataVal(dNum)
		}
		return constVal(e.v)
	case *templateData:
		v := constVal(e.val)
		v.addConst(e.alt)
		return v
	case *tupleExpr:
		return in.container(e.items, sc, true)
	case *listExpr:
		return in.container(e.items, sc, false)
	case *dictExpr:
		return in.dict(e, sc)
	case *condExpr:
		in.eval(e.test, sc)
		v := in.eval(e.expr1, sc).clone()
		if e.expr2 != nil {
			v.join(in.eval(e.expr2, sc))
		} else {
			v.join(dataVal(dNone))
		}
		return v
	case *filterExpr:
		var input *value
		if e.node != nil {
			input = in.eval(e.node, sc)
		} else {
			input = dataVal(dStr)
		}
		return in.filterExpr(e, input, sc)
	case *testExpr:
		in.eval(e.node, sc)
		in.ident(e.name, e.off, "a test")
		in.args(&e.callArgs, sc, e.off)
		return dataVal(dBool)
	case *callExpr:
		return in.callExpr(e, sc, nil)
	case *getattrExpr:
		recv := in.eval(e.node, sc)
		return in.attr(recv, e.attr, e.off, func(n string) string { return "." + n }, false)
	case *getitemExpr:
		recv := in.eval(e.node, sc)
		if s, ok := e.arg.(*sliceExpr); ok {
			return in.slice(recv, s, sc)
		}
		key := in.eval(e.arg, sc)
		return in.item(recv, key, e.off, func(n string) string { return "[" + strconv.Quote(n) + "]" })
	case *sliceExpr:
		return in.slice(dataVal(dNone), e, sc)
	case *concatExpr:
		return in.concat(e, sc)
	case *compareExpr:
		in.eval(e.expr, sc)
		for _, a := range e.args {
			in.eval(a, sc)
		}
		return dataVal(dBool)
	case *binExpr:
		l := in.eval(e.left, sc)
		r := in.eval(e.right, sc)
		if e.op == "and" || e.op == "or" {
			return joinAll(l, r)
		}
		return in.binop(e.op, l, r)
	case *unaryExpr:
		v := in.eval(e.node, sc)
		switch e.op {
		case "not":
			return dataVal(dBool)
		default:
			return in.unary(e.op, v)
		}
	}
	return unknownVal()
}

// container builds a list or tuple: constant when every item is, plain
// data when every item is data, otherwise an object of unknown type.
func (in *interp) container(items []node, sc *scope, tuple bool) *value {
	vals := make([]*value, len(items))
	all := true
	for i, it := range items {
		vals[i] = in.eval(it, sc)
		if !vals[i].onlyConst() || len(vals[i].consts) != 1 {
			all = false
		}
	}
	if all && !in.constMutable && len(items) <= maxConstItems {
		l := &clist{tuple: tuple}
		for _, v := range vals {
			l.items = append(l.items, v.consts[0])
		}
		return constVal(l)
	}
	return containerOf(joinAll(vals...), dList)
}

func (in *interp) dict(e *dictExpr, sc *scope) *value {
	keys := make([]*value, len(e.keys))
	vals := make([]*value, len(e.keys))
	all := true
	for i := range e.keys {
		keys[i] = in.eval(e.keys[i], sc)
		vals[i] = in.eval(e.vals[i], sc)
		if !keys[i].onlyConst() || len(keys[i].consts) != 1 || !vals[i].onlyConst() || len(vals[i].consts) != 1 {
			all = false
		}
	}
	if all && !in.constMutable && len(keys) <= maxConstDict {
		d := &cdict{}
		for i := range keys {
			d.set(keys[i].consts[0], vals[i].consts[0])
		}
		return constVal(d)
	}
	return containerOf(joinAll(append(keys, vals...)...), dDict)
}

func (d *cdict) set(k, v cval) {
	for i := range d.keys {
		if dictKeyEq(d.keys[i], k) {
			d.vals[i] = v
			return
		}
	}
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

func (d *cdict) get(k cval) (cval, bool) {
	for i := range d.keys {
		if dictKeyEq(d.keys[i], k) {
			return d.vals[i], true
		}
	}
	return nil, false
}

// dictKeyEq compares dict keys as Python does (1 == True == 1.0).
func dictKeyEq(a, b cval) bool {
	num := func(c cval) (float64, bool) {
		switch x := c.(type) {
		case int64:
			return float64(x), true
		case float64:
			return x, true
		case bool:
			return float64(boolInt(x)), true
		}
		return 0, false
	}
	if x, ok := num(a); ok {
		y, ok := num(b)
		return ok && x == y
	}
	return ceq(a, b)
}

// maxConstDict bounds dict literals kept as constants (lookups are linear).
const maxConstDict = 256

// containerOf is a new list or dict holding elems: plain data unless an
// element may reach internals.
func containerOf(elems *value, kind dataKind) *value {
	v := dataVal(kind)
	if elems.internal() {
		v = unknownVal()
	}
	if elems.internal() || len(elems.consts) > 0 || elems.inner != nil {
		// keep what it holds (flat): macros to call, names to judge
		v.inner = elems.clone()
		v.inner.inner = nil
		if elems.inner != nil {
			v.inner.join(elems.inner)
		}
	}
	return v
}

// elems is what iterating a value yields (list items, dict keys, string
// characters).
func (in *interp) elems(v *value) *value {
	out := &value{}
	for _, c := range v.consts {
		switch x := c.(type) {
		case *clist:
			for _, it := range x.items {
				out.addConst(it)
			}
		case *cdict:
			for _, k := range x.keys {
				out.addConst(k)
			}
		case string:
			if len(x) > 64 {
				out.data |= dStr
				continue
			}
			for _, r := range x {
				out.addConst(string(r))
			}
		}
	}
	in.dataElems(v.data, out)
	if v.obj != 0 {
		out.join(unknownVal())
	}
	out.join(v.inner)
	return out
}

// dataElems adds what the items of plain data may be.
func (in *interp) dataElems(d dataKind, out *value) {
	if d&(dList|dDict) != 0 {
		out.join(anyData())
		out.join(in.mutated)
	} else if d&dStr != 0 {
		out.data |= dStr
	}
	if d&dNumList != 0 {
		out.data |= dNum
	}
}

// values is what a mapping's values (or a sequence's items) may be.
func (in *interp) values(v *value) *value {
	out := &value{}
	for _, c := range v.consts {
		switch x := c.(type) {
		case *cdict:
			for _, it := range x.vals {
				out.addConst(it)
			}
		case *clist:
			for _, it := range x.items {
				out.addConst(it)
				if l, ok := it.(*clist); ok && len(l.items) == 2 {
					out.addConst(l.items[1])
				}
			}
		}
	}
	in.dataElems(v.data, out)
	if v.obj != 0 {
		out.join(unknownVal())
	}
	out.join(v.inner)
	return out
}

// attr reads name of recv (recv.name, |attr(name), or a subscript with a
// string key when isItem).
func (in *interp) attr(recv *value, name string, off int, how func(string) string, isItem bool) *value {
	in.judge(recv, name, off, how)
	out := &value{}
	dunder := isDunder(name)
	for _, c := range recv.consts {
		if isItem {
			if d, ok := c.(*cdict); ok {
				if x, ok := d.get(name); ok {
					out.addConst(x)
					continue
				}
			}
		}
		out.join(in.constAttr(c, name))
	}
	if recv.data != 0 {
		if dunder || strings.HasPrefix(name, "_") && strings.Contains(name[1:], "__") {
			out.join(unknownVal())
		} else {
			out.join(anyData())
			out.join(in.mutated)
			if hasMethod(recv.data, name) {
				out.methods = append(out.methods, method{name, dataVal(recv.data)})
			}
		}
	}
	for k := objKind(1); k != 0 && k <= oServerGlobal; k <<= 1 {
		if recv.obj&k != 0 {
			out.join(in.objAttr(k, name))
		}
	}
	if len(recv.macros) > 0 {
		switch name {
		case "name", "arguments", "defaults", "catch_kwargs", "catch_varargs", "caller", "explicit_caller":
			out.join(anyData())
		default:
			out.join(unknownVal())
		}
	}
	if len(recv.methods) > 0 {
		if dunder {
			out.join(unknownVal())
		} else {
			out.join(dataVal(dNone))
		}
	}
	out.join(recv.inner) // a value of a dict the template built
	return out
}

// judge reports a name read from recv that is not plain: dunder and
// name-mangled names and names that only lead out of the sandbox
// anywhere; private and environment names on objects that reach
// internals.
func (in *interp) judge(recv *value, name string, off int, how func(string) string) {
	switch {
	case isDunder(name):
		in.report(rules.JinjaDunderAccess, off, fmt.Sprintf("the template reads %s", how(name)))
	case in.escape.Has(name):
		in.report(rules.JinjaDangerousAttribute, off, fmt.Sprintf("the template reads %s", how(name)))
	case recv.internal() && (strings.HasPrefix(name, "_") || in.internalNames.Has(name)):
		in.report(rules.JinjaDangerousAttribute, off, fmt.Sprintf("the template reads %s of %s", how(name), recv.describe()))
	}
}

func (in *interp) computed(recv *value, off int, what string) {
	if recv.internal() {
		in.report(rules.JinjaComputedAttribute, off, fmt.Sprintf("%s with a name known only at render time, on %s", what, recv.describe()))
	}
}

// isDunder matches double-underscore names and name-mangled privates
// (_TemplateReference__context).
func isDunder(s string) bool {
	if strings.HasPrefix(s, "__") {
		return true
	}
	return len(s) > 2 && s[0] == '_' && s[1] != '_' && strings.Contains(s[2:], "__")
}

var (
	strMethods = map[string]bool{
		"capitalize": true, "casefold": true, "center": true, "count": true, "encode": true, "endswith": true,
		"expandtabs": true, "find": true, "format": true, "format_map": true, "index": true, "isalnum": true,
		"isalpha": true, "isascii": true, "isdecimal": true, "isdigit": true, "isidentifier": true,
		"islower": true, "isnumeric": true, "isprintable": true, "isspace": true, "istitle": true,
		"isupper": true, "join": true, "ljust": true, "lower": true, "lstrip": true, "maketrans": true,
		"partition": true, "removeprefix": true, "removesuffix": true, "replace": true, "rfind": true,
		"rindex": true, "rjust": true, "rpartition": true, "rsplit": true, "rstrip": true, "split": true,
		"splitlines": true, "startswith": true, "strip": true, "swapcase": true, "title": true,
		"translate": true, "upper": true, "zfill": true, "escape": true, "unescape": true, "striptags": true,
	}
	listMethods = map[string]bool{
		"append": true, "clear": true, "copy": true, "count": true, "extend": true, "index": true,
		"insert": true, "pop": true, "remove": true, "reverse": true, "sort": true,
	}
	dictMethods = map[string]bool{
		"clear": true, "copy": true, "fromkeys": true, "get": true, "items": true, "keys": true, "pop": true,
		"popitem": true, "setdefault": true, "update": true, "values": true,
	}
)

// hasMethod reports whether plain data of kinds d may have a method
// called name.
func hasMethod(d dataKind, name string) bool {
	return d&dStr != 0 && strMethods[name] || d&(dList|dNumList) != 0 && listMethods[name] || d&dDict != 0 && dictMethods[name]
}

// constAttr is getattr of a constant (a method, or undefined).
func (in *interp) constAttr(c cval, name string) *value {
	if isDunder(name) {
		return unknownVal()
	}
	var ms map[string]bool
	switch c.(type) {
	case string:
		ms = strMethods
	case *clist:
		ms = listMethods
	case *cdict:
		ms = dictMethods
	}
	if ms[name] {
		return &value{methods: []method{{name, constVal(c)}}}
	}
	if d, ok := c.(*cdict); ok {
		if x, ok := d.get(name); ok {
			return constVal(x)
		}
	}
	return dataVal(dNone) // undefined
}

// objAttr is an attribute of one kind of object.
func (in *interp) objAttr(k objKind, name string) *value {
	if isDunder(name) {
		return unknownVal()
	}
	switch k {
	case oLoop:
		switch name {
		case "index", "index0", "revindex", "revindex0", "length", "depth", "depth0":
			return dataVal(dNum)
		case "first", "last":
			return dataVal(dBool)
		case "previtem", "nextitem":
			return joinAll(in.loopItems, dataVal(dNone))
		case "cycle", "changed":
			return &value{methods: []method{{name, objVal(oLoop)}}}
		}
	case oCycler:
		switch name {
		case "current":
			return in.cyclerItems.clone()
		case "items":
			return containerOf(in.cyclerItems, dList)
		case "pos":
			return dataVal(dNum)
		case "next", "reset":
			return &value{methods: []method{{name, objVal(oCycler)}}}
		}
	case oJoiner:
		switch name {
		case "sep":
			return in.joinerSep.clone()
		case "used":
			return dataVal(dBool)
		}
	case oNamespace:
		v := joinAll(in.nsAny, dataVal(dNone))
		if x := in.ns[name]; x != nil {
			v.join(x)
		}
		return v
	}
	return unknownVal()
}

// item is recv[key].
func (in *interp) item(recv, key *value, off int, how func(string) string) *value {
	out := &value{}
	for _, k := range key.consts {
		switch kk := k.(type) {
		case string:
			out.join(in.attr(recv, kk, off, how, true))
		case int64:
			out.join(in.index(recv, kk))
		default:
			for _, c := range recv.consts {
				if d, ok := c.(*cdict); ok {
					if x, ok := d.get(k); ok {
						out.addConst(x)
					}
				}
			}
			out.join(in.values(nonConst(recv)))
		}
	}
	if !key.onlyConst() {
		if key.maybeString() {
			in.computed(recv, off, "a subscript")
			out.join(unknownVal())
		}
		out.join(in.values(recv))
		out.join(in.elems(recv))
	}
	return out
}

func nonConst(v *value) *value {
	c := v.clone()
	c.consts = nil
	return c
}

// index is recv[i] for an integer i.
func (in *interp) index(recv *value, i int64) *value {
	out := &value{}
	for _, c := range recv.consts {
		switch x := c.(type) {
		case *clist:
			if j, ok := pyIndex(i, len(x.items)); ok {
				out.addConst(x.items[j])
			}
		case string:
			r := []rune(x)
			if j, ok := pyIndex(i, len(r)); ok {
				out.addConst(string(r[j]))
			}
		case *cdict:
			if v, ok := x.get(i); ok {
				out.addConst(v)
			}
		}
	}
	if recv.data != 0 {
		in.dataElems(recv.data, out)
	}
	if recv.obj != 0 || len(recv.macros) > 0 {
		out.join(unknownVal())
	}
	out.join(recv.inner)
	return out
}

func (in *interp) slice(recv *value, s *sliceExpr, sc *scope) *value {
	var bounds [3]*int64
	exact := true
	for i, n := range []node{s.start, s.stop, s.step} {
		if n == nil {
			continue
		}
		v := in.eval(n, sc)
		if v.onlyConst() && len(v.consts) == 1 {
			switch x := v.consts[0].(type) {
			case int64:
				bounds[i] = &x
				continue
			case none:
				continue
			}
		}
		exact = false
	}
	out := &value{}
	for _, c := range recv.consts {
		switch x := c.(type) {
		case string:
			r := []rune(x)
			idx, ok := pySlice(len(r), bounds[0], bounds[1], bounds[2])
			if !exact || !ok {
				out.data |= dStr
				continue
			}
			var b strings.Builder
			for _, j := range idx {
				b.WriteRune(r[j])
			}
			out.addConst(b.String())
		case *clist:
			idx, ok := pySlice(len(x.items), bounds[0], bounds[1], bounds[2])
			if !exact || !ok {
				out.join(containerOf(in.elems(constVal(x)), dList))
				continue
			}
			l := &clist{tuple: x.tuple}
			for _, j := range idx {
				l.items = append(l.items, x.items[j])
			}
			out.addConst(l)
		}
	}
	if recv.data != 0 {
		out.data |= recv.data & (dStr | dList | dNumList)
		if recv.data&dList != 0 && in.mutated.internal() {
			out.join(unknownVal())
		}
	}
	if recv.obj != 0 || len(recv.macros) > 0 {
		out.join(unknownVal())
	}
	if recv.inner != nil {
		out.join(&value{obj: oUnknown, inner: recv.inner.clone()})
	}
	return out
}

func (in *interp) concat(e *concatExpr, sc *scope) *value {
	// the constant strings the pieces' constants make, and whether some
	// piece may also be something else
	parts := []string{""}
	partial := false
	for _, n := range e.nodes {
		v := in.eval(n, sc)
		if !v.onlyConst() {
			partial = true
		}
		if parts == nil {
			continue
		}
		var next []string
		for _, p := range parts {
			for _, c := range v.consts {
				s, ok := pyStr(c)
				if !ok || len(p)+len(s) > maxConstLen {
					partial = true
					continue
				}
				next = append(next, p+s)
			}
		}
		if len(next) > maxConsts {
			next = nil
			partial = true
		}
		parts = next
	}
	out := &value{}
	for _, p := range parts {
		out.addConst(p)
	}
	if partial {
		out.data |= dStr
	}
	return out
}

// binop computes + - * / // % ** on abstract values.
func (in *interp) binop(op string, l, r *value) *value {
	out := &value{}
	exact := l.onlyConst() && r.onlyConst()
	if len(l.consts)*len(r.consts) <= maxConsts {
		for _, a := range l.consts {
			for _, b := range r.consts {
				c, ok := constBinop(op, a, b)
				if !ok {
					exact = false
					continue
				}
				out.addConst(c)
			}
		}
	} else {
		exact = false
	}
	if exact {
		return out
	}
	kinds := func(v *value) dataKind {
		k := v.data
		for _, c := range v.consts {
			k |= kindOf(c)
		}
		return k
	}
	lk, rk := kinds(l), kinds(r)
	switch op {
	case "+", "*":
		out.data = (lk | rk) & (dStr | dNum | dList)
		if (lk|rk)&dBool != 0 {
			out.data |= dNum
		}
		if (lk|rk)&(dList|dNumList) != 0 || l.inner != nil || r.inner != nil {
			// list concatenation or repetition: the items of both
			out.join(containerOf(joinAll(in.elems(l), in.elems(r)), dList))
		}
	case "%":
		out.data = dNum
		if lk&dStr != 0 || l.obj != 0 {
			out.data |= dStr
		}
	default:
		out.data = dNum
	}
	if l.obj != 0 || r.obj != 0 {
		// an object's own operator methods may return anything
		out.join(unknownVal())
	}
	if out.empty() {
		out.data = dNum
	}
	return out
}

func (in *interp) unary(op string, v *value) *value {
	out := &value{}
	if v.onlyConst() {
		for _, c := range v.consts {
			switch x := c.(type) {
			case int64:
				if op == "-" {
					out.addConst(-x)
				} else {
					out.addConst(x)
				}
			case float64:
				if op == "-" {
					out.addConst(-x)
				} else {
					out.addConst(x)
				}
			case bool:
				n := int64(0)
				if x {
					n = 1
				}
				if op == "-" {
					n = -n
				}
				out.addConst(n)
			default:
				return dataVal(dNum)
			}
		}
		return out
	}
	out.data = dNum
	if v.obj != 0 {
		out.join(unknownVal())
	}
	return out
}

func constBinop(op string, a, b cval) (cval, bool) {
	if x, ok := a.(bool); ok {
		a = boolInt(x)
	}
	if y, ok := b.(bool); ok {
		b = boolInt(y)
	}
	switch op {
	case "+":
		switch x := a.(type) {
		case string:
			y, ok := b.(string)
			if !ok || markupSensitive(x) || markupSensitive(y) || len(x)+len(y) > maxConstLen {
				return nil, false
			}
			return x + y, true
		case int64:
			if y, ok := b.(int64); ok {
				s := x + y
				if (s > x) == (y > 0) {
					return s, true
				}
			}
		case *clist:
			y, ok := b.(*clist)
			if !ok || x.tuple != y.tuple || len(x.items)+len(y.items) > maxConstItems {
				return nil, false
			}
			return &clist{items: append(append([]cval{}, x.items...), y.items...), tuple: x.tuple}, true
		}
	case "*":
		if _, ok := a.(int64); ok {
			if _, ok := b.(int64); !ok {
				a, b = b, a
			}
		}
		n, ok := b.(int64)
		if !ok {
			return nil, false
		}
		if x, ok := a.(int64); ok {
			if x == 0 || n == 0 {
				return int64(0), true
			}
			p := x * n
			if p/n != x || (x == -1 && n == math.MinInt64) || (n == -1 && x == math.MinInt64) {
				return nil, false
			}
			return p, true
		}
		if n < 0 {
			n = 0
		}
		switch x := a.(type) {
		case string:
			if n > 0 && int64(len(x))*n > maxConstLen {
				return nil, false
			}
			if n > maxConstLen {
				n = maxConstLen
			}
			return strings.Repeat(x, int(n)), true
		case *clist:
			if n > maxConstItems || int64(len(x.items))*n > maxConstItems {
				return nil, false
			}
			l := &clist{tuple: x.tuple}
			for i := int64(0); i < n; i++ {
				l.items = append(l.items, x.items...)
			}
			return l, true
		}
	case "%":
		if f, ok := a.(string); ok {
			if markupSensitive(f) {
				return nil, false
			}
			if s, ok := printf(f, b); ok {
				return s, true
			}
			return nil, false
		}
		x, ok1 := a.(int64)
		y, ok2 := b.(int64)
		if ok1 && ok2 && y != 0 {
			m := x % y
			if m != 0 && (m < 0) != (y < 0) {
				m += y
			}
			return m, true
		}
	case "-":
		x, ok1 := a.(int64)
		y, ok2 := b.(int64)
		if ok1 && ok2 {
			d := x - y
			if (d < x) == (y > 0) {
				return d, true
			}
		}
	case "//":
		x, ok1 := a.(int64)
		y, ok2 := b.(int64)
		if ok1 && ok2 && y != 0 && !(x == math.MinInt64 && y == -1) {
			q := x / y
			if (x%y != 0) && ((x < 0) != (y < 0)) {
				q--
			}
			return q, true
		}
	}
	return nil, false
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
