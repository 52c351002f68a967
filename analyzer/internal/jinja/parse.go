package jinja

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// The parser is a port of jinja2/parser.py (Jinja 3.1) with the
// extensions chat servers enable: loopcontrols (break, continue),
// transformers' generation block, and do (so that templates written for
// an environment with jinja2.ext.do are analysed rather than refused).

// maxDepth bounds the nesting of expressions and statements.
const maxDepth = 256

var statementKeywords = map[string]bool{
	"for": true, "if": true, "block": true, "extends": true, "print": true, "macro": true,
	"include": true, "from": true, "import": true, "set": true, "with": true, "autoescape": true,
}

var compareOps = map[string]string{"==": "eq", "!=": "ne", "<": "lt", "<=": "lteq", ">": "gt", ">=": "gteq"}

type parser struct {
	toks   []token
	i      int
	depth  int
	macros []*macroStmt
	// endStack: the end tags the enclosing statements wait for.
	endStack [][]string
}

func (p *parser) cur() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	off := 0
	if len(p.toks) > 0 {
		off = p.toks[len(p.toks)-1].off
	}
	return token{typ: tEOF, off: off}
}

func (p *parser) look() token {
	if p.i+1 < len(p.toks) {
		return p.toks[p.i+1]
	}
	return token{typ: tEOF, off: p.cur().off}
}

func (p *parser) next() token {
	t := p.cur()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

func (p *parser) fail(t token, format string, args ...any) {
	panic(&syntaxError{t.off, fmt.Sprintf(format, args...)})
}

func (p *parser) isOp(op string) bool {
	t := p.cur()
	return t.typ == tOp && t.val == op
}

func (p *parser) isName(n string) bool {
	t := p.cur()
	return t.typ == tName && t.val == n
}

func (p *parser) skipOp(op string) bool {
	if p.isOp(op) {
		p.next()
		return true
	}
	return false
}

func (p *parser) skipName(n string) bool {
	if p.isName(n) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectOp(op string) token {
	if !p.isOp(op) {
		p.unexpected(fmt.Sprintf("'%s'", op))
	}
	return p.next()
}

func (p *parser) expectName(n string) token {
	if !p.isName(n) {
		p.unexpected(fmt.Sprintf("'%s'", n))
	}
	return p.next()
}

func (p *parser) expectType(t tokType) token {
	if p.cur().typ != t {
		p.unexpected(fmt.Sprintf("'%s'", tokNames[t]))
	}
	return p.next()
}

func (p *parser) unexpected(want string) {
	t := p.cur()
	if t.typ == tEOF {
		p.fail(t, "unexpected end of template, expected %s", want)
	}
	p.fail(t, "expected token %s, got '%s'", want, t)
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		panic(&budgetError{fmt.Sprintf("nesting deeper than %d", maxDepth)})
	}
}

func (p *parser) leave() { p.depth-- }

// parse parses a whole template. Errors are *syntaxError or *budgetError.
func parse(toks []token) (body []node, macros []*macroStmt, err error) {
	p := &parser{toks: toks}
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case *syntaxError:
				err = e
			case *budgetError:
				err = e
			default:
				panic(r)
			}
		}
	}()
	body = p.subparse(nil)
	return body, p.macros, nil
}

// subparse parses statements until one of end (a tag name) starts a
// block; it returns with that name as the current token.
func (p *parser) subparse(end []string) []node {
	p.enter()
	defer p.leave()
	if end != nil {
		p.endStack = append(p.endStack, end)
		defer func() { p.endStack = p.endStack[:len(p.endStack)-1] }()
	}
	var body []node
	var data []node
	flush := func() {
		if len(data) > 0 {
			body = append(body, &outputStmt{at{data[0].pos()}, data})
			data = nil
		}
	}
	for p.cur().typ != tEOF {
		t := p.cur()
		switch t.typ {
		case tData:
			data = append(data, &templateData{at{t.off}, t.val, t.alt})
			p.next()
		case tVarBegin:
			p.next()
			data = append(data, p.parseTuple(false, true, nil, false))
			p.expectType(tVarEnd)
		case tBlockBegin:
			flush()
			p.next()
			if end != nil && p.cur().typ == tName {
				for _, e := range end {
					if p.cur().val == e {
						return body
					}
				}
			}
			body = append(body, p.parseStatement()...)
			p.expectType(tBlockEnd)
		default:
			p.fail(t, "unexpected '%s'", t)
		}
	}
	flush()
	return body
}

func (p *parser) parseStatement() []node {
	t := p.cur()
	if t.typ != tName {
		p.fail(t, "tag name expected")
	}
	if statementKeywords[t.val] {
		switch t.val {
		case "for":
			return []node{p.parseFor()}
		case "if":
			return []node{p.parseIf()}
		case "block":
			return []node{p.parseBlock()}
		case "extends":
			p.next()
			return []node{&loadStmt{at: at{t.off}, tag: "extends", template: p.parseExpression(true)}}
		case "print":
			p.next()
			out := &outputStmt{at: at{t.off}}
			for p.cur().typ != tBlockEnd {
				if len(out.nodes) > 0 {
					p.expectOp(",")
				}
				out.nodes = append(out.nodes, p.parseExpression(true))
			}
			return []node{out}
		case "macro":
			return []node{p.parseMacro()}
		case "include":
			return []node{p.parseInclude()}
		case "from":
			return []node{p.parseFrom()}
		case "import":
			p.next()
			n := &loadStmt{at: at{t.off}, tag: "import", template: p.parseExpression(true)}
			p.expectName("as")
			n.targets = []string{p.expectType(tName).val}
			p.parseImportContext()
			return []node{n}
		case "set":
			return []node{p.parseSet()}
		case "with":
			return []node{p.parseWith()}
		case "autoescape":
			p.next()
			n := &scopeStmt{at: at{t.off}, expr: p.parseExpression(true)}
			n.body = p.parseStatements([]string{"endautoescape"}, true)
			return []node{n}
		}
	}
	switch t.val {
	case "call":
		return []node{p.parseCallBlock()}
	case "filter":
		p.next()
		n := &filterBlockStmt{at: at{t.off}}
		n.filter = p.parseFilter(nil, true).(*filterExpr)
		n.body = p.parseStatements([]string{"endfilter"}, true)
		return []node{n}
	case "break", "continue":
		p.next()
		return []node{&loopControl{at{t.off}}}
	case "do":
		p.next()
		return []node{&exprStmt{at{t.off}, p.parseTuple(false, true, nil, false)}}
	case "generation":
		p.next()
		return []node{&scopeStmt{at: at{t.off}, body: p.parseStatements([]string{"endgeneration"}, true)}}
	}
	p.fail(t, "encountered unknown tag '%s'", t.val)
	return nil
}

// parseStatements parses a statement body up to one of the end tags.
func (p *parser) parseStatements(end []string, dropNeedle bool) []node {
	p.skipOp(":")
	p.expectType(tBlockEnd)
	body := p.subparse(end)
	if p.cur().typ == tEOF {
		p.fail(p.cur(), "unexpected end of template, expected '%s'", strings.Join(end, "' or '"))
	}
	if dropNeedle {
		p.next()
	}
	return body
}

func (p *parser) parseSet() node {
	t := p.next()
	target := p.parseAssignTarget(true, false, nil, true)
	if p.skipOp("=") {
		return &assignStmt{at{t.off}, target, p.parseTuple(false, true, nil, false)}
	}
	var f *filterExpr
	if n := p.parseFilter(nil, false); n != nil {
		f = n.(*filterExpr)
	}
	body := p.parseStatements([]string{"endset"}, true)
	return &assignBlockStmt{at{t.off}, target, f, body}
}

func (p *parser) parseFor() node {
	t := p.expectName("for")
	n := &forStmt{at: at{t.off}}
	n.target = p.parseAssignTarget(true, false, []string{"in"}, false)
	p.expectName("in")
	n.iter = p.parseTuple(false, false, []string{"recursive"}, false)
	if p.skipName("if") {
		n.test = p.parseExpression(true)
	}
	n.recursive = p.skipName("recursive")
	n.body = p.parseStatements([]string{"endfor", "else"}, false)
	if p.next().val != "endfor" {
		n.else_ = p.parseStatements([]string{"endfor"}, true)
	}
	return n
}

func (p *parser) parseIf() node {
	t := p.expectName("if")
	result := &ifStmt{at: at{t.off}}
	n := result
	for {
		n.test = p.parseTuple(false, false, nil, false)
		n.body = p.parseStatements([]string{"elif", "else", "endif"}, false)
		tok := p.next()
		if tok.val == "elif" {
			n = &ifStmt{at: at{p.cur().off}}
			result.elifs = append(result.elifs, n)
			continue
		}
		if tok.val == "else" {
			result.else_ = p.parseStatements([]string{"endif"}, true)
		}
		break
	}
	return result
}

func (p *parser) parseWith() node {
	t := p.next()
	n := &withStmt{at: at{t.off}}
	for p.cur().typ != tBlockEnd {
		if len(n.targets) > 0 {
			p.expectOp(",")
		}
		n.targets = append(n.targets, p.parseAssignTarget(true, false, nil, false))
		p.expectOp("=")
		n.values = append(n.values, p.parseExpression(true))
	}
	n.body = p.parseStatements([]string{"endwith"}, true)
	return n
}

func (p *parser) parseBlock() node {
	t := p.next()
	n := &blockStmt{at: at{t.off}}
	n.name = p.expectType(tName).val
	p.skipName("scoped")
	required := p.skipName("required")
	if p.isOp("-") {
		p.fail(p.cur(), "block names in Jinja have to be valid Python identifiers and may not contain hyphens")
	}
	n.body = p.parseStatements([]string{"endblock"}, true)
	if required {
		for _, b := range n.body {
			o, ok := b.(*outputStmt)
			if !ok {
				p.fail(t, "required blocks can only contain comments or whitespace")
			}
			for _, x := range o.nodes {
				d, ok := x.(*templateData)
				if !ok || strings.TrimFunc(d.val, isSpace) != "" || d.val == "" {
					p.fail(t, "required blocks can only contain comments or whitespace")
				}
			}
		}
	}
	p.skipName(n.name)
	return n
}

func (p *parser) parseImportContext() {
	if (p.isName("with") || p.isName("without")) && p.look().typ == tName && p.look().val == "context" {
		p.next()
		p.next()
	}
}

func (p *parser) parseInclude() node {
	t := p.next()
	n := &loadStmt{at: at{t.off}, tag: "include", template: p.parseExpression(true)}
	if p.isName("ignore") && p.look().typ == tName && p.look().val == "missing" {
		p.next()
		p.next()
	}
	p.parseImportContext()
	return n
}

func (p *parser) parseFrom() node {
	t := p.next()
	n := &loadStmt{at: at{t.off}, tag: "from", template: p.parseExpression(true)}
	p.expectName("import")
	parseContext := func() bool {
		if (p.isName("with") || p.isName("without")) && p.look().typ == tName && p.look().val == "context" {
			p.next()
			p.next()
			return true
		}
		return false
	}
	first := true
	for {
		if !first {
			p.expectOp(",")
		}
		first = false
		if p.cur().typ != tName {
			p.expectType(tName)
		}
		if parseContext() {
			break
		}
		target := p.expectType(tName)
		if strings.HasPrefix(target.val, "_") {
			p.fail(target, "names starting with an underline can not be imported")
		}
		name := target.val
		if p.skipName("as") {
			name = p.expectType(tName).val
		}
		n.targets = append(n.targets, name)
		if parseContext() || !p.isOp(",") {
			break
		}
	}
	return n
}

func (p *parser) parseSignature(m *macroStmt) {
	p.expectOp("(")
	for !p.isOp(")") {
		if len(m.args) > 0 {
			p.expectOp(",")
		}
		t := p.expectType(tName)
		if p.skipOp("=") {
			m.defaults = append(m.defaults, p.parseExpression(true))
		} else if len(m.defaults) > 0 {
			p.fail(t, "non-default argument follows default argument")
		}
		m.args = append(m.args, &nameExpr{at{t.off}, t.val})
	}
	p.expectOp(")")
}

func (p *parser) newMacro(off int, name string) *macroStmt {
	m := &macroStmt{at: at{off}, name: name, id: len(p.macros)}
	p.macros = append(p.macros, m)
	return m
}

func (p *parser) parseCallBlock() node {
	t := p.next()
	m := p.newMacro(t.off, "caller")
	if p.isOp("(") {
		p.parseSignature(m)
	}
	call, ok := p.parseExpression(true).(*callExpr)
	if !ok {
		p.fail(t, "expected call")
	}
	m.body = p.parseStatements([]string{"endcall"}, true)
	return &callBlockStmt{at: at{t.off}, call: call, macro: m}
}

func (p *parser) parseMacro() node {
	t := p.next()
	name := p.expectType(tName)
	m := p.newMacro(t.off, name.val)
	p.parseSignature(m)
	m.body = p.parseStatements([]string{"endmacro"}, true)
	return m
}

// parseAssignTarget: a name, a tuple of names, or with withNamespace a
// namespace attribute (ns.attr).
func (p *parser) parseAssignTarget(withTuple, nameOnly bool, extraEnd []string, withNamespace bool) node {
	if withNamespace && p.look().typ == tOp && p.look().val == "." {
		t := p.expectType(tName)
		p.next()
		attr := p.expectType(tName)
		return &nsRef{at{t.off}, t.val, attr.val}
	}
	if nameOnly {
		t := p.expectType(tName)
		return &nameExpr{at{t.off}, t.val}
	}
	var target node
	if withTuple {
		target = p.parseTuple(true, true, extraEnd, false)
	} else {
		target = p.parsePrimary()
	}
	if !canAssign(target) {
		p.fail(p.cur(), "can't assign to this expression")
	}
	return target
}

func canAssign(n node) bool {
	switch x := n.(type) {
	case *nameExpr:
		switch x.name {
		case "true", "false", "none", "True", "False", "None":
			return false
		}
		return true
	case *tupleExpr:
		for _, i := range x.items {
			if !canAssign(i) {
				return false
			}
		}
		return true
	}
	return false
}

func (p *parser) parseExpression(withCond bool) node {
	if withCond {
		return p.parseCondExpr()
	}
	return p.parseOr()
}

func (p *parser) parseCondExpr() node {
	p.enter()
	defer p.leave()
	off := p.cur().off
	expr1 := p.parseOr()
	for p.skipName("if") {
		expr2 := p.parseOr()
		var expr3 node
		if p.skipName("else") {
			expr3 = p.parseCondExpr()
		}
		expr1 = &condExpr{at{off}, expr2, expr1, expr3}
	}
	return expr1
}

func (p *parser) parseOr() node {
	off := p.cur().off
	left := p.parseAnd()
	for p.skipName("or") {
		left = &binExpr{at{off}, "or", left, p.parseAnd()}
	}
	return left
}

func (p *parser) parseAnd() node {
	off := p.cur().off
	left := p.parseNot()
	for p.skipName("and") {
		left = &binExpr{at{off}, "and", left, p.parseNot()}
	}
	return left
}

func (p *parser) parseNot() node {
	if p.isName("not") {
		t := p.next()
		p.enter()
		defer p.leave()
		return &unaryExpr{at{t.off}, "not", p.parseNot()}
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() node {
	off := p.cur().off
	expr := p.parseMath1()
	c := &compareExpr{at: at{off}, expr: expr}
	for {
		t := p.cur()
		if t.typ == tOp && compareOps[t.val] != "" {
			p.next()
			c.ops = append(c.ops, compareOps[t.val])
		} else if p.skipName("in") {
			c.ops = append(c.ops, "in")
		} else if p.isName("not") && p.look().typ == tName && p.look().val == "in" {
			p.next()
			p.next()
			c.ops = append(c.ops, "notin")
		} else {
			break
		}
		c.args = append(c.args, p.parseMath1())
	}
	if len(c.ops) == 0 {
		return expr
	}
	return c
}

func (p *parser) parseMath1() node {
	off := p.cur().off
	left := p.parseConcat()
	for p.isOp("+") || p.isOp("-") {
		op := p.next().val
		left = &binExpr{at{off}, op, left, p.parseConcat()}
	}
	return left
}

func (p *parser) parseConcat() node {
	off := p.cur().off
	args := []node{p.parseMath2()}
	for p.skipOp("~") {
		args = append(args, p.parseMath2())
	}
	if len(args) == 1 {
		return args[0]
	}
	return &concatExpr{at{off}, args}
}

func (p *parser) parseMath2() node {
	off := p.cur().off
	left := p.parsePow()
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		op := p.next().val
		left = &binExpr{at{off}, op, left, p.parsePow()}
	}
	return left
}

func (p *parser) parsePow() node {
	off := p.cur().off
	left := p.parseUnary(true)
	for p.skipOp("**") {
		left = &binExpr{at{off}, "**", left, p.parseUnary(true)}
	}
	return left
}

func (p *parser) parseUnary(withFilter bool) node {
	p.enter()
	defer p.leave()
	t := p.cur()
	var n node
	switch {
	case p.isOp("-"):
		p.next()
		n = &unaryExpr{at{t.off}, "-", p.parseUnary(false)}
	case p.isOp("+"):
		p.next()
		n = &unaryExpr{at{t.off}, "+", p.parseUnary(false)}
	default:
		n = p.parsePrimary()
	}
	n = p.parsePostfix(n)
	if withFilter {
		n = p.parseFilterExpr(n)
	}
	return n
}

func (p *parser) parsePrimary() node {
	p.enter()
	defer p.leave()
	t := p.cur()
	switch t.typ {
	case tName:
		p.next()
		switch t.val {
		case "true", "True":
			return &constExpr{at: at{t.off}, v: true}
		case "false", "False":
			return &constExpr{at: at{t.off}, v: false}
		case "none", "None":
			return &constExpr{at: at{t.off}, v: none{}}
		}
		return &nameExpr{at{t.off}, t.val}
	case tString:
		p.next()
		var b strings.Builder
		b.WriteString(t.val)
		inexact := t.inexact
		for p.cur().typ == tString {
			b.WriteString(p.cur().val)
			inexact = inexact || p.cur().inexact
			p.next()
		}
		return &constExpr{at: at{t.off}, v: b.String(), inexact: inexact}
	case tInt:
		p.next()
		return &constExpr{at: at{t.off}, v: parseInt(t.val)}
	case tFloat:
		p.next()
		f, err := strconv.ParseFloat(t.val, 64)
		if err != nil {
			return &constExpr{at: at{t.off}, v: 0.0, inexact: true}
		}
		return &constExpr{at: at{t.off}, v: f}
	case tOp:
		switch t.val {
		case "(":
			p.next()
			n := p.parseTuple(false, true, nil, true)
			p.expectOp(")")
			return n
		case "[":
			return p.parseList()
		case "{":
			return p.parseDict()
		}
	}
	p.fail(t, "unexpected '%s'", t)
	return nil
}

// parseInt converts an integer literal; values beyond int64 are
// inexact constants.
func parseInt(s string) cval {
	if v, err := strconv.ParseInt(s, 0, 64); err == nil {
		return v
	}
	var b big.Int
	if _, ok := b.SetString(s, 0); ok {
		return bigInt{}
	}
	return bigInt{}
}

func (p *parser) isTupleEnd(extraEnd []string) bool {
	t := p.cur()
	if t.typ == tVarEnd || t.typ == tBlockEnd || t.typ == tOp && t.val == ")" {
		return true
	}
	if t.typ == tName {
		for _, e := range extraEnd {
			if t.val == e {
				return true
			}
		}
	}
	return false
}

func (p *parser) parseTuple(simplified, withCond bool, extraEnd []string, explicitParens bool) node {
	off := p.cur().off
	parse := func() node {
		if simplified {
			return p.parsePrimary()
		}
		return p.parseExpression(withCond)
	}
	var args []node
	isTuple := false
	for {
		if len(args) > 0 {
			p.expectOp(",")
		}
		if p.isTupleEnd(extraEnd) {
			break
		}
		args = append(args, parse())
		if p.isOp(",") {
			isTuple = true
		} else {
			break
		}
	}
	if !isTuple {
		if len(args) > 0 {
			return args[0]
		}
		if !explicitParens {
			p.fail(p.cur(), "expected an expression, got '%s'", p.cur())
		}
	}
	return &tupleExpr{at{off}, args}
}

func (p *parser) parseList() node {
	t := p.expectOp("[")
	n := &listExpr{at: at{t.off}}
	for !p.isOp("]") {
		if len(n.items) > 0 {
			p.expectOp(",")
		}
		if p.isOp("]") {
			break
		}
		n.items = append(n.items, p.parseExpression(true))
	}
	p.expectOp("]")
	return n
}

func (p *parser) parseDict() node {
	t := p.expectOp("{")
	n := &dictExpr{at: at{t.off}}
	for !p.isOp("}") {
		if len(n.keys) > 0 {
			p.expectOp(",")
		}
		if p.isOp("}") {
			break
		}
		k := p.parseExpression(true)
		p.expectOp(":")
		n.keys = append(n.keys, k)
		n.vals = append(n.vals, p.parseExpression(true))
	}
	p.expectOp("}")
	return n
}

func (p *parser) parsePostfix(n node) node {
	for {
		switch {
		case p.isOp(".") || p.isOp("["):
			n = p.parseSubscript(n)
		case p.isOp("("):
			n = p.parseCall(n)
		default:
			return n
		}
	}
}

func (p *parser) parseFilterExpr(n node) node {
	for {
		switch {
		case p.isOp("|"):
			n = p.parseFilter(n, false)
		case p.isName("is"):
			n = p.parseTest(n)
		case p.isOp("("):
			n = p.parseCall(n)
		default:
			return n
		}
	}
}

func (p *parser) parseSubscript(n node) node {
	p.enter()
	defer p.leave()
	t := p.next()
	if t.val == "." {
		a := p.next()
		if a.typ == tName {
			return &getattrExpr{at{t.off}, n, a.val}
		}
		if a.typ != tInt {
			p.fail(a, "expected name or number")
		}
		return &getitemExpr{at{t.off}, n, &constExpr{at: at{a.off}, v: parseInt(a.val)}}
	}
	var args []node
	for !p.isOp("]") {
		if len(args) > 0 {
			p.expectOp(",")
		}
		args = append(args, p.parseSubscribed())
	}
	p.expectOp("]")
	if len(args) == 1 {
		return &getitemExpr{at{t.off}, n, args[0]}
	}
	return &getitemExpr{at{t.off}, n, &tupleExpr{at{t.off}, args}}
}

func (p *parser) parseSubscribed() node {
	off := p.cur().off
	var args []node
	if p.isOp(":") {
		p.next()
		args = []node{nil}
	} else {
		n := p.parseExpression(true)
		if !p.isOp(":") {
			return n
		}
		p.next()
		args = []node{n}
	}
	if p.isOp(":") {
		args = append(args, nil)
	} else if !p.isOp("]") && !p.isOp(",") {
		args = append(args, p.parseExpression(true))
	} else {
		args = append(args, nil)
	}
	if p.isOp(":") {
		p.next()
		if !p.isOp("]") && !p.isOp(",") {
			args = append(args, p.parseExpression(true))
		} else {
			args = append(args, nil)
		}
	} else {
		args = append(args, nil)
	}
	return &sliceExpr{at{off}, args[0], args[1], args[2]}
}

func (p *parser) parseCallArgs() callArgs {
	t := p.expectOp("(")
	var c callArgs
	ensure := func(ok bool) {
		if !ok {
			p.fail(t, "invalid syntax for function call expression")
		}
	}
	requireComma := false
	for !p.isOp(")") {
		if requireComma {
			p.expectOp(",")
			if p.isOp(")") {
				break
			}
		}
		switch {
		case p.isOp("*"):
			ensure(c.dynArgs == nil && c.dynKwds == nil)
			p.next()
			c.dynArgs = p.parseExpression(true)
		case p.isOp("**"):
			ensure(c.dynKwds == nil)
			p.next()
			c.dynKwds = p.parseExpression(true)
		default:
			if p.cur().typ == tName && p.look().typ == tOp && p.look().val == "=" {
				ensure(c.dynKwds == nil)
				k := p.next()
				p.next()
				c.kwNames = append(c.kwNames, k.val)
				c.kwOffs = append(c.kwOffs, k.off)
				c.kwVals = append(c.kwVals, p.parseExpression(true))
			} else {
				ensure(c.dynArgs == nil && c.dynKwds == nil && len(c.kwNames) == 0)
				c.args = append(c.args, p.parseExpression(true))
			}
		}
		requireComma = true
	}
	p.expectOp(")")
	return c
}

func (p *parser) parseCall(n node) node {
	p.enter()
	defer p.leave()
	off := p.cur().off
	return &callExpr{at{off}, n, p.parseCallArgs()}
}

func (p *parser) parseFilter(n node, startInline bool) node {
	for p.isOp("|") || startInline {
		p.enter()
		if !startInline {
			p.next()
		}
		t := p.expectType(tName)
		name := t.val
		for p.skipOp(".") {
			name += "." + p.expectType(tName).val
		}
		var c callArgs
		if p.isOp("(") {
			c = p.parseCallArgs()
		}
		n = &filterExpr{at{t.off}, n, name, c}
		startInline = false
		p.leave()
	}
	return n
}

func (p *parser) parseTest(n node) node {
	p.enter()
	defer p.leave()
	t := p.next()
	negated := p.skipName("not")
	name := p.expectType(tName).val
	for p.skipOp(".") {
		name += "." + p.expectType(tName).val
	}
	var c callArgs
	cur := p.cur()
	switch {
	case p.isOp("("):
		c = p.parseCallArgs()
	case (cur.typ == tName || cur.typ == tString || cur.typ == tInt || cur.typ == tFloat || cur.typ == tOp && (cur.val == "[" || cur.val == "{")) &&
		!(cur.typ == tName && (cur.val == "else" || cur.val == "or" || cur.val == "and")):
		if p.isName("is") {
			p.fail(cur, "you cannot chain multiple tests with is")
		}
		arg := p.parsePostfix(p.parsePrimary())
		c.args = []node{arg}
	}
	var out node = &testExpr{at{t.off}, n, name, c}
	if negated {
		out = &unaryExpr{at{t.off}, "not", out}
	}
	return out
}
