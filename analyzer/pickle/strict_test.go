package pickle_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/pickle"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

// unpicklerCases are hand-assembled streams and whether CPython 3.11.2's C
// unpickler (pickle.loads: torch.load, numpy.load) and its pure-Python
// one (pickle._Unpickler: joblib.load) accept them, as printed by
// internal/gen/loaderprobe/pickleprobe.py. Every stream is benign.
var unpicklerCases = []struct {
	name  string
	data  []byte
	c, py bool
}{
	{"INT octal", []byte("I010\x0a."), true, false},                                                                                         // C: 8; Python: ValueError: invalid literal for int() with base 0: b'010\n'
	{"INT hex", []byte("I0x10\x0a."), true, true},                                                                                           // C: 16; Python: 16
	{"INT spaces", []byte("I 12 \x0a."), true, true},                                                                                        // C: 12; Python: 12
	{"INT underscores", []byte("I1_0\x0a."), true, true},                                                                                    // C: 10; Python: 10
	{"INT leading zero 08", []byte("I08\x0a."), false, false},                                                                               // C: ValueError: could not convert string to int; Python: ValueError: invalid literal for int() with base 0: b'08\n'
	{"INT NUL then junk", []byte("I12\x00x\x0a."), true, false},                                                                             // C: 12; Python: ValueError: invalid literal for int() with base 0: b'12\x00x\n
	{"INT empty", []byte("I\x0a."), false, false},                                                                                           // C: UnpicklingError: pickle data was truncated; Python: ValueError: invalid literal for int() with base 0: b'\n'
	{"INT float text", []byte("I1.0\x0a."), false, false},                                                                                   // C: ValueError: could not convert string to int; Python: ValueError: invalid literal for int() with base 0: b'1.0\n'
	{"LONG hex", []byte("L0x10L\x0a."), true, true},                                                                                         // C: 16; Python: 16
	{"LONG octal 010", []byte("L010\x0a."), false, false},                                                                                   // C: ValueError: invalid literal for int() with base 0: '010\n'; Python: ValueError: invalid literal for int() with base 0: b'010'
	{"LONG underscores", []byte("L1_0L\x0a."), true, true},                                                                                  // C: 10; Python: 10
	{"LONG spaces", []byte("L 5 \x0a."), true, true},                                                                                        // C: 5; Python: 5
	{"LONG empty", []byte("L\x0a."), false, false},                                                                                          // C: UnpicklingError: pickle data was truncated; Python: ValueError: invalid literal for int() with base 0: b''
	{"FLOAT plain", []byte("F1.5\x0a."), true, true},                                                                                        // C: 1.5; Python: 1.5
	{"FLOAT leading space", []byte("F 1.5\x0a."), false, true},                                                                              // C: ValueError: could not convert string to float: ' 1.5 '; Python: 1.5
	{"FLOAT trailing space", []byte("F1.5 \x0a."), false, true},                                                                             // C: ValueError: could not convert string to float; Python: 1.5
	{"FLOAT underscores", []byte("F1_0.5\x0a."), false, true},                                                                               // C: ValueError: could not convert string to float; Python: 10.5
	{"FLOAT hex", []byte("F0x1p3\x0a."), false, false},                                                                                      // C: ValueError: could not convert string to float; Python: ValueError: could not convert string to float: b'0x1p3'
	{"FLOAT infinity", []byte("Finfinity\x0a."), true, true},                                                                                // C: inf; Python: inf
	{"FLOAT overflow", []byte("F1e999\x0a."), false, true},                                                                                  // C: OverflowError: value too large to convert to float: '1e999 '; Python: inf
	{"FLOAT NUL then junk", []byte("F1.5\x00x\x0a."), true, false},                                                                          // C: 1.5; Python: ValueError: could not convert string to float: b'1.5\x00x'
	{"PUT/GET spaces", []byte("K\x01p 1\x0a0g1\x0a."), true, true},                                                                          // C: 1; Python: 1
	{"PUT/GET underscores", []byte("K\x01p1_0\x0a0g10\x0a."), true, true},                                                                   // C: 1; Python: 1
	{"PUT plus sign", []byte("K\x01p+1\x0a0g1\x0a."), true, true},                                                                           // C: 1; Python: 1
	{"PUT negative", []byte("K\x01p-1\x0a."), false, false},                                                                                 // C: ValueError: negative PUT argument; Python: ValueError: negative PUT argument
	{"PUT empty", []byte("K\x01p\x0a."), false, false},                                                                                      // C: UnpicklingError: pickle data was truncated; Python: ValueError: invalid literal for int() with base 10: b''
	{"GET hex", []byte("K\x01p16\x0a0g0x10\x0a."), false, false},                                                                            // C: ValueError: invalid literal for int() with base 10: '0x10\n'; Python: ValueError: invalid literal for int() with base 10: b'0x10'
	{"GET missing", []byte("K\x01p1\x0a0g2\x0a."), false, false},                                                                            // C: UnpicklingError: Memo value not found at index 2; Python: UnpicklingError: Memo value not found at index 2
	{"BINGET missing", []byte("K\x01q\x01h\x02."), false, false},                                                                            // C: UnpicklingError: Memo value not found at index 2; Python: UnpicklingError: Memo value not found at index 2
	{"MEMOIZE on empty stack", []byte("\x94."), false, false},                                                                               // C: UnpicklingError: unpickling stack underflow; Python: IndexError: list index out of range
	{"PUT inside empty mark", []byte("K\x01(q\x01."), false, false},                                                                         // C: UnpicklingError: unexpected MARK found; Python: IndexError: list index out of range
	{"GLOBAL empty name", []byte("cbuiltins\x0a\x0a."), false, false},                                                                       // C: UnpicklingError: pickle data was truncated; Python: AttributeError: module 'builtins' has no attribute ''
	{"GLOBAL empty module", []byte("c\x0alist\x0a."), false, false},                                                                         // C: UnpicklingError: pickle data was truncated; Python: ValueError: Empty module name
	{"STACK_GLOBAL bytes", []byte("C\x08builtinsC\x04list\x93."), false, false},                                                             // C: UnpicklingError: STACK_GLOBAL requires str; Python: UnpicklingError: STACK_GLOBAL requires str
	{"STACK_GLOBAL str", []byte("\x8c\x08builtins\x8c\x04list\x93)R."), true, true},                                                         // C: []; Python: []
	{"REDUCE list args", []byte("cbuiltins\x0alist\x0a]R."), false, true},                                                                   // C: TypeError: argument list must be a tuple; Python: []
	{"NEWOBJ list args", []byte("cbuiltins\x0aobject\x0a]\x81."), false, true},                                                              // C: UnpicklingError: NEWOBJ args argument must be a tuple, not list; Python: <object object
	{"STOP with two values", []byte("K\x01K\x02."), true, true},                                                                             // C: 2; Python: 2
	{"STOP empty", []byte("."), false, false},                                                                                               // C: UnpicklingError: unpickling stack underflow; Python: IndexError: pop from empty list
	{"STOP above a mark with nothing", []byte("K\x01(."), false, false},                                                                     // C: UnpicklingError: unexpected MARK found; Python: IndexError: pop from empty list
	{"SETITEM on a dict below the mark", []byte("}K\x00(K\x01s1."), false, false},                                                           // C: UnpicklingError: unexpected MARK found; Python: IndexError: pop from empty list
	{"APPENDS on a list below two marks", []byte("]((K\x01e1."), false, false},                                                              // C: UnpicklingError: unexpected MARK found; Python: IndexError: list index out of range
	{"SETITEMS on a dict below two marks", []byte("}((K\x00K\x01u1."), false, false},                                                        // C: UnpicklingError: unexpected MARK found; Python: IndexError: list index out of range
	{"ADDITEMS on a set below two marks", []byte("\x8f((K\x01\x901."), false, false},                                                        // C: UnpicklingError: unexpected MARK found; Python: IndexError: list index out of range
	{"APPEND on a list below the mark", []byte("](K\x01a1."), false, false},                                                                 // C: UnpicklingError: unexpected MARK found; Python: IndexError: list index out of range
	{"APPENDS with nothing below the mark", []byte("(K\x01e."), false, false},                                                               // C: UnpicklingError: unpickling stack underflow; Python: IndexError: list index out of range
	{"POP_MARK past the stack", []byte("}K\x00(K\x01s1K\x05."), false, false},                                                               // C: UnpicklingError: unexpected MARK found; Python: IndexError: pop from empty list
	{"TUPLE past the stack", []byte("}K\x00(K\x01st."), false, false},                                                                       // C: UnpicklingError: unexpected MARK found; Python: IndexError: pop from empty list
	{"DICT odd items", []byte("(K\x01d."), false, false},                                                                                    // C: UnpicklingError: odd number of items for DICT; Python: IndexError: list index out of range
	{"SETITEMS odd items", []byte("}(K\x01u."), false, false},                                                                               // C: UnpicklingError: odd number of items for SETITEMS; Python: IndexError: list index out of range
	{"POP_MARK without mark", []byte("K\x011."), false, false},                                                                              // C: UnpicklingError: could not find MARK; Python: IndexError: pop from empty list
	{"DUP on empty", []byte("2."), false, false},                                                                                            // C: UnpicklingError: unpickling stack underflow; Python: IndexError: list index out of range
	{"POP pops a mark", []byte("K\x01(0."), true, true},                                                                                     // C: 1; Python: 1
	{"BUILD below the mark", []byte("](}b."), false, false},                                                                                 // C: UnpicklingError: unexpected MARK found; Python: IndexError: list index out of range
	{"BINSTRING negative", []byte("T\xff\xff\xff\xff."), false, false},                                                                      // C: UnpicklingError: pickle data was truncated; Python: UnpicklingError: BINSTRING pickle has negative byte count
	{"LONG4 negative", []byte("\x8b\xff\xff\xff\xff."), false, false},                                                                       // C: UnpicklingError: LONG pickle has negative byte count; Python: UnpicklingError: LONG pickle has negative byte count
	{"BINUNICODE truncated", []byte("X\x05\x00\x00\x00ab."), false, false},                                                                  // C: UnpicklingError: pickle data was truncated; Python: EOFError:
	{"BINBYTES8 huge", []byte("\x8e\x00\x00\x00\x00\x00\x00\x00\x80."), false, false},                                                       // C: OverflowError: BINBYTES exceeds system's maximum size of 92233720; Python: UnpicklingError: BINBYTES8 exceeds system's maximum size of 9223372
	{"SHORT_BINUNICODE bad UTF-8", []byte("\x8c\x02\xc3(."), false, false},                                                                  // C: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xc3 in position 0; Python: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xc3 in position 0
	{"SHORT_BINUNICODE surrogate", []byte("\x8c\x03\xed\xa0\x80."), true, true},                                                             // C: '\ud800'; Python: '\ud800'
	{"FRAME longer than the data", []byte("\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00K\x01."), false, true},                               // C: UnpicklingError: pickle data was truncated; Python: 1
	{"opcode across the FRAME end", []byte("\x80\x04\x95\x01\x00\x00\x00\x00\x00\x00\x00J\x01\x00\x00\x00."), true, true},                   // C: 1; Python: 1
	{"FRAME inside a FRAME", []byte("\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00K\x01\x95\x01\x00\x00\x00\x00\x00\x00\x00."), true, false}, // C: 1; Python: UnpicklingError: beginning of a new frame before end of current fra
	{"PROTO 6", []byte("\x80\x06N."), false, false},                                                                                         // C: ValueError: unsupported pickle protocol: 6; Python: ValueError: unsupported pickle protocol: 6
	{"unknown opcode", []byte("N\xff."), false, false},                                                                                      // C: UnpicklingError: invalid load key, '\xff'.; Python: KeyError: 255
	{"protocol-4 opcode under PROTO 2", []byte("\x80\x02\x8c\x01a."), true, true},                                                           // C: 'a'; Python: 'a'
	{"EXT1 unregistered", []byte("\x82\x01."), false, false},                                                                                // C: ValueError: unregistered extension code 1; Python: ValueError: unregistered extension code 1
	{"PERSID non-ASCII", []byte("P\xc3\xa9\x0a."), false, false},                                                                            // C: UnpicklingError: persistent IDs in protocol 0 must be ASCII strings; Python: UnpicklingError: persistent IDs in protocol 0 must be ASCII strings
	{"PERSID ASCII", []byte("Pab\x0a."), true, true},                                                                                        // C: 'ab'; Python: 'ab'
}

// scanDirect runs the pickle analysis itself on data, whether or not the
// engine would recognise it as a pickle.
func scanDirect(t *testing.T, data []byte) report.Artifact {
	res := analyzer.NewResult(func(context.Context, *analyzer.Input, *analyzer.Result) error { return nil })
	in := analyzer.NewFileInput("", analyzer.Bytes(data), int64(len(data)), analyzer.NewBudget(analyzer.DefaultLimits()))
	if _, err := pickle.Scan(context.Background(), in, res, pickle.Options{}); err != nil {
		t.Fatal(err)
	}
	a := report.Artifact{Format: "pickle"}
	for _, f := range res.Findings() {
		a.Add(f)
	}
	return a
}

// TestStructureTheUnpicklersReject pins aigis to the unpicklers: a
// stream both reject is invalid (malformed or truncated, after whatever
// was seen before the error); a stream either accepts is analysed to its
// end and not called invalid, since some loader runs it. Both paths of
// the VM are checked.
func TestStructureTheUnpicklersReject(t *testing.T) {
	for _, fast := range []bool{true, false} {
		restore := pickle.SetFastPath(fast)
		for _, c := range unpicklerCases {
			a := scanDirect(t, c.data)
			bad := scantest.Has(a, "malformed") != nil || scantest.Has(a, "truncated") != nil
			if c.name == "EXT1 unregistered" {
				// CPython's extension registry is empty unless the loading
				// program fills it: an unregistered code is reported as an
				// import aigis cannot resolve, which is worse than invalid.
				if a.Verdict != report.Malicious || scantest.Has(a, "pickle-unresolved-import") == nil {
					t.Errorf("fast=%v %s: %s", fast, c.name, scantest.Dump(a))
				}
				continue
			}
			if c.c != c.py && strings.Contains(c.name, "FRAME") && scantest.Has(a, "pickle-frame-mismatch") == nil {
				t.Errorf("fast=%v %s: only one unpickler accepts it and no pickle-frame-mismatch is reported%s", fast, c.name, scantest.Dump(a))
			}
			switch {
			case !c.c && !c.py && !bad:
				t.Errorf("fast=%v %s: both unpicklers refuse it, aigis does not say invalid%s", fast, c.name, scantest.Dump(a))
			case (c.c || c.py) && bad:
				t.Errorf("fast=%v %s: accepted by the %s unpickler, aigis says invalid%s", fast, c.name, map[bool]string{true: "C", false: "Python"}[c.c], scantest.Dump(a))
			case (c.c || c.py) && a.Verdict == report.Invalid:
				t.Errorf("fast=%v %s: verdict invalid%s", fast, c.name, scantest.Dump(a))
			}
		}
		restore()
	}
}

// TestFindingsBeforeTheError: a payload that runs before the stream
// breaks is reported, and the artifact is still invalid.
func TestFindingsBeforeTheError(t *testing.T) {
	for name, tail := range map[string][]byte{
		"EmptyGlobalName":    []byte("cbuiltins\n\n."),
		"OctalLong":          []byte("L010\n."),
		"HexFloat":           []byte("F0x1p3\n."),
		"NonASCIIPersistent": []byte("P\xc3\xa9\n."),
		"NegativeLong4":      {0x8b, 0xff, 0xff, 0xff, 0xff},
		"MissingMemo":        []byte("g99\n."),
	} {
		data := append(pkl.New(2).Global("posix", "system").Str("id").Tuple1().Reduce().Bytes(), tail...)
		a := scanDirect(t, data)
		if a.Verdict != report.Malicious || scantest.Has(a, "pickle-process-exec") == nil || scantest.Has(a, "malformed") == nil {
			t.Errorf("%s:%s", name, scantest.Dump(a))
		}
	}
}
