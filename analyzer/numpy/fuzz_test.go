package numpy

import (
	"testing"
)

// FuzzHeader checks the header literal parser directly.
func FuzzHeader(f *testing.F) {
	f.Add("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", byte(1))
	f.Add("{'descr': [('x', '<f4'), ('y', '|O', (2,))], 'fortran_order': True, 'shape': (), }", byte(1))
	f.Add("{'descr': '<U10', 'fortran_order': False, 'shape': (10L,), }", byte(2))
	f.Add("{'descr': 'i4,(2,3)O', # c\n 'fortran_order': False, 'shape': (-1,), }", byte(3))
	f.Add("{'descr': {'xO': 1}, 'fortran_order': False, 'shape': (0x2,), }\n", byte(1))
	f.Add(`{'descr': '\N{LATIN CAPITAL LETTER O}', 'fortran_order': False, 'shape': (1,), }`, byte(1))
	f.Add(`{'descr': u'<' '''M8[ns]''', 'fortran_order': False, 'shape': (+2,), 'x': 1+2j}`, byte(1))
	f.Fuzz(func(t *testing.T, s string, major byte) {
		h, err := parseHeader([]byte(s), major%4)
		if err == nil {
			h.nbytes()
			h.dataSize(1<<20, false)
		}
	})
}
