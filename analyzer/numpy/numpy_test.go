package numpy_test

import (
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

func TestNPY(t *testing.T) {
	evil := pkl.New(2).Global("posix", "system").Str("id").Tuple1().Reduce().Stop().Bytes()
	// What numpy writes for an object array: _reconstruct, then a BUILD.
	objArray := pkl.New(2).Global("numpy.core.multiarray", "_reconstruct").Global("numpy", "ndarray").Int(0).Tuple1().BinBytes([]byte("b")).Tuple3().Reduce().
		Mark().Int(1).Int(2).Tuple1().Global("numpy", "dtype").Str("O8").Raw(0x89, 0x88).Tuple3().Reduce().
		Mark().Int(3).Str("|").None().None().None().Int(-1).Int(-1).Int(63).Tuple().Build().Raw(0x89).
		Mark().Str("a").Str("b").Raw('l').Tuple().Build().Stop().Bytes()
	scantest.Run(t, []scantest.Case{
		{Name: "Float32", Data: testutil.NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", make([]byte, 24)), Verdict: report.Clean, Format: "numpy"},
		{Name: "Scalar", Data: testutil.NPY("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", make([]byte, 8)), Verdict: report.Clean},
		{Name: "Structured", Data: testutil.NPY("{'descr': [('x', '<f4'), ('y', '<i2', (3,))], 'fortran_order': True, 'shape': (2,), }", make([]byte, 2*(4+6))), Verdict: report.Clean},
		{Name: "Unicode", Data: testutil.NPY("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", make([]byte, 12)), Verdict: report.Clean},
		{Name: "ObjectBenign", Data: testutil.NPY("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", objArray), Verdict: report.Clean, Format: "numpy-object"},
		{Name: "ObjectPayload", Data: testutil.NPY("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious, Rules: []string{"pickle-process-exec"}},
		{Name: "StructuredWithObjectField", Data: testutil.NPY("{'descr': [('x', '<f4'), ('o', '|O')], 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious},
		{Name: "TruncatedData", Data: testutil.NPY("{'descr': '<f8', 'fortran_order': False, 'shape': (100,), }", make([]byte, 16)), Verdict: report.Invalid},
		{Name: "TrailingData", Data: testutil.NPY("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 16)), Verdict: report.Clean, Rules: []string{"numpy-trailing-data"}},
		{Name: "HeaderNotALiteral", Data: testutil.NPY("{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,), }", nil), Verdict: report.Invalid},
		{Name: "HeaderShapeNegative", Data: testutil.NPY("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", nil), Verdict: report.Invalid},
		{Name: "HeaderOverflow", Data: testutil.NPY("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }", nil), Verdict: report.Invalid},
		{Name: "BadVersion", Data: append([]byte("\x93NUMPY\x09\x00"), 0, 0), Verdict: report.Invalid},
		{Name: "Npz", File: "a.npz", Data: testutil.Zip(t,
			testutil.ZipEntry{Name: "a.npy", Data: testutil.NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)), Deflate: true},
			testutil.ZipEntry{Name: "b.npy", Data: testutil.NPY("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evil)}),
			Verdict: report.Malicious, Format: "npz", InMsg: "b.npy@"},
	})
}
