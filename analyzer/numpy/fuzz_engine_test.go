package numpy_test

import (
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
)

// FuzzNPY feeds whole files through the engine.
func FuzzNPY(f *testing.F) {
	f.Add(testutil.NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", make([]byte, 8)))
	f.Add(testutil.NPY("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", []byte("\x80\x02cposix\nsystem\n.")))
	f.Fuzz(func(t *testing.T, b []byte) { scantest.Fuzz(t, b, "a.npy") })
}
