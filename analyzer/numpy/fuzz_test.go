package numpy

import (
	"testing"
)

// FuzzHeader checks the header literal parser directly.
func FuzzHeader(f *testing.F) {
	f.Add("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")
	f.Add("{'descr': [('x', '<f4'), ('y', '|O', (2,))], 'fortran_order': True, 'shape': (), }")
	f.Add("{'descr': '<U10', 'fortran_order': False, 'shape': (10L,), }")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHeader([]byte(s))
		if err == nil {
			h.nbytes()
		}
	})
}
