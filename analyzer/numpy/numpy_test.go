package numpy_test

import (
	"encoding/binary"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

func withVersion(b []byte, major, minor byte) []byte {
	b[6], b[7] = major, minor
	return b
}

// npyRaw builds an .npy file with the header bytes exactly as given.
func npyRaw(major byte, header string, body []byte) []byte {
	b := []byte("\x93NUMPY")
	b = append(b, major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	}
	return append(append(b, header...), body...)
}

func npy2(header string, body []byte) []byte { return npyRaw(2, header, body) }

// npy3 is version 3: the header is UTF-8.
func npy3(header string, body []byte) []byte { return npyRaw(3, header, body) }

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
		// numpy.load of a file reads every item for a negative dimension
		// (fromfile(count=-1)) and reshapes; through zipfile it refuses.
		{Name: "HeaderShapeNegativeFillsFromData", Data: testutil.NPY("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 2), }", make([]byte, 32)), Verdict: report.Clean},
		{Name: "HeaderShapeNegativeDoesNotFit", Data: testutil.NPY("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 2), }", make([]byte, 24)), Verdict: report.Invalid},
		{Name: "HeaderShapeTwoNegative", Data: testutil.NPY("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, -1), }", make([]byte, 8)), Verdict: report.Invalid},
		{Name: "HeaderShapeNegativeInNpz", File: "a.npz", Data: testutil.Zip(t, testutil.ZipEntry{Name: "a.npy", Data: testutil.NPY("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", make([]byte, 8))}), Verdict: report.Invalid, Format: "npz"},
		{Name: "HeaderOverflow", Data: testutil.NPY("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }", nil), Verdict: report.Invalid},
		{Name: "BadVersion", Data: append([]byte("\x93NUMPY\x09\x00"), 0, 0), Verdict: report.Invalid},
		{Name: "MinorVersionNumpyRefuses", Data: withVersion(testutil.NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)), 1, 1), Verdict: report.Invalid},
		{Name: "Version3UTF8Names", Data: npy3("{'descr': [('\u00e9t\u00e9', '<f4')], 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)), Verdict: report.Clean},
		{Name: "Python2Longs", Data: npy2("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1 L), }", make([]byte, 8)), Verdict: report.Clean},
		{Name: "Python2LongsNotInVersion3", Data: npy3("{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", make([]byte, 8)), Verdict: report.Invalid},
		{Name: "ExtraKeyNumpyRefuses", Data: testutil.NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", make([]byte, 4)), Verdict: report.Invalid},
		{Name: "ShapeListNumpyRefuses", Data: testutil.NPY("{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", make([]byte, 4)), Verdict: report.Invalid},
		{Name: "TrailingNULsNumpyRefuses", Data: npyRaw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\x00\x00", make([]byte, 4)), Verdict: report.Invalid},
		{Name: "CommentsAndContinuations", Data: testutil.NPY("{'descr': '<f4', # the type\n 'fortran_order': False, \\\n 'shape': (0x1,), }", make([]byte, 4)), Verdict: report.Clean},
		// Object dtypes however they are spelled: a pickle follows.
		{Name: "ObjectByDuplicateKey", Data: testutil.NPY("{'descr': '<f4', 'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious, Format: "numpy-object"},
		{Name: "ObjectByName", Data: testutil.NPY("{'descr': 'object0', 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious},
		{Name: "ObjectByO4", Data: testutil.NPY("{'descr': 'O4', 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious},
		{Name: "ObjectInCommaString", Data: testutil.NPY("{'descr': 'i4, (2,3)O', 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious},
		{Name: "ObjectInSubarrayTuple", Data: testutil.NPY("{'descr': ('|O', 2), 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious},
		{Name: "ObjectByDictKeyField", Data: testutil.NPY("{'descr': {'xO': 1}, 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious},
		{Name: "ObjectByStringField", Data: testutil.NPY("{'descr': ['xO'], 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious},
		{Name: "ObjectByEscapes", Data: testutil.NPY("{'descr': u'|' '\\x4f', 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious},
		{Name: "ObjectByNamedEscape", Data: testutil.NPY("{'descr': '\\N{LATIN CAPITAL LETTER O}', 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious},
		{Name: "ObjectNestedField", Data: testutil.NPY("{'descr': [('x', [('y', '|O')])], 'fortran_order': False, 'shape': (1,), }", evil), Verdict: report.Malicious},
		// A header numpy refuses still has the pickle after it reported.
		{Name: "RefusedHeaderPicklePayload", Data: testutil.NPY("{'descr': '|O', 'fortran_order': False, 'shape': (1,), 'extra': 1}", evil), Verdict: report.Malicious, Rules: []string{"malformed", "pickle-process-exec"}},
		{Name: "Npz", File: "a.npz", Data: testutil.Zip(t,
			testutil.ZipEntry{Name: "a.npy", Data: testutil.NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)), Deflate: true},
			testutil.ZipEntry{Name: "b.npy", Data: testutil.NPY("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evil)}),
			Verdict: report.Malicious, Format: "npz", InMsg: "b.npy@"},
	})
}
