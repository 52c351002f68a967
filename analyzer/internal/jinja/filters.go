package jinja

import (
	"fmt"
	"strconv"
	"strings"
)

func (in *interp) filterExpr(f *filterExpr, input *value, sc *scope) *value {
	in.ident(f.name, f.off, "a filter")
	a := in.args(&f.callArgs, sc, f.off)
	return in.filter(f.name, input, a, f.off)
}

// filter applies one of Jinja's filters (by name) abstractly.
func (in *interp) filter(name string, input *value, a *argVals, off int) *value {
	in.step()
	elems := func() *value { return in.elems(input) }
	switch name {
	case "attr":
		n := in.arg(a, 0, "name")
		if n == nil {
			return dataVal(dNone)
		}
		return in.attrBy(input, n, off, func(s string) string { return "|attr(" + strconv.Quote(s) + ")" })
	case "map":
		if len(a.pos) == 0 && a.dynArgs == nil {
			attr := in.arg(a, -1, "attribute")
			if attr == nil {
				return containerOf(elems(), dList)
			}
			v := in.path(elems(), attr, off, "map", false)
			if d := in.arg(a, -1, "default"); d != nil {
				v.join(d)
			}
			return containerOf(v, dList)
		}
		fn := in.arg(a, 0, "")
		rest := &argVals{pos: a.pos[min(1, len(a.pos)):], kwNames: a.kwNames, kw: a.kw, dynArgs: a.dynArgs, dynKwds: a.dynKwds}
		if v := in.mapConst(input, fn, rest, off); v != nil {
			return v
		}
		out := &value{}
		for _, c := range fn.consts {
			if s, ok := c.(string); ok {
				out.join(in.filter(s, elems(), rest, off))
			}
		}
		if !fn.onlyConst() {
			// a filter chosen at render time may be attr
			if n := in.arg(rest, 0, ""); n != nil {
				out.join(in.attrBy(elems(), n, off, func(s string) string { return "|map(<filter>, " + strconv.Quote(s) + ")" }))
			}
			in.computed(elems(), off, "|map with a filter")
			out.join(unknownVal())
		}
		return containerOf(out, dList)
	case "select", "reject":
		return containerOf(elems(), dList)
	case "selectattr", "rejectattr":
		if attr := in.arg(a, 0, ""); attr != nil {
			in.path(elems(), attr, off, name, false)
		}
		return containerOf(elems(), dList)
	case "sort":
		if attr := in.arg(a, 2, "attribute"); attr != nil {
			in.path(elems(), attr, off, name, true)
		}
		if input.onlyConst() {
			if v := in.foldSort(input, a); v != nil {
				return v
			}
		}
		return containerOf(elems(), dList)
	case "groupby":
		e := elems()
		var g *value
		if attr := in.arg(a, 0, "attribute"); attr != nil {
			g = in.path(e, attr, off, name, false)
		}
		if d := in.arg(a, 1, "default"); d != nil {
			g = joinAll(g, d)
		}
		return containerOf(joinAll(g, e), dList)
	case "sum":
		e := elems()
		if attr := in.arg(a, 0, "attribute"); attr != nil {
			e = in.path(e, attr, off, name, false)
		}
		v := joinAll(dataVal(dNum|dList), in.arg(a, 1, "start"))
		if e.internal() || v.internal() {
			v.join(unknownVal())
		}
		return v
	case "unique":
		if attr := in.arg(a, 1, "attribute"); attr != nil {
			in.path(elems(), attr, off, name, false)
		}
		return containerOf(elems(), dList)
	case "min", "max":
		if attr := in.arg(a, 1, "attribute"); attr != nil {
			in.path(elems(), attr, off, name, false)
		}
		return joinAll(elems(), dataVal(dNone))
	case "join":
		attr := in.arg(a, 1, "attribute")
		if attr != nil {
			in.path(elems(), attr, off, name, false)
		}
		if input.onlyConst() && attr == nil {
			if pos, kw, ok := constArgs(a); ok && len(kw) == 0 && len(pos) <= 1 {
				sep := ""
				if len(pos) == 1 {
					s, ok := pos[0].(string)
					if !ok {
						return dataVal(dStr)
					}
					sep = s
				}
				out := &value{}
				for _, c := range input.consts {
					j, ok := joinConst(sep, c)
					if !ok {
						return dataVal(dStr)
					}
					out.addConst(j)
				}
				return out
			}
		}
		return dataVal(dStr)
	case "first", "last", "random":
		if input.onlyConst() && name != "random" {
			out := &value{}
			for _, c := range input.consts {
				var items []cval
				switch x := c.(type) {
				case *clist:
					items = x.items
				case string:
					for _, r := range x {
						items = append(items, string(r))
					}
				default:
					return joinAll(elems(), dataVal(dNone))
				}
				if len(items) == 0 {
					out.data |= dNone
					continue
				}
				if name == "first" {
					out.addConst(items[0])
				} else {
					out.addConst(items[len(items)-1])
				}
			}
			return out
		}
		return joinAll(elems(), dataVal(dNone))
	case "list":
		if input.onlyConst() {
			out := &value{}
			for _, c := range input.consts {
				l := &clist{}
				switch x := c.(type) {
				case *clist:
					l.items = x.items
				case *cdict:
					l.items = x.keys
				case string:
					for _, r := range x {
						l.items = append(l.items, string(r))
					}
				default:
					return containerOf(elems(), dList)
				}
				out.addConst(l)
			}
			return out
		}
		return containerOf(elems(), dList)
	case "reverse":
		out := &value{}
		for _, c := range input.consts {
			switch x := c.(type) {
			case string:
				out.addConst(reverseString(x))
			case *clist:
				l := &clist{}
				for i := len(x.items) - 1; i >= 0; i-- {
					l.items = append(l.items, x.items[i])
				}
				out.addConst(l)
			default:
				out.join(containerOf(in.elems(constVal(c)), dList))
			}
		}
		if !input.onlyConst() {
			out.data |= input.data & dStr
			out.join(containerOf(in.elems(nonConst(input)), dList))
		}
		return out
	case "items", "dictsort":
		if input.onlyConst() && name == "items" {
			out := &value{}
			for _, c := range input.consts {
				d, ok := c.(*cdict)
				if !ok {
					return containerOf(joinAll(elems(), in.values(input)), dList)
				}
				l := &clist{}
				for i := range d.keys {
					l.items = append(l.items, &clist{items: []cval{d.keys[i], d.vals[i]}, tuple: true})
				}
				out.addConst(l)
			}
			return out
		}
		return containerOf(joinAll(elems(), in.values(input)), dList)
	case "batch", "slice":
		v := joinAll(elems(), in.arg(a, 1, "fill_with"))
		return containerOf(v, dList)
	case "default", "d":
		v := input.clone()
		if d := in.arg(a, 0, "default_value"); d != nil {
			v.join(d)
		}
		return v
	case "length", "count":
		out := &value{}
		if input.onlyConst() {
			for _, c := range input.consts {
				switch x := c.(type) {
				case string:
					out.addConst(int64(len([]rune(x))))
				case *clist:
					out.addConst(int64(len(x.items)))
				case *cdict:
					out.addConst(int64(len(x.keys)))
				default:
					return dataVal(dNum)
				}
			}
			return out
		}
		return dataVal(dNum)
	case "int":
		if input.onlyConst() && len(a.pos) == 0 && len(a.kw) == 0 {
			out := &value{}
			for _, c := range input.consts {
				switch x := c.(type) {
				case int64:
					out.addConst(x)
				case bool:
					out.addConst(boolInt(x))
				case string:
					n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
					if err != nil {
						return dataVal(dNum)
					}
					out.addConst(n)
				default:
					return dataVal(dNum)
				}
			}
			return out
		}
		return dataVal(dNum)
	case "float", "abs", "round", "wordcount":
		return dataVal(dNum)
	case "string", "safe":
		out := &value{}
		for _, c := range input.consts {
			if s, ok := pyStr(c); ok {
				out.addConst(s)
			} else {
				out.data |= dStr
			}
		}
		if !input.onlyConst() {
			out.data |= dStr
		}
		return out
	case "e", "escape", "forceescape", "lower", "upper", "capitalize", "title", "trim", "replace", "format", "center":
		if v := in.foldStrFilter(name, input, a); v != nil {
			return v
		}
		return dataVal(dStr)
	}
	// striptags, indent, truncate, wordwrap, urlencode, urlize, tojson,
	// pprint, xmlattr, filesizeformat, and filters the server adds
	out := dataVal(dStr)
	if _, known := stringFilters[name]; !known && input.internal() {
		// a filter the server adds: it may hand back its input
		out.join(input)
		out.join(unknownVal())
	}
	return out
}

var stringFilters = map[string]bool{
	"striptags": true, "indent": true, "truncate": true, "wordwrap": true, "urlencode": true, "urlize": true,
	"tojson": true, "pprint": true, "xmlattr": true, "filesizeformat": true,
}

// attrBy reads an attribute whose name is a value (|attr).
func (in *interp) attrBy(recv, name *value, off int, how func(string) string) *value {
	out := &value{}
	for _, c := range name.consts {
		if s, ok := c.(string); ok {
			out.join(in.attr(recv, s, off, how, false))
		}
	}
	if !name.onlyConst() {
		if name.maybeString() {
			in.computed(recv, off, "|attr")
		}
		out.join(unknownVal())
	}
	return out
}

// path follows a filter's attribute argument ("a.b.0", or with multi
// "a.b,c") from each element; each part is looked up the way Jinja's
// getitem does.
func (in *interp) path(cur, attr *value, off int, filter string, multi bool) *value {
	out := &value{}
	for _, c := range attr.consts {
		switch x := c.(type) {
		case string:
			alts := []string{x}
			if multi {
				alts = strings.Split(x, ",")
			}
			for _, alt := range alts {
				v := cur
				for _, part := range strings.Split(alt, ".") {
					if n, err := strconv.ParseInt(part, 10, 64); err == nil && isAllDigits(part) {
						v = in.index(v, n)
						continue
					}
					p := part
					v = in.attr(v, p, off, func(s string) string {
						return fmt.Sprintf("|%s(attribute=%q)", filter, x)
					}, true)
				}
				out.join(v)
			}
		case int64:
			out.join(in.index(cur, x))
		case none:
			out.join(cur)
		}
	}
	if !attr.onlyConst() {
		if attr.maybeString() {
			in.computed(cur, off, fmt.Sprintf("|%s with an attribute", filter))
			out.join(unknownVal())
		}
		out.join(in.values(cur))
	}
	return out
}

func isAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func (in *interp) foldSort(input *value, a *argVals) *value {
	pos, kw, ok := constArgs(a)
	if !ok || len(pos) > 0 || len(kw) > 0 {
		return nil
	}
	out := &value{}
	for _, c := range input.consts {
		l, ok := c.(*clist)
		if !ok {
			return nil
		}
		var ss []string
		for _, it := range l.items {
			s, ok := it.(string)
			if !ok {
				return nil
			}
			ss = append(ss, s)
		}
		sorted := append([]string(nil), ss...)
		// case-insensitive, stable, as Jinja's default
		for i := 1; i < len(sorted); i++ {
			for j := i; j > 0 && strings.ToLower(sorted[j]) < strings.ToLower(sorted[j-1]); j-- {
				sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
			}
		}
		n := &clist{}
		for _, s := range sorted {
			n.items = append(n.items, s)
		}
		out.addConst(n)
	}
	return out
}

// foldStrFilter computes a string filter on constants, or returns nil.
func (in *interp) foldStrFilter(name string, input *value, a *argVals) *value {
	if !input.onlyConst() {
		return nil
	}
	pos, kw, ok := constArgs(a)
	if !ok {
		return nil
	}
	out := &value{}
	for _, c := range input.consts {
		s, ok := pyStr(c)
		if !ok || markupSensitive(s) && name != "e" && name != "escape" && name != "forceescape" {
			return nil
		}
		var r string
		switch name {
		case "e", "escape", "forceescape":
			r = htmlEscape(s)
		case "lower":
			r = strings.ToLower(s)
		case "upper":
			r = strings.ToUpper(s)
		case "capitalize":
			r = capitalize(s)
		case "title":
			r = title(s)
		case "trim":
			chars, ok := strArg(pos, 0)
			if !ok || len(kw) > 0 {
				return nil
			}
			r = pyStrip(s, chars, true, true)
		case "replace":
			if len(kw) > 0 {
				return nil
			}
			x, ok := replaceConst(s, pos)
			if !ok {
				return nil
			}
			r = x.(string)
		case "format":
			var args cval
			switch {
			case len(kw) > 0 && len(pos) > 0:
				return nil
			case len(kw) > 0:
				d := &cdict{}
				for k, v := range kw {
					d.set(k, v)
				}
				args = d
			default:
				args = &clist{items: pos, tuple: true}
			}
			x, ok := printf(s, args)
			if !ok {
				return nil
			}
			r = x
		default:
			return nil
		}
		out.addConst(r)
	}
	return out
}

// mapConst is |map(filter, ...) over a constant list with a constant
// filter name, item by item, when each result is one constant.
func (in *interp) mapConst(input, fn *value, rest *argVals, off int) *value {
	if !input.onlyConst() || !fn.onlyConst() || len(fn.consts) != 1 || len(input.consts) != 1 {
		return nil
	}
	name, ok := fn.consts[0].(string)
	l, ok2 := input.consts[0].(*clist)
	if !ok || !ok2 {
		return nil
	}
	out := &clist{}
	for _, it := range l.items {
		r := in.filter(name, constVal(it), rest, off)
		if !r.onlyConst() || len(r.consts) != 1 {
			return nil
		}
		out.items = append(out.items, r.consts[0])
	}
	return constVal(out)
}
