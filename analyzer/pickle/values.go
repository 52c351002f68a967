package pickle

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/internal/rules"
)

// kind is what the VM knows about a value. Values are 8 bytes so that a
// stack or memo of millions of entries stays small; what they refer to
// lives in the machine's tables, within budgets. A value whose contents
// were not retained (over budget) keeps its kind but loses its ref.
type kind uint8

const (
	kAbsent      kind = iota // empty memo slot
	kOpaque                  // something we do not model (floats, results of unknown calls' methods)
	kNone                    // None
	kBool                    // ref: 0 or 1
	kInt                     // ref: int32 value
	kBigInt                  // an int that does not fit in 32 bits
	kFloat                   //
	kStr                     // ref: arena offset
	kStrComputed             // ref: arena offset; a str produced by a call we evaluated
	kStrLost                 // a str not retained (too long or over budget)
	kBytes                   // ref: arena offset
	kBytesAt                 // ref: index into m.spans (large constant, re-readable at its offset)
	kBytesLost               // bytes not retained
	kTuple                   // ref: container index
	kList                    //
	kDict                    //
	kSet                     //
	kFrozenSet               //
	kLostCtr                 // a container not retained (over budget)
	kGlobal                  // ref: index into m.globs
	kCall                    // ref: index into m.calls
	kLostCall                // a call result not retained
	kPersistent              // result of persistent_load
	kBuffer                  // out-of-band buffer
)

type val struct {
	k   kind
	ref uint32
}

var vNone = val{k: kNone}

// call records one call the pickle makes when loaded.
type call struct {
	fn    val
	args  val
	op    byte  // opcode that made the call
	off   int64 // offset of that opcode
	state val   // BUILD state applied to the result, if any
	built bool
}

// span is a large constant left in the stream and re-read on demand.
type span struct {
	off, n int64
}

// global is one distinct import made by the pickle.
type global struct {
	module, name string // as written
	dec          rules.Decision
	first        int64 // offset of the first import
	count        int
	calls        int
	callOff      int64
	callArgs     string // rendering of the first call's arguments
	loader       *rules.Loader
	loaderConst  int // calls whose payload was constant and scanned
	loaderOpaque int // calls whose payload could not be resolved
	unresolved   string
	// wrap is the wrapper kind (rules.WrapAttribute, rules.WrapPartial)
	// of the import, "" for other callables. A wrapper whose every use
	// (refs: pushes from the memo or DUP, besides count imports) was a
	// call of the benign shape (vetted) is not reported on its own: what
	// it reaches or wraps is classified instead.
	wrap   string
	refs   int
	vetted int
	// via says how the import was reached when no import opcode wrote it
	// ("getattr" of an import).
	via string
}

func (g *global) qualified() string { return g.module + "." + g.name }

// str returns the text of a retained string, or "" and false.
func (m *machine) str(v val) (string, bool) {
	if v.k != kStr && v.k != kStrComputed {
		return "", false
	}
	return string(m.arena.get(v.ref)), true
}

func (m *machine) intOf(v val) (int64, bool) {
	switch v.k {
	case kInt:
		return int64(int32(v.ref)), true
	case kBool:
		return int64(v.ref), true
	}
	return 0, false
}

// items returns the retained items of a container and whether they are
// complete.
func (m *machine) items(v val) ([]val, bool) {
	if v.k < kTuple || v.k > kFrozenSet {
		return nil, false
	}
	c := &m.ctrs[v.ref]
	return m.pool.slice(c.start, int(c.n)), !c.trunc
}

// dictGet looks a str key up in a retained dict.
func (m *machine) dictGet(d val, key string) (val, bool) {
	items, _ := m.items(d)
	if d.k != kDict {
		return val{}, false
	}
	for i := 0; i+1 < len(items); i += 2 {
		if s, ok := m.str(items[i]); ok && s == key {
			return items[i+1], true
		}
	}
	return val{}, false
}

// render writes a short Python-like rendering of v for evidence in
// messages. It is bounded in depth and length.
func (m *machine) render(v val, depth int) string {
	var b strings.Builder
	m.renderTo(&b, v, depth)
	s := b.String()
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func (m *machine) renderTo(b *strings.Builder, v val, depth int) {
	if b.Len() > 200 {
		return
	}
	switch v.k {
	case kNone:
		b.WriteString("None")
	case kBool:
		if v.ref != 0 {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case kInt:
		b.WriteString(strconv.Itoa(int(int32(v.ref))))
	case kBigInt:
		b.WriteString("<int>")
	case kFloat:
		b.WriteString("<float>")
	case kStr, kStrComputed:
		s := string(m.arena.get(v.ref))
		if len(s) > 120 {
			s = s[:117] + "..."
		}
		b.WriteString(strconv.Quote(s))
	case kStrLost:
		b.WriteString("<str>")
	case kBytes:
		p := m.arena.get(v.ref)
		if len(p) > 48 {
			fmt.Fprintf(b, "<%d bytes>", len(p))
		} else {
			b.WriteString("b" + strconv.Quote(string(p)))
		}
	case kBytesAt:
		fmt.Fprintf(b, "<%d bytes>", m.spans[v.ref].n)
	case kBytesLost:
		b.WriteString("<bytes>")
	case kTuple, kList, kSet, kFrozenSet, kDict:
		open, close := brackets(v.k)
		c := &m.ctrs[v.ref]
		items := m.pool.slice(c.start, int(c.n))
		b.WriteString(open)
		if depth <= 0 && len(items) > 0 {
			b.WriteString("...")
		} else {
			for i, it := range items {
				if i > 0 {
					if v.k == kDict && i%2 == 1 {
						b.WriteString(": ")
					} else {
						b.WriteString(", ")
					}
				}
				m.renderTo(b, it, depth-1)
				if b.Len() > 200 {
					break
				}
			}
			if c.trunc {
				b.WriteString(", ...")
			}
		}
		if v.k == kTuple && len(items) == 1 && !c.trunc {
			b.WriteString(",")
		}
		b.WriteString(close)
	case kLostCtr:
		b.WriteString("<container>")
	case kGlobal:
		g := &m.globs[v.ref]
		b.WriteString(g.dec.Module + "." + g.dec.Name)
	case kCall:
		c := &m.calls[v.ref]
		m.renderTo(b, c.fn, 0)
		b.WriteString("(")
		if depth > 0 {
			if items, _ := m.items(c.args); c.args.k == kTuple {
				for i, it := range items {
					if i > 0 {
						b.WriteString(", ")
					}
					m.renderTo(b, it, depth-1)
				}
			} else {
				m.renderTo(b, c.args, depth-1)
			}
		} else {
			b.WriteString("...")
		}
		b.WriteString(")")
	case kLostCall:
		b.WriteString("<call result>")
	case kPersistent:
		b.WriteString("<persistent>")
	default:
		b.WriteString("<?>")
	}
}

func brackets(k kind) (string, string) {
	switch k {
	case kTuple:
		return "(", ")"
	case kList:
		return "[", "]"
	case kFrozenSet:
		return "frozenset({", "})"
	}
	return "{", "}"
}
