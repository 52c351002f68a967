package pickle

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ulikunitz/xz/lzma"

	"github.com/aigis-dev/aigis/internal/rules"
)

// maxGlobals bounds distinct imports per stream; real pickles have tens.
const maxGlobals = 1 << 16

// classify caches rule decisions across streams and files: a checkpoint
// imports the same few globals thousands of times.
var classifyCache struct {
	sync.Mutex
	m map[string]rules.Decision
}

func (m *machine) classify(module, name string) rules.Decision {
	key := module + "\x00" + name
	classifyCache.Lock()
	d, ok := classifyCache.m[key]
	classifyCache.Unlock()
	if ok {
		return d
	}
	d = m.pol.Classify(module, name)
	classifyCache.Lock()
	if classifyCache.m == nil || len(classifyCache.m) > 1<<14 {
		classifyCache.m = map[string]rules.Decision{}
	}
	classifyCache.m[key] = d
	classifyCache.Unlock()
	return d
}

// importGlobal records an import the unpickler performs (find_class) and
// returns the value it pushes.
func (m *machine) importGlobal(module, name, how string) val {
	m.effects = true
	key := module + "\x00" + name
	if i, ok := m.globIx[key]; ok {
		m.globs[i].count++
		return val{k: kGlobal, ref: i}
	}
	if len(m.globs) >= maxGlobals {
		return val{k: kOpaque}
	}
	g := global{module: module, name: name, first: m.opOff, count: 1}
	g.dec = m.classify(module, name)
	g.loader = m.pol.Loader(g.dec.Module, g.dec.Name)
	g.wrap = m.pol.Wrapper(g.dec.Module, g.dec.Name)
	if how == "getattr" {
		g.via = how
	}
	m.globs = append(m.globs, g)
	i := uint32(len(m.globs) - 1)
	m.globIx[key] = i
	m.imports++
	return val{k: kGlobal, ref: i}
}

// unresolvedGlobal stands for an import whose target cannot be known.
func (m *machine) unresolvedGlobal(why string) val {
	m.effects = true
	if len(m.globs) >= maxGlobals {
		return val{k: kOpaque}
	}
	g := global{module: "?", name: "?", first: m.opOff, count: 1, unresolved: why}
	g.dec.Module, g.dec.Name = "<unresolved>", "import"
	m.globs = append(m.globs, g)
	m.imports++
	return val{k: kGlobal, ref: uint32(len(m.globs) - 1)}
}

// stackGlobal resolves STACK_GLOBAL operands. Literal strings import
// normally; computed strings import what they evaluate to and are a
// finding themselves; anything else cannot be resolved.
func (m *machine) stackGlobal(module, name val) (val, error) {
	for _, v := range []val{module, name} {
		switch v.k {
		case kInt, kBigInt, kBool, kNone, kFloat, kBytes, kBytesAt, kBytesLost, kTuple, kList, kDict, kSet, kFrozenSet, kLostCtr:
			return val{}, m.fail("STACK_GLOBAL requires str")
		}
	}
	if module.k == kStrLost || name.k == kStrLost {
		if m.sink != nil {
			m.sink.lostValue(m.opOff, "STACK_GLOBAL operand was not retained (too long or over the memory budget)")
		}
		return m.unresolvedGlobal("its operand was not retained within the memory budget"), nil
	}
	ms, mok := m.str(module)
	ns, nok := m.str(name)
	if mok && nok {
		v := m.importGlobal(ms, ns, "STACK_GLOBAL")
		if (module.k == kStrComputed || name.k == kStrComputed) && v.k == kGlobal && m.sink != nil {
			m.sink.anomaly(rules.PickleComputedImport, m.opOff, fmt.Sprintf("STACK_GLOBAL operands are computed at load time; they resolve to %s.%s", ms, ns))
		}
		return v, nil
	}
	bad := module
	what := "module"
	if mok {
		bad, what = name, "name"
	}
	return m.unresolvedGlobal(fmt.Sprintf("STACK_GLOBAL %s is %s, not a constant string", what, m.render(bad, 2))), nil
}

// extension resolves EXT1/2/4 through codes registered earlier in the
// same stream; CPython's registry is empty unless something registers.
func (m *machine) extension(code int32) val {
	if i, ok := m.ext[code]; ok {
		m.globs[i].count++
		return val{k: kGlobal, ref: i}
	}
	return m.unresolvedGlobal(fmt.Sprintf("EXT code %d is not registered in the copyreg extension registry (empty by default)", code))
}

// invoke models a call (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST).
func (m *machine) invoke(op byte, fn, args val) val {
	m.effects = true
	if fn.k != kGlobal {
		if m.sink != nil {
			m.sink.anomaly(rules.PickleDynamicCall, m.opOff, fmt.Sprintf("%s calls %s, a value produced while loading rather than an import", callOpName(op), m.render(fn, 1)))
		}
		return m.newCall(op, fn, args)
	}
	g := &m.globs[fn.ref]
	g.calls++
	if g.calls == 1 {
		g.callOff = m.opOff
		g.callArgs = m.renderArgs(args)
	}
	if g.wrap != "" {
		if v, ok := m.unwrap(op, fn, args); ok {
			m.globs[fn.ref].vetted++
			return v
		}
	}
	if v, ok := m.decode(g, args); ok {
		return v
	}
	if g.loader != nil {
		m.loadNested(g, args)
	}
	if g.dec.Module == "copyreg" && g.dec.Name == "add_extension" {
		m.registerExtension(args)
	}
	return m.newCall(op, fn, args)
}

// unwrap models a call of a wrapper (getattr, functools.partial) when its
// arguments have the shape picklers write, and reports whether they did:
//
//   - getattr(import, "name") is how pickle reaches a method of a class
//     (builtin methods reduce to it, and protocols below 4 write nested
//     names so): the result is the import of the dotted name, classified
//     like any other (a dunder in it is an attribute traversal);
//   - getattr(obj, "name"), obj built by an allowed import, is a bound
//     method (a Lazy module's hooks, a scheduler's annealing function):
//     a value that runs nothing unless called, and calling a value is
//     reported as a dynamic call;
//   - functools.partial(f, ...) with f an import (or such a bound method)
//     is a callable exactly as safe as f, which is classified on its own.
func (m *machine) unwrap(op byte, fn, args val) (val, bool) {
	items, complete := m.items(args)
	if args.k != kTuple || !complete || len(items) == 0 {
		return val{}, false
	}
	switch m.globs[fn.ref].wrap {
	case rules.WrapAttribute:
		if len(items) != 2 {
			return val{}, false
		}
		name, ok := m.str(items[1])
		if !ok || items[1].k != kStr || !isAttrName(name) {
			return val{}, false
		}
		switch base := items[0]; base.k {
		case kGlobal:
			b := m.globs[base.ref]
			if b.unresolved != "" || len(b.name)+1+len(name) > m.lim.MaxLine {
				return val{}, false
			}
			return m.importGlobal(b.module, b.name+"."+name, "getattr"), true
		case kCall:
			c := &m.calls[base.ref]
			if c.fn.k == kGlobal && m.globs[c.fn.ref].dec.Action == rules.Allow {
				return m.newCall(op, fn, args), true
			}
		}
	case rules.WrapPartial:
		switch f := items[0]; f.k {
		case kGlobal:
			return m.newCall(op, fn, args), true
		case kCall:
			c := &m.calls[f.ref]
			if c.fn.k == kGlobal && m.globs[c.fn.ref].wrap == rules.WrapAttribute {
				return m.newCall(op, fn, args), true
			}
		}
	}
	return val{}, false
}

// isAttrName reports whether s is a Python identifier that is not a
// dunder name (those reach interpreter internals: __globals__, __class__).
func isAttrName(s string) bool {
	if s == "" || len(s) > 128 || strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func callOpName(op byte) string {
	switch op {
	case 'R':
		return "REDUCE"
	case 0x81:
		return "NEWOBJ"
	case 0x92:
		return "NEWOBJ_EX"
	case 'o':
		return "OBJ"
	case 'i':
		return "INST"
	}
	return fmt.Sprintf("opcode 0x%02x", op)
}

func (m *machine) renderArgs(args val) string {
	if args.k == kTuple {
		s := m.render(args, 2)
		if strings.HasSuffix(s, ",)") {
			s = s[:len(s)-2] + ")"
		}
		return s
	}
	return "(*" + m.render(args, 2) + ")"
}

// build models BUILD: __setstate__ or attribute assignment on the object
// under the state. Applied to an import it patches global state.
func (m *machine) build(inst, state val) error {
	switch inst.k {
	case kGlobal:
		if m.sink != nil {
			m.sink.anomaly(rules.PickleGlobalMutation, m.opOff, fmt.Sprintf("BUILD sets state %s on the imported %s", m.render(state, 1), m.render(inst, 0)))
		}
	case kCall:
		c := &m.calls[inst.ref]
		c.state, c.built = state, true
		if c.fn.k == kGlobal {
			g := &m.globs[c.fn.ref]
			if g.dec.Module == "copyreg" && g.dec.Name == "_reconstructor" {
				// Protocols 0 and 1 build instances as
				// copyreg._reconstructor(cls, object, None).
				if items, _ := m.items(c.args); c.args.k == kTuple && len(items) > 0 && items[0].k == kGlobal {
					g = &m.globs[items[0].ref]
				}
			}
			if g.dec.Module == "joblib.numpy_pickle" && g.dec.Name == "NumpyArrayWrapper" {
				return m.joblibArray(c)
			}
			if strings.HasPrefix(g.dec.Module, "joblib.numpy_pickle") && g.dec.Name == "NDArrayWrapper" {
				m.externalArray(c)
			}
		}
	}
	return nil
}

// mutate flags container opcodes applied to an imported object: they call
// its __setitem__, append or add and change process state.
func (m *machine) mutate(target val, op string) {
	if target.k == kGlobal && m.sink != nil {
		m.sink.anomaly(rules.PickleGlobalMutation, m.opOff, fmt.Sprintf("%s modifies the imported %s", op, m.render(target, 0)))
	}
}

// persistent models torch's persistent_load and returns what it pushes.
// It records storage keys from ids of the form ('storage', storage_type,
// key, location, numel). The legacy format also writes a module's class as
// ('module', cls, source_file, source), and persistent_load returns cls:
// the class is then what a NEWOBJ or REDUCE on the value calls.
func (m *machine) persistent(pid val) val {
	items, _ := m.items(pid)
	if pid.k != kTuple || len(items) < 2 {
		return val{k: kPersistent}
	}
	tag, ok := m.str(items[0])
	if ok && tag == "module" && items[1].k == kGlobal {
		return items[1]
	}
	if !ok || tag != "storage" || len(items) < 3 {
		return val{k: kPersistent}
	}
	if key, ok := m.str(items[2]); ok && len(m.storage) < m.lim.MaxObjects {
		m.storage = append(m.storage, key)
		typ := ""
		if items[1].k == kGlobal {
			typ = m.globs[items[1].ref].name
		}
		m.storageType = append(m.storageType, typ)
	}
	return val{k: kPersistent}
}

// registerExtension evaluates copyreg.add_extension(module, name, code)
// so that later EXT opcodes resolve.
func (m *machine) registerExtension(args val) {
	items, _ := m.items(args)
	if args.k != kTuple || len(items) < 3 {
		return
	}
	mod, ok1 := m.str(items[0])
	name, ok2 := m.str(items[1])
	code, ok3 := m.intOf(items[2])
	if !ok1 || !ok2 || !ok3 || code <= 0 || code > 1<<31-1 {
		return
	}
	if m.ext == nil {
		m.ext = map[int32]uint32{}
	}
	if len(m.ext) < 1024 {
		v := m.importGlobal(mod, name, "EXT")
		if v.k == kGlobal {
			m.ext[int32(code)] = v.ref
		}
	}
}

// loadNested hands a loader's constant payload to the engine as a nested
// file. A payload that is not a constant is counted as opaque.
func (m *machine) loadNested(g *global, args val) {
	items, _ := m.items(args)
	if args.k != kTuple || len(items) == 0 {
		g.loaderOpaque++
		return
	}
	p := items[0]
	switch p.k {
	case kBytes, kStr, kStrComputed:
		g.loaderConst++
		if m.sink != nil {
			data := bytes.Clone(m.arena.get(p.ref))
			m.sink.nested(g, m.opOff, bytes.NewReader(data), int64(len(data)), -1)
		}
	case kBytesAt:
		g.loaderConst++
		if m.sink != nil {
			sp := m.spans[p.ref]
			m.sink.nested(g, m.opOff, nil, sp.n, sp.off)
		}
	case kBytesLost, kStrLost:
		g.loaderConst++
		if m.sink != nil {
			m.sink.lostValue(m.opOff, "a loader's constant payload was not retained (too large for a stream that cannot be re-read)")
		}
	default:
		g.loaderOpaque++
	}
}

// maxDecoded bounds what one decoder evaluation may produce, and
// maxDecodedTotal what all of a stream's evaluations may.
const (
	maxDecoded      = 16 << 20
	maxDecodedTotal = 64 << 20
)

// decode evaluates a pure decoder on constant arguments, so that
// payloads hidden as base64, hex or compressed bytes are still reached.
func (m *machine) decode(g *global, args val) (val, bool) {
	codec := m.pol.Decoder(g.dec.Module, g.dec.Name)
	if codec == "" || args.k != kTuple {
		return val{}, false
	}
	// Every evaluation is bounded, and so is their sum: a stream that
	// calls zlib.decompress on a bomb ten thousand times gets opaque
	// results (and loaders of them are reported) after the first few.
	if m.decoded >= maxDecodedTotal {
		return val{}, false
	}
	items, complete := m.items(args)
	if !complete || len(items) == 0 {
		return val{}, false
	}
	arg := func(i int) ([]byte, bool, bool) { // bytes, isStr, ok
		if i >= len(items) {
			return nil, false, false
		}
		v := items[i]
		switch v.k {
		case kStr, kStrComputed:
			return m.arena.get(v.ref), true, true
		case kBytes:
			return m.arena.get(v.ref), false, true
		}
		return nil, false, false
	}
	a0, isStr, ok := arg(0)
	if !ok {
		return val{}, false
	}
	str := func(b []byte) (val, bool) { return m.newStr(b, true), true }
	byt := func(b []byte, err error) (val, bool) {
		m.decoded += len(b)
		if err != nil || len(b) > maxDecoded {
			return val{}, false
		}
		return m.newBytes(b), true
	}
	switch codec {
	case "base64":
		return byt(decodeBase64(a0, false))
	case "base64url":
		return byt(decodeBase64(a0, true))
	case "base32":
		return byt(base32.StdEncoding.DecodeString(string(a0)))
	case "hex":
		return byt(hex.DecodeString(strings.Join(strings.Fields(string(a0)), "")))
	case "zlib":
		return byt(inflate(func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }, a0))
	case "gzip":
		return byt(inflate(func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }, a0))
	case "bz2":
		return byt(inflate(func(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil }, a0))
	case "lzma":
		return byt(inflate(func(r io.Reader) (io.Reader, error) { return lzma.ReaderConfig{DictCap: 64 << 20}.NewReader(r) }, a0))
	case "bytes":
		if isStr {
			return byt(latin1(a0), nil)
		}
		return byt(a0, nil)
	case "codec":
		name, _, ok := arg(1)
		if !ok {
			name = []byte("utf-8")
		}
		switch strings.ReplaceAll(strings.ToLower(string(name)), "-", "_") {
		case "base64", "base_64", "base64_codec":
			return byt(decodeBase64(a0, false))
		case "hex", "hex_codec":
			return byt(hex.DecodeString(string(a0)))
		case "zlib", "zip", "zlib_codec":
			return byt(inflate(func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }, a0))
		case "bz2", "bz2_codec":
			return byt(inflate(func(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil }, a0))
		case "rot13", "rot_13":
			return str(rot13(a0))
		case "latin1", "latin_1", "iso_8859_1", "iso8859_1", "l1":
			if isStr {
				return byt(latin1(a0), nil)
			}
			return str(fromLatin1(a0))
		case "utf8", "utf_8", "ascii", "us_ascii":
			if isStr {
				return byt(a0, nil)
			}
			return str(a0)
		}
	case "lower", "upper", "strip", "swapcase", "title":
		if !isStr {
			return val{}, false
		}
		s := string(a0)
		switch codec {
		case "lower":
			s = strings.ToLower(s)
		case "upper":
			s = strings.ToUpper(s)
		case "strip":
			s = strings.TrimSpace(s)
		case "swapcase":
			s = strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' {
					return r - 32
				} else if r >= 'A' && r <= 'Z' {
					return r + 32
				}
				return r
			}, s)
		case "title":
			s = pyTitle(s)
		}
		return str([]byte(s))
	case "replace":
		old, _, ok1 := arg(1)
		nw, _, ok2 := arg(2)
		if !ok1 || !ok2 || !isStr {
			return val{}, false
		}
		return str([]byte(strings.ReplaceAll(string(a0), string(old), string(nw))))
	case "concat":
		a1, isStr1, ok := arg(1)
		if !ok || isStr != isStr1 {
			return val{}, false
		}
		if isStr {
			return str(append(bytes.Clone(a0), a1...))
		}
		return byt(append(bytes.Clone(a0), a1...), nil)
	case "join":
		if !isStr || len(items) < 2 {
			return val{}, false
		}
		parts, complete := m.items(items[1])
		if !complete {
			return val{}, false
		}
		var ss []string
		for _, p := range parts {
			s, ok := m.str(p)
			if !ok {
				return val{}, false
			}
			ss = append(ss, s)
		}
		return str([]byte(strings.Join(ss, string(a0))))
	}
	return val{}, false
}

// decodeBase64 follows Python's b64decode without validate: characters
// outside the alphabet are discarded.
func decodeBase64(b []byte, url bool) ([]byte, error) {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '=':
			clean = append(clean, c)
		case !url && (c == '+' || c == '/'):
			clean = append(clean, c)
		case url && c == '-':
			clean = append(clean, '+')
		case url && c == '_':
			clean = append(clean, '/')
		}
	}
	s := strings.TrimRight(string(clean), "=")
	return base64.RawStdEncoding.DecodeString(s)
}

func inflate(open func(io.Reader) (io.Reader, error), b []byte) ([]byte, error) {
	r, err := open(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecoded+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDecoded {
		return nil, fmt.Errorf("decoded payload over %d bytes", maxDecoded)
	}
	return out, nil
}

func latin1(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range string(s) {
		if r > 0xff {
			r = '?'
		}
		out = append(out, byte(r))
	}
	return out
}

func fromLatin1(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

func rot13(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			c = 'a' + (c-'a'+13)%26
		case c >= 'A' && c <= 'Z':
			c = 'A' + (c-'A'+13)%26
		}
		out[i] = c
	}
	return out
}

// pyTitle is Python's str.title for ASCII: a letter after a non-letter is
// upper case, every other letter lower case.
func pyTitle(s string) string {
	b := []byte(s)
	prevLetter := false
	for i, c := range b {
		isLetter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		switch {
		case isLetter && !prevLetter && c >= 'a':
			b[i] = c - 32
		case isLetter && prevLetter && c <= 'Z':
			b[i] = c + 32
		}
		prevLetter = isLetter
	}
	return string(b)
}
