package pickle

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
)

// Limits bound one pickle stream. Hitting one makes the artifact
// inconclusive; nothing is ever allocated in proportion to a length field
// the file claims.
type Limits struct {
	MaxStack      int    // values on the stack
	MaxMarks      int    // nested MARKs
	MaxMemoIndex  uint32 // highest memo key accepted (LONG_BINPUT 2^31 attacks)
	MaxOps        int64  // opcodes per stream
	MaxLine       int    // text argument length (protocol 0)
	MaxArena      int    // bytes of retained strings and constants
	MaxStrKeep    int    // longest string retained
	MaxBytesKeep  int    // longest bytes constant copied (larger ones are re-read by offset when seekable)
	MaxItems      int    // items retained per container
	MaxPoolItems  int    // items retained in all containers
	MaxObjects    int    // retained containers and call records
	MaxSubStreams int    // joblib object arrays nested inside a stream
}

// DefaultLimits keep peak memory well under 150 MB on hostile input.
func DefaultLimits() Limits {
	return Limits{
		MaxStack:      1 << 22,
		MaxMarks:      1 << 16,
		MaxMemoIndex:  1 << 25,
		MaxOps:        1 << 32,
		MaxLine:       1 << 16,
		MaxArena:      16 << 20,
		MaxStrKeep:    4 << 10,
		MaxBytesKeep:  1 << 20,
		MaxItems:      32,
		MaxPoolItems:  1 << 20,
		MaxObjects:    1 << 18,
		MaxSubStreams: 8,
	}
}

// errStop ends a stream normally (STOP).
var errStop = errors.New("stop")

// syntaxError is a malformed stream: the loader raises at this offset.
type syntaxError struct {
	off int64
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

// machine is the symbolic pickle VM for one stream. It models what the
// unpickler would do (stack, memo, marks, frames, imports, calls) without
// ever constructing a Python object.
type machine struct {
	ctx  context.Context
	rd   *reader
	lim  Limits
	pol  *rules.PicklePolicy
	sink *sink // nil in trial mode (sniffing)

	stack []val
	marks []int
	memo  memo
	proto int
	ops   int64
	opOff int64 // offset of the current opcode

	frameEnd int64 // end of the current FRAME, or -1

	arena  arena
	pool   itemPool
	ctrs   []ctr
	calls  []call
	spans  []span
	globs  []global
	globIx map[string]uint32
	ext    map[int32]uint32 // copyreg extension codes registered in-stream

	seekable bool
	decoded  int // bytes produced by decoder evaluations
	depth    int // joblib sub-stream depth
	imports  int
	effects  bool // an import or call happened
	storage  []string
	// storageType is the storage class name (FloatStorage...) of each
	// storage key, for weight forensics.
	storageType []string
	joblib      bool
}

func newMachine(ctx context.Context, rd *reader, lim Limits, s *sink) *machine {
	return &machine{
		ctx: ctx, rd: rd, lim: lim, pol: rules.Pickle(), sink: s,
		arena:    arena{max: lim.MaxArena},
		pool:     itemPool{max: lim.MaxPoolItems},
		globIx:   map[string]uint32{},
		frameEnd: -1,
		seekable: rd.seeker != nil || rd.mem,
	}
}

func (m *machine) fail(format string, a ...any) error {
	return &syntaxError{off: m.opOff, msg: fmt.Sprintf(format, a...)}
}

func (m *machine) limit(what string, n int64) error {
	return &analyzer.LimitError{What: what, Limit: n}
}

// ---- stack ---------------------------------------------------------------

func (m *machine) fence() int {
	if n := len(m.marks); n > 0 {
		return m.marks[n-1]
	}
	return 0
}

func (m *machine) push(v val) error {
	if len(m.stack) >= m.lim.MaxStack {
		return m.limit("pickle stack depth", int64(m.lim.MaxStack))
	}
	m.stack = append(m.stack, v)
	return nil
}

func (m *machine) pop() (val, error) {
	n := len(m.stack)
	if n <= m.fence() {
		return val{}, m.fail("unpickling stack underflow")
	}
	v := m.stack[n-1]
	m.stack = m.stack[:n-1]
	return v, nil
}

func (m *machine) top() (val, error) {
	n := len(m.stack)
	if n <= m.fence() {
		return val{}, m.fail("unpickling stack underflow")
	}
	return m.stack[n-1], nil
}

// popMark removes the items above the innermost mark and the mark. The
// returned slice aliases the stack: copy before pushing.
func (m *machine) popMark() ([]val, error) {
	n := len(m.marks)
	if n == 0 {
		return nil, m.fail("could not find MARK")
	}
	k := m.marks[n-1]
	m.marks = m.marks[:n-1]
	items := m.stack[k:]
	m.stack = m.stack[:k]
	return items, nil
}

// ---- memo ----------------------------------------------------------------

func (m *machine) memoGet(i uint32) (val, error) {
	if v, ok := m.memo.get(i); ok {
		return v, nil
	}
	return val{}, m.fail("memo value not found at index %d", i)
}

func (m *machine) memoPut(i uint32, v val) error {
	if i > m.lim.MaxMemoIndex {
		return m.limit("pickle memo index", int64(m.lim.MaxMemoIndex))
	}
	m.memo.put(i, v)
	return nil
}

// ---- values --------------------------------------------------------------

func (m *machine) newStr(p []byte, computed bool) val {
	k := kStr
	if computed {
		k = kStrComputed
	}
	if len(p) <= m.lim.MaxStrKeep {
		if off, ok := m.arena.put(p); ok {
			return val{k: k, ref: off}
		}
	}
	return val{k: kStrLost}
}

func (m *machine) newBytes(p []byte) val {
	if off, ok := m.arena.put(p); ok {
		return val{k: kBytes, ref: off}
	}
	return val{k: kBytesLost}
}

// readBytes reads a length-prefixed constant of n bytes at the current
// offset and returns its value: copied when small, remembered by offset
// when large and the stream is seekable, dropped otherwise.
func (m *machine) readBytes(n uint64) (val, error) {
	if n > math.MaxInt64/2 {
		return val{}, m.fail("byte count %d out of range", n)
	}
	start := m.rd.offset()
	if n <= 4096 && n < uint64(len(m.rd.buf)) {
		p, err := m.rd.take(int(n))
		if err != nil {
			return val{}, err
		}
		m.latent(p, start, int64(n))
		return m.newBytes(p), nil
	}
	keep := m.lim.MaxBytesKeep
	if m.seekable {
		keep = len(pickleHeader) // enough to tell whether it is a pickle
	}
	p, err := m.rd.read(int64(n), keep)
	if err != nil {
		return val{}, err
	}
	m.latent(p, start, int64(n))
	if uint64(len(p)) == n {
		return m.newBytes(p), nil
	}
	if m.seekable && len(m.spans) < m.lim.MaxObjects {
		m.spans = append(m.spans, span{off: start, n: int64(n)})
		return val{k: kBytesAt, ref: uint32(len(m.spans) - 1)}, nil
	}
	return val{k: kBytesLost}, nil
}

// readText reads a length-prefixed string (UTF-8 for protocol 3+ opcodes).
func (m *machine) readText(n uint64, utf bool) (val, error) {
	if n > math.MaxInt64/2 {
		return val{}, m.fail("string length %d out of range", n)
	}
	var p []byte
	var err error
	if n <= uint64(m.lim.MaxStrKeep) && n < uint64(len(m.rd.buf)) {
		p, err = m.rd.take(int(n)) // no copy: the arena copies what it keeps
	} else {
		p, err = m.rd.read(int64(n), m.lim.MaxStrKeep)
	}
	if err != nil {
		return val{}, err
	}
	if uint64(len(p)) < n {
		return val{k: kStrLost}, nil
	}
	if utf && !utf8.Valid(p) && !validSurrogatePass(p) {
		return val{}, m.fail("invalid UTF-8 in string")
	}
	m.latentBase64(p)
	return m.newStr(p, false), nil
}

// validSurrogatePass accepts the lone surrogates that pickle's
// "surrogatepass" decoding allows.
func validSurrogatePass(p []byte) bool {
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size == 1 {
			if len(p) >= 3 && p[0] == 0xED && p[1] >= 0xA0 && p[1] <= 0xBF && p[2]&0xC0 == 0x80 {
				size = 3
			} else {
				return false
			}
		}
		p = p[size:]
	}
	return true
}

func (m *machine) newCtr(k kind, items []val) val {
	if len(m.ctrs) >= m.lim.MaxObjects {
		return val{k: kLostCtr}
	}
	c := ctr{total: int64(len(items))}
	if len(items) > 0 {
		keep := items
		if len(keep) > m.lim.MaxItems {
			keep = keep[:m.lim.MaxItems]
			c.trunc = true
		}
		if start, ok := m.pool.alloc(len(keep)); ok {
			copy(m.pool.slice(start, len(keep)), keep)
			c.start, c.n = start, uint16(len(keep))
		} else {
			c.trunc = true
		}
	}
	m.ctrs = append(m.ctrs, c)
	return val{k: k, ref: uint32(len(m.ctrs) - 1)}
}

// extend adds items to a retained container (lists, dicts, sets). Items
// are appended in place while the container's run is at the tip of the
// pool, which is how picklers of protocol 2 and later fill containers (in
// batches, right after creating them). Protocols 0 and 1 add one item at a
// time with the next value built in between, so a run that is no longer at
// the tip moves there: at most MaxItems items, MaxItems times per
// container.
func (m *machine) extend(target val, items []val) {
	if target.k < kTuple || target.k > kFrozenSet || len(items) == 0 {
		return
	}
	c := &m.ctrs[target.ref]
	c.total += int64(len(items))
	if c.trunc {
		return
	}
	room := m.lim.MaxItems - int(c.n)
	if len(items) > room {
		items = items[:room]
		c.trunc = true
	}
	if len(items) == 0 {
		return
	}
	if c.n == 0 {
		start, ok := m.pool.alloc(len(items))
		if !ok {
			c.trunc = true
			return
		}
		c.start = start
	} else if m.pool.canGrow(c.start, int(c.n), len(items)) {
		m.pool.alloc(len(items))
	} else {
		start, ok := m.pool.alloc(int(c.n) + len(items))
		if !ok {
			c.trunc = true
			return
		}
		copy(m.pool.slice(start, int(c.n)), m.pool.slice(c.start, int(c.n)))
		c.start = start
	}
	copy(m.pool.slice(c.start, int(c.n)+len(items))[c.n:], items)
	c.n += uint16(len(items))
}

func (m *machine) newCall(op byte, fn, args val) val {
	if len(m.calls) >= m.lim.MaxObjects {
		return val{k: kLostCall}
	}
	m.calls = append(m.calls, call{fn: fn, args: args, op: op, off: m.opOff})
	return val{k: kCall, ref: uint32(len(m.calls) - 1)}
}

// ---- the loop ------------------------------------------------------------

// run executes one stream to its STOP. It returns nil at STOP, or the
// error that ended the stream early.
func (m *machine) run() error {
	for {
		if fastPath {
			m.fast()
		}
		if err := m.step(); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
	}
}

func (m *machine) step() error {
	rd := m.rd
	m.opOff = rd.base + int64(rd.r)
	var op byte
	if rd.r < rd.w {
		op = rd.buf[rd.r]
		rd.r++
	} else {
		b, err := rd.byte()
		if err != nil {
			return err
		}
		op = b
	}
	m.ops++
	if m.ops&0xffff == 0 {
		if err := m.ctx.Err(); err != nil {
			return err
		}
		if m.ops > m.lim.MaxOps {
			return m.limit("pickle opcodes", m.lim.MaxOps)
		}
	}
	if err := m.exec(op); err != nil {
		return err
	}
	if m.frameEnd >= 0 {
		if end := m.rd.offset(); end >= m.frameEnd {
			if m.opOff < m.frameEnd && end > m.frameEnd && m.sink != nil {
				m.sink.anomaly(rules.PickleFrameMismatch, m.opOff, fmt.Sprintf("opcode 0x%02x crosses the end of its FRAME at %d", op, m.frameEnd))
			}
			m.frameEnd = -1
		}
	}
	return nil
}

func (m *machine) exec(op byte) error {
	rd := m.rd
	switch op {
	case '(': // MARK
		if len(m.marks) >= m.lim.MaxMarks {
			return m.limit("pickle marks", int64(m.lim.MaxMarks))
		}
		m.marks = append(m.marks, len(m.stack))
	case '.': // STOP
		if _, err := m.pop(); err != nil {
			return err
		}
		return errStop
	case '0': // POP: pops a mark when the stack is empty down to it
		if n := len(m.marks); n > 0 && m.marks[n-1] == len(m.stack) {
			m.marks = m.marks[:n-1]
			return nil
		}
		_, err := m.pop()
		return err
	case '1': // POP_MARK
		_, err := m.popMark()
		return err
	case '2': // DUP
		v, err := m.top()
		if err != nil {
			return err
		}
		m.ref(v)
		return m.push(v)
	case 'N':
		return m.push(vNone)
	case 0x88: // NEWTRUE
		return m.push(val{k: kBool, ref: 1})
	case 0x89: // NEWFALSE
		return m.push(val{k: kBool, ref: 0})
	case 'I': // INT (text; "00"/"01" are bools)
		line, err := rd.line(m.lim.MaxLine)
		if err != nil {
			return err
		}
		switch string(line) {
		case "00":
			return m.push(val{k: kBool, ref: 0})
		case "01":
			return m.push(val{k: kBool, ref: 1})
		}
		v, ok := parseTextInt(line, false)
		if !ok {
			return m.fail("invalid literal for int(): %q", clip(line))
		}
		return m.push(v)
	case 'L': // LONG (text)
		line, err := rd.line(m.lim.MaxLine)
		if err != nil {
			return err
		}
		if n := len(line); n > 0 && line[n-1] == 'L' {
			line = line[:n-1]
		}
		v, ok := parseTextInt(line, true)
		if !ok {
			return m.fail("invalid literal for int() with base 0: %q", clip(line))
		}
		return m.push(v)
	case 'J', 'K', 'M': // BININT, BININT1, BININT2
		n, err := m.uarg(op)
		if err != nil {
			return err
		}
		// kInt holds the int32 bits; BININT is signed, the others fit.
		return m.push(val{k: kInt, ref: uint32(n)})
	case 0x8a: // LONG1
		n, err := rd.byte()
		if err != nil {
			return err
		}
		return m.longBytes(int64(n))
	case 0x8b: // LONG4
		b, err := rd.take(4)
		if err != nil {
			return err
		}
		n := int32(binary.LittleEndian.Uint32(b))
		if n < 0 {
			return m.fail("LONG pickle has negative byte count")
		}
		return m.longBytes(int64(n))
	case 'F': // FLOAT (text)
		line, err := rd.line(m.lim.MaxLine)
		if err != nil {
			return err
		}
		if !parseTextFloat(line) {
			return m.fail("could not convert string to float: %q", clip(line))
		}
		return m.push(val{k: kFloat})
	case 'G': // BINFLOAT
		if err := rd.skip(8); err != nil {
			return err
		}
		return m.push(val{k: kFloat})
	case 'S': // STRING (quoted, escaped)
		line, err := rd.line(m.lim.MaxLine)
		if err != nil {
			return err
		}
		if len(line) < 2 || line[0] != line[len(line)-1] || (line[0] != '\'' && line[0] != '"') {
			return m.fail("the STRING opcode argument must be quoted")
		}
		s, err := unescapeString(line[1 : len(line)-1])
		if err != nil {
			return m.fail("STRING argument: %v", err)
		}
		return m.push(m.newStr(s, false))
	case 'T': // BINSTRING
		b, err := rd.take(4)
		if err != nil {
			return err
		}
		n := int32(binary.LittleEndian.Uint32(b))
		if n < 0 {
			return m.fail("BINSTRING pickle has negative byte count")
		}
		v, err := m.readText(uint64(n), false)
		if err != nil {
			return err
		}
		return m.push(v)
	case 'U': // SHORT_BINSTRING
		n, err := rd.byte()
		if err != nil {
			return err
		}
		v, err := m.readText(uint64(n), false)
		if err != nil {
			return err
		}
		return m.push(v)
	case 'V': // UNICODE (raw-unicode-escape)
		line, err := rd.line(m.lim.MaxLine)
		if err != nil {
			return err
		}
		s, err := rawUnicodeEscape(line)
		if err != nil {
			return m.fail("UNICODE argument: %v", err)
		}
		return m.push(m.newStr(s, false))
	case 'X', 0x8c, 0x8d: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
		n, err := m.uarg(op)
		if err != nil {
			return err
		}
		v, err := m.readText(n, true)
		if err != nil {
			return err
		}
		return m.push(v)
	case 'B', 'C', 0x8e, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
		n, err := m.uarg(op)
		if err != nil {
			return err
		}
		v, err := m.readBytes(n)
		if err != nil {
			return err
		}
		return m.push(v)
	case ')': // EMPTY_TUPLE
		return m.push(m.newCtr(kTuple, nil))
	case ']': // EMPTY_LIST
		return m.push(m.newCtr(kList, nil))
	case '}': // EMPTY_DICT
		return m.push(m.newCtr(kDict, nil))
	case 0x8f: // EMPTY_SET
		return m.push(m.newCtr(kSet, nil))
	case 't', 'l', 0x91: // TUPLE, LIST, FROZENSET
		items, err := m.popMark()
		if err != nil {
			return err
		}
		k := map[byte]kind{'t': kTuple, 'l': kList, 0x91: kFrozenSet}[op]
		return m.push(m.newCtr(k, items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		if len(m.stack)-n < m.fence() {
			return m.fail("unpickling stack underflow")
		}
		items := m.stack[len(m.stack)-n:]
		v := m.newCtr(kTuple, items)
		m.stack = m.stack[:len(m.stack)-n]
		return m.push(v)
	case 'd': // DICT
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if len(items)%2 != 0 {
			return m.fail("odd number of items for DICT")
		}
		return m.push(m.newCtr(kDict, items))
	case 'a': // APPEND
		v, err := m.pop()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		m.add(t, op, []val{v})
	case 'e', 0x90: // APPENDS, ADDITEMS
		items, err := m.popMark()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		m.add(t, op, items)
	case 's': // SETITEM
		v, err := m.pop()
		if err != nil {
			return err
		}
		k, err := m.pop()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		m.add(t, op, []val{k, v})
	case 'u': // SETITEMS
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if len(items)%2 != 0 {
			return m.fail("odd number of items for SETITEMS")
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		m.add(t, op, items)
	case 'g': // GET
		line, err := rd.line(m.lim.MaxLine)
		if err != nil {
			return err
		}
		i, err := parseMemoIndex(line)
		if err != nil {
			return m.fail("GET: %v", err)
		}
		v, err := m.memoGet(i)
		if err != nil {
			return err
		}
		m.ref(v)
		return m.push(v)
	case 'h', 'j': // BINGET, LONG_BINGET
		n, err := m.uarg(op)
		if err != nil {
			return err
		}
		v, err := m.memoGet(uint32(n))
		if err != nil {
			return err
		}
		m.ref(v)
		return m.push(v)
	case 'p': // PUT
		line, err := rd.line(m.lim.MaxLine)
		if err != nil {
			return err
		}
		i, err := parseMemoIndex(line)
		if err != nil {
			return m.fail("PUT: %v", err)
		}
		return m.put(i)
	case 'q', 'r': // BINPUT, LONG_BINPUT
		n, err := m.uarg(op)
		if err != nil {
			return err
		}
		return m.put(uint32(n))
	case 0x94: // MEMOIZE
		return m.put(uint32(m.memo.n))
	case 'c': // GLOBAL
		module, name, err := m.globalLines(false)
		if err != nil {
			return err
		}
		return m.push(m.importGlobal(module, name, "GLOBAL"))
	case 0x93: // STACK_GLOBAL
		name, err := m.pop()
		if err != nil {
			return err
		}
		module, err := m.pop()
		if err != nil {
			return err
		}
		v, err := m.stackGlobal(module, name)
		if err != nil {
			return err
		}
		return m.push(v)
	case 'i': // INST: import, then call with the marked items
		items, err := m.popMark()
		if err != nil {
			return err
		}
		args := m.newCtr(kTuple, items)
		module, name, err := m.globalLines(true)
		if err != nil {
			return err
		}
		fn := m.importGlobal(module, name, "INST")
		return m.push(m.invoke(op, fn, args))
	case 'o': // OBJ: cls and args from the mark
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if len(items) < 1 {
			return m.fail("unpickling stack underflow")
		}
		fn := items[0]
		args := m.newCtr(kTuple, items[1:])
		return m.push(m.invoke(op, fn, args))
	case 'R': // REDUCE
		args, err := m.pop()
		if err != nil {
			return err
		}
		fn, err := m.pop()
		if err != nil {
			return err
		}
		return m.push(m.invoke(op, fn, args))
	case 0x81: // NEWOBJ
		args, err := m.pop()
		if err != nil {
			return err
		}
		cls, err := m.pop()
		if err != nil {
			return err
		}
		return m.push(m.invoke(op, cls, args))
	case 0x92: // NEWOBJ_EX
		if _, err := m.pop(); err != nil { // kwargs
			return err
		}
		args, err := m.pop()
		if err != nil {
			return err
		}
		cls, err := m.pop()
		if err != nil {
			return err
		}
		return m.push(m.invoke(op, cls, args))
	case 'b': // BUILD
		state, err := m.pop()
		if err != nil {
			return err
		}
		inst, err := m.top()
		if err != nil {
			return err
		}
		return m.build(inst, state)
	case 'P': // PERSID
		line, err := rd.line(m.lim.MaxLine)
		if err != nil {
			return err
		}
		if !isASCII(line) {
			return m.fail("persistent IDs in protocol 0 must be ASCII strings")
		}
		return m.push(m.persistent(m.newStr(line, false)))
	case 'Q': // BINPERSID
		pid, err := m.pop()
		if err != nil {
			return err
		}
		return m.push(m.persistent(pid))
	case 0x82, 0x83, 0x84: // EXT1, EXT2, EXT4
		n, err := m.uarg(op)
		if err != nil {
			return err
		}
		code := int32(n)
		if code <= 0 {
			return m.fail("EXT specifies code <= 0")
		}
		return m.push(m.extension(code))
	case 0x80: // PROTO
		b, err := rd.byte()
		if err != nil {
			return err
		}
		if b > 5 {
			return m.fail("unsupported pickle protocol: %d", b)
		}
		m.proto = int(b)
	case 0x95: // FRAME
		b, err := rd.take(8)
		if err != nil {
			return err
		}
		n := binary.LittleEndian.Uint64(b)
		if m.frameEnd >= 0 && m.sink != nil {
			m.sink.anomaly(rules.PickleFrameMismatch, m.opOff, fmt.Sprintf("a new FRAME starts %d bytes before the previous one ends", m.frameEnd-m.opOff))
		}
		if n > math.MaxInt64/2 {
			return m.fail("FRAME length %d out of range", n)
		}
		m.frameEnd = rd.offset() + int64(n)
		if t := rd.total; t >= 0 && m.frameEnd > t && m.sink != nil {
			m.sink.anomaly(rules.PickleFrameMismatch, m.opOff, fmt.Sprintf("a FRAME of %d bytes runs %d bytes past the end of the data; the C unpickler refuses the stream, the Python one (joblib) runs it", n, m.frameEnd-t))
		}
	case 0x97: // NEXT_BUFFER
		if m.sink != nil {
			m.sink.anomaly(rules.PickleOutOfBandBuffer, m.opOff, "refers to an out-of-band buffer (pickle protocol 5); its content is supplied by the loading program and was not checked")
		}
		return m.push(val{k: kBuffer})
	case 0x98: // READONLY_BUFFER
		_, err := m.top()
		return err
	default:
		return m.fail("invalid load key, 0x%02x", op)
	}
	return nil
}

// argWidth is the byte width of the little-endian integer argument of
// binary opcodes.
var argWidth = [256]uint8{
	'J': 4, 'K': 1, 'M': 2, 'X': 4, 0x8c: 1, 0x8d: 8, 'B': 4, 'C': 1, 0x8e: 8, 0x96: 8,
	'h': 1, 'j': 4, 'q': 1, 'r': 4, 0x82: 1, 0x83: 2, 0x84: 4,
}

// uarg reads the integer argument of op.
func (m *machine) uarg(op byte) (uint64, error) {
	w := int(argWidth[op])
	b, err := m.rd.take(w)
	if err != nil {
		return 0, err
	}
	var n uint64
	for i := w - 1; i >= 0; i-- {
		n = n<<8 | uint64(b[i])
	}
	return n, nil
}

// globalLines reads the module and name lines of GLOBAL and INST.
func (m *machine) globalLines(inst bool) (string, string, error) {
	mod, err := m.rd.line(m.lim.MaxLine)
	if err != nil {
		return "", "", err
	}
	module := string(mod)
	name, err := m.rd.line(m.lim.MaxLine)
	if err != nil {
		return "", "", err
	}
	// Both unpicklers refuse an empty line (C: "pickle data was
	// truncated"; Python: an empty module or attribute name), names
	// that are not UTF-8, and for INST names that are not ASCII.
	if module == "" || len(name) == 0 {
		return "", "", m.fail("empty import name")
	}
	if !utf8.ValidString(module) || !utf8.Valid(name) || inst && (!isASCII([]byte(module)) || !isASCII(name)) {
		return "", "", m.fail("import names are not %s", map[bool]string{true: "ASCII", false: "UTF-8"}[inst])
	}
	return module, string(name), nil
}

// ref counts another push of an import's value (a memo GET or DUP), so
// that every use of a wrapper can be checked (see global.wrap).
func (m *machine) ref(v val) {
	if v.k == kGlobal {
		m.globs[v.ref].refs++
	}
}

func (m *machine) put(i uint32) error {
	v, err := m.top()
	if err != nil {
		return err
	}
	return m.memoPut(i, v)
}

func (m *machine) longBytes(n int64) error {
	if n <= 4 {
		b, err := m.rd.take(int(n))
		if err != nil {
			return err
		}
		var x int32
		if n > 0 {
			var u uint32
			for i := n - 1; i >= 0; i-- {
				u = u<<8 | uint32(b[i])
			}
			shift := uint(32 - 8*n)
			x = int32(u<<shift) >> shift
		}
		return m.push(val{k: kInt, ref: uint32(x)})
	}
	if err := m.rd.skip(n); err != nil {
		return err
	}
	return m.push(val{k: kBigInt})
}

func opName(op byte) string {
	switch op {
	case 'a':
		return "APPEND"
	case 'e':
		return "APPENDS"
	case 0x90:
		return "ADDITEMS"
	case 's':
		return "SETITEM"
	case 'u':
		return "SETITEMS"
	}
	return fmt.Sprintf("0x%02x", op)
}

// add applies an APPEND, APPENDS, ADDITEMS, SETITEM or SETITEMS (op) of
// items to the container t, noting when t is an imported object.
func (m *machine) add(t val, op byte, items []val) {
	m.mutate(t, opName(op))
	m.extend(t, items)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// errors from the reader that mean "the data ended".
func isEOF(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
