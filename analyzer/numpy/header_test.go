package numpy

import (
	"strings"
	"testing"
)

// npyHeaderCases are what numpy.load (numpy 1.24.2, Python 3.11.2) does
// with each header: internal/gen/loaderprobe/npyprobe.py printed them.
// version is major*10+minor.
var npyHeaderCases = []struct {
	version  int
	header   string
	accept   bool
	itemsize int64
	object   bool
}{
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", true, 4, false},                           // accept
	{10, "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}", true, 4, false},                               // accept
	{10, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}", true, 4, false},                       // accept
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", false, 0, false},                               // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", false, 0, false},                               // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", false, 0, false},                                  // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (True,)}", true, 4, false},                            // accept
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", true, 4, false},                              // accept
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", false, 0, false},                  // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False}", false, 0, false},                                             // reject: ValueError
	{10, "{'descr': '<f4', 'descr': '|O', 'fortran_order': False, 'shape': (1,)}", true, 8, true},                 // accept
	{10, "  {'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", true, 4, false},                             // accept
	{10, "\n{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", true, 4, false},                             // accept
	{10, "\n  {'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", false, 0, false},                          // reject: ValueError
	{10, "{'descr': '<f4', # a comment\n 'fortran_order': False, 'shape': (2,)}  # end", true, 4, false},          // accept
	{10, "{'descr': '<f4',\r\n 'fortran_order': False,\r 'shape': (2,)}", true, 4, false},                         // accept
	{10, "{'descr':\t'<f4',\f'fortran_order': False, 'shape': (2,)}", true, 4, false},                             // accept
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\u0000\u0000", false, 0, false},                  // reject: ValueError
	{10, "{'descr': '<f' '4', 'fortran_order': False, 'shape': (2,)}", true, 4, false},                            // accept
	{10, "{'descr': u'<f4', 'fortran_order': False, 'shape': (2,)}", true, 4, false},                              // accept
	{10, "{'descr': r'<f4', 'fortran_order': False, 'shape': (2,)}", true, 4, false},                              // accept
	{10, "{'descr': b'<f4', 'fortran_order': False, 'shape': (2,)}", false, 0, false},                             // reject: ValueError
	{10, "{'descr': '''<f4''', 'fortran_order': False, 'shape': (2,)}", true, 4, false},                           // accept
	{10, "{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2,)}", true, 4, false},                           // accept
	{10, "{'descr': '\\u003cf4', 'fortran_order': False, 'shape': (2,)}", true, 4, false},                         // accept
	{10, "{'descr': '\\N{LESS-THAN SIGN}f4', 'fortran_order': False, 'shape': (2,)}", true, 4, false},             // accept
	{10, "{'descr': '\\74f4', 'fortran_order': False, 'shape': (2,)}", true, 4, false},                            // accept
	{10, "{'descr': '<f\\\n4', 'fortran_order': False, 'shape': (2,)}", true, 4, false},                           // accept
	{10, "{'descr': '<f4', 'fortran_order': False, \\\n'shape': (2,)}", true, 4, false},                           // accept
	{10, "{'descr': f'<f4', 'fortran_order': False, 'shape': (2,)}", false, 0, false},                             // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (0x2, 0o1, 0b1, 1_0)}", true, 4, false},               // accept
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (02,)}", false, 0, false},                             // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L)}", true, 4, false},                           // accept
	{20, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3 L)}", true, 4, false},                          // accept
	{30, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,)}", false, 0, false},                             // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2l,)}", false, 0, false},                             // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (+2, -0)}", true, 4, false},                           // accept
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (- - 2,)}", false, 0, false},                          // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}", false, 0, false},                            // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (1+2j,)}", false, 0, false},                           // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (...,)}", false, 0, false},                            // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': None, 'shape': (2,)}", false, 0, false},                               // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}", false, 0, false},                              // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,),,}", false, 0, false},                            // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", false, 0, false},                               // reject: ValueError
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", true, 4, false},                                 // accept
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} {}", false, 0, false},                           // reject: ValueError
	{10, "({'descr': '<f4', 'fortran_order': False, 'shape': (2,)})", true, 4, false},                             // accept
	{10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\u00a0", false, 0, false},                        // reject: ValueError
	{10, "{'descr': [('\u00e9', '<f4')], 'fortran_order': False, 'shape': (2,)}", true, 4, false},                 // accept
	{30, "{'descr': [('\u00e9', '<f4')], 'fortran_order': False, 'shape': (2,)}", true, 4, false},                 // accept
	{11, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", false, 0, false},                              // reject: ValueError
	{40, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", false, 0, false},                              // reject: ValueError
	{10, "{'descr': 'f4', 'fortran_order': False, 'shape': (1,)}", true, 4, false},                                // accept
	{10, "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", true, 8, true},                                 // accept
	{10, "{'descr': '<O', 'fortran_order': False, 'shape': (1,)}", true, 8, true},                                 // accept
	{10, "{'descr': 'O8', 'fortran_order': False, 'shape': (1,)}", true, 8, true},                                 // accept
	{10, "{'descr': 'O4', 'fortran_order': False, 'shape': (1,)}", true, 8, true},                                 // accept
	{10, "{'descr': 'O2', 'fortran_order': False, 'shape': (1,)}", false, 0, false},                               // reject: ValueError
	{10, "{'descr': 'object', 'fortran_order': False, 'shape': (1,)}", true, 8, true},                             // accept
	{10, "{'descr': 'object_', 'fortran_order': False, 'shape': (1,)}", true, 8, true},                            // accept
	{10, "{'descr': 'object0', 'fortran_order': False, 'shape': (1,)}", true, 8, true},                            // accept
	{10, "{'descr': '<object', 'fortran_order': False, 'shape': (1,)}", false, 0, false},                          // reject: ValueError
	{10, "{'descr': 'float32', 'fortran_order': False, 'shape': (1,)}", true, 4, false},                           // accept
	{10, "{'descr': 'd', 'fortran_order': False, 'shape': (1,)}", true, 8, false},                                 // accept
	{10, "{'descr': 'i 4', 'fortran_order': False, 'shape': (1,)}", true, 4, false},                               // accept
	{10, "{'descr': 'i+4', 'fortran_order': False, 'shape': (1,)}", true, 4, false},                               // accept
	{10, "{'descr': 'i3', 'fortran_order': False, 'shape': (1,)}", false, 0, false},                               // reject: ValueError
	{10, "{'descr': 'f16', 'fortran_order': False, 'shape': (1,)}", true, 16, false},                              // accept
	{10, "{'descr': 'c32', 'fortran_order': False, 'shape': (1,)}", true, 32, false},                              // accept
	{10, "{'descr': '|S10', 'fortran_order': False, 'shape': (1,)}", true, 10, false},                             // accept
	{10, "{'descr': 'a5', 'fortran_order': False, 'shape': (1,)}", true, 5, false},                                // accept
	{10, "{'descr': '<U3', 'fortran_order': False, 'shape': (1,)}", true, 12, false},                              // accept
	{10, "{'descr': '|V7', 'fortran_order': False, 'shape': (1,)}", true, 7, false},                               // accept
	{10, "{'descr': 'S', 'fortran_order': False, 'shape': (1,)}", true, 0, false},                                 // accept
	{10, "{'descr': 'S0', 'fortran_order': False, 'shape': (1,)}", true, 0, false},                                // accept
	{10, "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (1,)}", true, 8, false},                           // accept
	{10, "{'descr': '<m8', 'fortran_order': False, 'shape': (1,)}", true, 8, false},                               // accept
	{10, "{'descr': 'datetime64[D]', 'fortran_order': False, 'shape': (1,)}", true, 8, false},                     // accept
	{10, "{'descr': '?', 'fortran_order': False, 'shape': (1,)}", true, 1, false},                                 // accept
	{10, "{'descr': 'b1', 'fortran_order': False, 'shape': (1,)}", true, 1, false},                                // accept
	{10, "{'descr': 'e', 'fortran_order': False, 'shape': (1,)}", true, 2, false},                                 // accept
	{10, "{'descr': '', 'fortran_order': False, 'shape': (1,)}", false, 0, false},                                 // reject: ValueError
	{10, "{'descr': '<', 'fortran_order': False, 'shape': (1,)}", false, 0, false},                                // reject: ValueError
	{10, "{'descr': 'i4,O', 'fortran_order': False, 'shape': (1,)}", true, 12, true},                              // accept
	{10, "{'descr': 'i4, f8', 'fortran_order': False, 'shape': (1,)}", true, 12, false},                           // accept
	{10, "{'descr': '2i4', 'fortran_order': False, 'shape': (1,)}", true, 8, false},                               // accept
	{10, "{'descr': '(2,3)f4', 'fortran_order': False, 'shape': (1,)}", true, 24, false},                          // accept
	{10, "{'descr': '(2)f4', 'fortran_order': False, 'shape': (1,)}", false, 0, false},                            // reject: ValueError
	{10, "{'descr': '(2,)O', 'fortran_order': False, 'shape': (1,)}", true, 16, true},                             // accept
	{10, "{'descr': '>(2,)<f4', 'fortran_order': False, 'shape': (1,)}", false, 0, false},                         // reject: ValueError
	{10, "{'descr': 'O,', 'fortran_order': False, 'shape': (1,)}", true, 8, true},                                 // accept
	{10, "{'descr': 'i4 ', 'fortran_order': False, 'shape': (1,)}", false, 0, false},                              // reject: ValueError
	{10, "{'descr': 'i4,f8 ', 'fortran_order': False, 'shape': (1,)}", true, 12, false},                           // accept
	{10, "{'descr': 'int', 'fortran_order': False, 'shape': (1,)}", true, 8, false},                               // accept
	{10, "{'descr': 'str', 'fortran_order': False, 'shape': (1,)}", true, 0, false},                               // accept
	{10, "{'descr': 'p', 'fortran_order': False, 'shape': (1,)}", true, 8, false},                                 // accept
	{10, "{'descr': [('x', '<f4'), ('y', '<i2', (3,))], 'fortran_order': False, 'shape': (1,)}", true, 10, false}, // accept
	{10, "{'descr': [('x', '<f4'), ('o', '|O')], 'fortran_order': False, 'shape': (1,)}", true, 12, true},         // accept
	{10, "{'descr': [('', '|V4'), ('x', '<f4')], 'fortran_order': False, 'shape': (1,)}", true, 8, false},         // accept
	{10, "{'descr': [(('t', 'x'), '<f4')], 'fortran_order': False, 'shape': (1,)}", true, 4, false},               // accept
	{10, "{'descr': [('x', [('y', '|O')])], 'fortran_order': False, 'shape': (1,)}", true, 8, true},               // accept
	{10, "{'descr': [('x', '<f4', 3)], 'fortran_order': False, 'shape': (1,)}", true, 12, false},                  // accept
	{10, "{'descr': [['x', '<f4']], 'fortran_order': False, 'shape': (1,)}", true, 4, false},                      // accept
	{10, "{'descr': ['xO'], 'fortran_order': False, 'shape': (1,)}", true, 8, true},                               // accept
	{10, "{'descr': {'xO': 1}, 'fortran_order': False, 'shape': (1,)}", true, 8, true},                            // accept
	{10, "{'descr': {('x', 'O')}, 'fortran_order': False, 'shape': (1,)}", true, 8, true},                         // accept
	{10, "{'descr': ('<f4', (2,)), 'fortran_order': False, 'shape': (1,)}", true, 8, false},                       // accept
	{10, "{'descr': ('|O', 2), 'fortran_order': False, 'shape': (1,)}", true, 16, true},                           // accept
	{10, "{'descr': [], 'fortran_order': False, 'shape': (1,)}", true, 0, false},                                  // accept
	{10, "{'descr': [('x', '<f4'), ('x', '<f4')], 'fortran_order': False, 'shape': (1,)}", false, 0, false},       // reject: ValueError
	{10, "{'descr': [(1, '<f4')], 'fortran_order': False, 'shape': (1,)}", false, 0, false},                       // reject: ValueError
	{10, "{'descr': 7, 'fortran_order': False, 'shape': (1,)}", false, 0, false},                                  // reject: ValueError
	{10, "{'descr': None, 'fortran_order': False, 'shape': (1,)}", false, 0, false},                               // reject: ValueError
}

// encodeHeader encodes header text as numpy decodes it: latin-1 for
// versions 1 and 2, UTF-8 for version 3.
func encodeHeader(t *testing.T, s string, version int) []byte {
	if version >= 30 {
		return []byte(s)
	}
	var b []byte
	for _, r := range s {
		if r > 0xff {
			t.Fatalf("%q is not latin-1", s)
		}
		b = append(b, byte(r))
	}
	return b
}

func TestHeaderAsNumpyReadsIt(t *testing.T) {
	cases := npyHeaderCases
	nest := func(n int) string { return strings.Repeat("(", n) + "2," + strings.Repeat(")", n) }
	cases = append(cases, []struct {
		version  int
		header   string
		accept   bool
		itemsize int64
		object   bool
	}{
		// Python's tokenizer allows 200 nested brackets; the dict is one.
		{10, "{'descr': '<f4', 'fortran_order': False, 'shape': " + nest(199) + "}", true, 4, false},
		{10, "{'descr': '<f4', 'fortran_order': False, 'shape': " + nest(200) + "}", false, 0, false},
		{10, "{'descr': '" + nest(198) + "f4', 'fortran_order': False, 'shape': (1,)}", false, 0, false},
	}...)
	for _, c := range cases {
		major, minor := byte(c.version/10), c.version%10
		if minor != 0 || major > 3 {
			continue // the version check, tested with whole files
		}
		h, err := parseHeader(encodeHeader(t, c.header, c.version), major)
		switch {
		case c.accept && err != nil:
			t.Errorf("v%d %q: numpy accepts it, aigis: %v", c.version, clip(c.header), err)
		case !c.accept && err == nil:
			t.Errorf("v%d %q: numpy refuses it, aigis accepts it", c.version, c.header)
		case c.accept && (h.dtype.itemsize != c.itemsize || h.dtype.object != c.object):
			t.Errorf("v%d %q: itemsize %d object %v, numpy: %d %v", c.version, c.header, h.dtype.itemsize, h.dtype.object, c.itemsize, c.object)
		}
	}
}
