package jinja

// The syntax tree mirrors jinja2/nodes.py. Every node records the byte
// offset of its first token.

type node interface{ pos() int }

type at struct{ off int }

func (a at) pos() int { return a.off }

// Expressions.
type (
	nameExpr struct {
		at
		name string
	}
	constExpr struct {
		at
		v       cval
		inexact bool // a string literal whose value is not fully known
	}
	tupleExpr struct {
		at
		items []node
	}
	listExpr struct {
		at
		items []node
	}
	dictExpr struct {
		at
		keys, vals []node
	}
	condExpr struct {
		at
		test, expr1, expr2 node // expr2 may be nil
	}
	callArgs struct {
		args             []node
		kwNames          []string
		kwVals           []node
		kwOffs           []int
		dynArgs, dynKwds node
	}
	filterExpr struct {
		at
		node node // nil for a filter block's filter
		name string
		callArgs
	}
	testExpr struct {
		at
		node node
		name string
		callArgs
	}
	callExpr struct {
		at
		node node
		callArgs
	}
	getitemExpr struct {
		at
		node, arg node
	}
	getattrExpr struct {
		at
		node node
		attr string
	}
	sliceExpr struct {
		at
		start, stop, step node // each may be nil
	}
	concatExpr struct {
		at
		nodes []node
	}
	compareExpr struct {
		at
		expr node
		ops  []string
		args []node
	}
	binExpr struct {
		at
		op          string // + - * / // % ** and or
		left, right node
	}
	unaryExpr struct {
		at
		op   string // not - +
		node node
	}
	nsRef struct {
		at
		name, attr string
	}
	templateData struct {
		at
		val, alt string
	}
)

// Statements.
type (
	outputStmt struct {
		at
		nodes []node
	}
	loadStmt struct { // extends, include, import, from ... import
		at
		tag      string
		template node
		targets  []string // names bound by import / from-import
	}
	forStmt struct {
		at
		target, iter node
		body, else_  []node
		test         node
		recursive    bool
	}
	ifStmt struct {
		at
		test  node
		body  []node
		elifs []*ifStmt
		else_ []node
	}
	macroStmt struct {
		at
		name     string
		args     []*nameExpr
		defaults []node
		body     []node
		id       int
	}
	callBlockStmt struct {
		at
		call     *callExpr
		macro    *macroStmt // the body, as the macro caller() calls
		argsOffs []int
	}
	filterBlockStmt struct {
		at
		filter *filterExpr
		body   []node
	}
	withStmt struct {
		at
		targets, values []node
		body            []node
	}
	blockStmt struct {
		at
		name string
		body []node
	}
	assignStmt struct {
		at
		target, value node
	}
	assignBlockStmt struct {
		at
		target node
		filter *filterExpr // may be nil
		body   []node
	}
	scopeStmt struct { // autoescape, generation (transformers)
		at
		expr node // may be nil
		body []node
	}
	exprStmt struct { // {% do %}
		at
		expr node
	}
	loopControl struct { // break, continue
		at
	}
)
