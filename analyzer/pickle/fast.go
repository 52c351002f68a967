package pickle

import (
	"encoding/binary"
	"unicode/utf8"
)

// fastPath is switched off by the differential tests, which check that
// both paths reach the same findings.
var fastPath = true

// fast executes the opcodes that build plain data (marks, constants,
// containers, memo traffic), which are nearly all the opcodes of a large
// pickle, straight from the reader's buffer. It stops, with nothing of
// the stopping opcode applied, at any opcode it leaves to exec: one it
// does not handle, one not wholly buffered, one that reaches the end of
// the current FRAME, one that would hit a limit or fail, and the periodic
// budget check. exec then runs that opcode with the full checks, so both
// paths always agree (TestFastPathAgrees, FuzzFastPath).
func (m *machine) fast() {
	rd := m.rd
	buf := rd.buf[:rd.w]
	r := rd.r
	end := len(buf) // opcodes must end by end: in the buffer, before the FRAME's end
	if m.frameEnd >= 0 {
		if e := m.frameEnd - rd.base - 1; e < int64(end) {
			end = int(e)
		}
	}
	stack := m.stack
	ops := m.ops
	maxStack := m.lim.MaxStack
loop:
	for (ops+1)&0xffff != 0 && r < end {
		op := buf[r]
		n := int(fastLen[op]) // opcode length (for strings, up to the text)
		if n == 0 || r+n > end {
			break
		}
		var v val
		switch op {
		case '(': // MARK
			if len(m.marks) >= m.lim.MaxMarks {
				break loop
			}
			m.marks = append(m.marks, len(stack))
			goto next
		case 'N':
			v = vNone
		case 0x88: // NEWTRUE
			v = val{k: kBool, ref: 1}
		case 0x89: // NEWFALSE
			v = val{k: kBool}
		case 'K': // BININT1
			v = val{k: kInt, ref: uint32(buf[r+1])}
		case 'M': // BININT2
			v = val{k: kInt, ref: uint32(binary.LittleEndian.Uint16(buf[r+1:]))}
		case 'J': // BININT
			v = val{k: kInt, ref: binary.LittleEndian.Uint32(buf[r+1:])}
		case 'G': // BINFLOAT
			v = val{k: kFloat}
		case ')', ']', '}', 0x8f: // empty containers
			if len(stack) >= maxStack {
				break loop
			}
			v = m.newCtr(emptyKind[op], nil)
		case 0x94, 'q', 'r': // MEMOIZE, BINPUT, LONG_BINPUT
			if len(stack) <= m.fence() {
				break loop
			}
			i := uint32(m.memo.n)
			switch op {
			case 'q':
				i = uint32(buf[r+1])
			case 'r':
				i = binary.LittleEndian.Uint32(buf[r+1:])
			}
			if i > m.lim.MaxMemoIndex {
				break loop
			}
			// The common case, a key in an allocated dense page that is
			// being filled in order, is written in place.
			if pg := i >> pageBits; i < denseLimit && int(pg) < len(m.memo.dense) {
				if page, off := m.memo.dense[pg], i&(pageSize-1); int(off) < len(page) {
					if page[off].k == kAbsent {
						m.memo.n++
					}
					page[off] = stack[len(stack)-1]
					goto next
				}
			}
			m.memo.put(i, stack[len(stack)-1])
			goto next
		case 'h', 'j': // BINGET, LONG_BINGET
			i := uint32(buf[r+1])
			if op == 'j' {
				i = binary.LittleEndian.Uint32(buf[r+1:])
			}
			var ok bool
			if v, ok = m.memo.get(i); !ok {
				break loop
			}
			if v.k == kGlobal {
				m.globs[v.ref].refs++
			}
		case 0x8c, 'X': // SHORT_BINUNICODE, BINUNICODE
			ln := int(buf[r+1])
			if op == 'X' {
				ln = int(binary.LittleEndian.Uint32(buf[r+1:]))
			}
			if ln > m.lim.MaxStrKeep || ln > end-r-n || len(stack) >= maxStack {
				break loop
			}
			p := buf[r+n : r+n+ln]
			if !utf8.Valid(p) && !validSurrogatePass(p) {
				break loop
			}
			m.opOff = rd.base + int64(r)
			m.latentBase64(p)
			v = m.newStr(p, false)
			n += ln
		case 0x85, 0x86, 0x87: // TUPLE1..3
			k := int(op - 0x84)
			if len(stack)-k < m.fence() {
				break loop
			}
			v = m.newCtr(kTuple, stack[len(stack)-k:])
			stack = stack[:len(stack)-k]
		case 'a', 's': // APPEND, SETITEM
			k := 1
			if op == 's' {
				k = 2
			}
			if len(stack)-k <= m.fence() {
				break loop
			}
			items := stack[len(stack)-k:] // extend copies them
			stack = stack[:len(stack)-k]
			t := stack[len(stack)-1]
			m.opOff = rd.base + int64(r)
			m.add(t, op, items)
			goto next
		case 'e', 0x90, 'u': // APPENDS, ADDITEMS, SETITEMS
			nm := len(m.marks)
			if nm == 0 {
				break loop
			}
			k := m.marks[nm-1]
			outer := 0
			if nm > 1 {
				outer = m.marks[nm-2]
			}
			if k <= outer || op == 'u' && (len(stack)-k)%2 != 0 {
				break loop
			}
			m.marks = m.marks[:nm-1]
			items := stack[k:]
			stack = stack[:k]
			t := stack[k-1]
			m.opOff = rd.base + int64(r)
			m.add(t, op, items)
			goto next
		}
		if len(stack) >= maxStack {
			break
		}
		stack = append(stack, v)
	next:
		r += n
		ops++
	}
	rd.r = r
	m.stack = stack
	m.ops = ops
}

// fastLen is the length of each opcode fast handles, 0 for the others;
// for strings, the length of the opcode and its length field.
var fastLen = [256]uint8{
	'(': 1, 'N': 1, 0x88: 1, 0x89: 1, 'K': 2, 'M': 3, 'J': 5, 'G': 9,
	')': 1, ']': 1, '}': 1, 0x8f: 1, 0x94: 1, 'q': 2, 'r': 5, 'h': 2, 'j': 5,
	0x8c: 2, 'X': 5, 0x85: 1, 0x86: 1, 0x87: 1, 'a': 1, 's': 1, 'e': 1, 0x90: 1, 'u': 1,
}

var emptyKind = [256]kind{')': kTuple, ']': kList, '}': kDict, 0x8f: kSet}
