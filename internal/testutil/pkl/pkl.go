// Package pkl assembles pickle byte streams for tests, opcode by opcode,
// so that every attack and edge case has a hand-made fixture that does
// not depend on Python.
package pkl

import (
	"encoding/binary"
	"fmt"
)

// B builds a pickle stream.
type B struct{ b []byte }

// New starts a stream; proto >= 2 writes a PROTO header.
func New(proto int) *B {
	p := &B{}
	if proto >= 2 {
		p.b = append(p.b, 0x80, byte(proto))
	}
	return p
}

// Bytes returns the assembled stream.
func (p *B) Bytes() []byte { return p.b }

// Raw appends bytes verbatim.
func (p *B) Raw(b ...byte) *B { p.b = append(p.b, b...); return p }

// Text appends a protocol-0 opcode with a text argument line.
func (p *B) Text(op byte, arg string) *B {
	p.b = append(p.b, op)
	p.b = append(p.b, arg...)
	p.b = append(p.b, '\n')
	return p
}

func (p *B) Mark() *B        { return p.Raw('(') }
func (p *B) Stop() *B        { return p.Raw('.') }
func (p *B) None() *B        { return p.Raw('N') }
func (p *B) Pop() *B         { return p.Raw('0') }
func (p *B) Dup() *B         { return p.Raw('2') }
func (p *B) Reduce() *B      { return p.Raw('R') }
func (p *B) Build() *B       { return p.Raw('b') }
func (p *B) NewObj() *B      { return p.Raw(0x81) }
func (p *B) Obj() *B         { return p.Raw('o') }
func (p *B) Tuple() *B       { return p.Raw('t') }
func (p *B) Tuple1() *B      { return p.Raw(0x85) }
func (p *B) Tuple2() *B      { return p.Raw(0x86) }
func (p *B) Tuple3() *B      { return p.Raw(0x87) }
func (p *B) EmptyTuple() *B  { return p.Raw(')') }
func (p *B) EmptyList() *B   { return p.Raw(']') }
func (p *B) EmptyDict() *B   { return p.Raw('}') }
func (p *B) SetItem() *B     { return p.Raw('s') }
func (p *B) SetItems() *B    { return p.Raw('u') }
func (p *B) Append() *B      { return p.Raw('a') }
func (p *B) Appends() *B     { return p.Raw('e') }
func (p *B) Memoize() *B     { return p.Raw(0x94) }
func (p *B) StackGlobal() *B { return p.Raw(0x93) }

// Global writes GLOBAL module\nname\n.
func (p *B) Global(module, name string) *B {
	return p.Text('c', module).Raw([]byte(name + "\n")...)
}

// Inst writes INST module\nname\n (after a Mark and the arguments).
func (p *B) Inst(module, name string) *B {
	return p.Text('i', module).Raw([]byte(name + "\n")...)
}

// Str writes SHORT_BINUNICODE or BINUNICODE.
func (p *B) Str(s string) *B {
	if len(s) < 256 {
		p.b = append(p.b, 0x8c, byte(len(s)))
	} else {
		p.b = append(p.b, 'X')
		p.b = binary.LittleEndian.AppendUint32(p.b, uint32(len(s)))
	}
	p.b = append(p.b, s...)
	return p
}

// BinBytes writes SHORT_BINBYTES or BINBYTES.
func (p *B) BinBytes(b []byte) *B {
	if len(b) < 256 {
		p.b = append(p.b, 'C', byte(len(b)))
	} else {
		p.b = append(p.b, 'B')
		p.b = binary.LittleEndian.AppendUint32(p.b, uint32(len(b)))
	}
	p.b = append(p.b, b...)
	return p
}

// Int writes BININT1, BININT2 or BININT.
func (p *B) Int(n int) *B {
	switch {
	case n >= 0 && n < 256:
		return p.Raw('K', byte(n))
	case n >= 0 && n < 65536:
		return p.Raw('M', byte(n), byte(n>>8))
	}
	p.b = append(p.b, 'J')
	p.b = binary.LittleEndian.AppendUint32(p.b, uint32(int32(n)))
	return p
}

// Put writes BINPUT or LONG_BINPUT.
func (p *B) Put(i uint32) *B {
	if i < 256 {
		return p.Raw('q', byte(i))
	}
	p.b = append(p.b, 'r')
	p.b = binary.LittleEndian.AppendUint32(p.b, i)
	return p
}

// Get writes BINGET or LONG_BINGET.
func (p *B) Get(i uint32) *B {
	if i < 256 {
		return p.Raw('h', byte(i))
	}
	p.b = append(p.b, 'j')
	p.b = binary.LittleEndian.AppendUint32(p.b, i)
	return p
}

// Frame writes FRAME with an explicit length.
func (p *B) Frame(n uint64) *B {
	p.b = append(p.b, 0x95)
	p.b = binary.LittleEndian.AppendUint64(p.b, n)
	return p
}

// Call writes module.name(args...) with STACK_GLOBAL (proto 4 style)
// where each arg is a string.
func (p *B) Call(module, name string, args ...string) *B {
	p.Str(module).Str(name).StackGlobal()
	p.Mark()
	for _, a := range args {
		p.Str(a)
	}
	return p.Tuple().Reduce()
}

// Proto0Call writes GLOBAL + MARK + STRING args + TUPLE + REDUCE.
func (p *B) Proto0Call(module, name string, args ...string) *B {
	p.Global(module, name).Mark()
	for _, a := range args {
		p.Text('S', fmt.Sprintf("%q", a))
	}
	return p.Tuple().Reduce()
}
