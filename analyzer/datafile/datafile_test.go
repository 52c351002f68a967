package datafile_test

import (
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

// A ".sav" that is an IDL save file (47 of them ship in scipy's tests) is
// data, not a corrupt scikit-learn pickle; a ".sav" that is neither stays
// invalid, and one that is a pickle is analysed as one.
func TestDataFilesAreNotCorruptModels(t *testing.T) {
	scantest.Run(t, []scantest.Case{
		{Name: "IDLSave", File: "array_float32_1d.sav", Data: append([]byte("SR\x00\x04\x00\x00\x00\x0a"), make([]byte, 64)...), Verdict: report.Clean, Format: "idl-save"},
		{Name: "MAT", File: "weights.mat", Data: append([]byte("MATLAB 5.0 MAT-file, Platform: GLNXA64"), make([]byte, 128)...), Verdict: report.Clean, Format: "matlab-mat"},
		{Name: "NotIDL", File: "model.sav", Data: []byte("SR\x00\x05 not a save file at all"), Verdict: report.Invalid, Rules: []string{"unrecognised-model"}},
		{Name: "PickleSav", File: "model.sav", Data: []byte("\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R."), Verdict: report.Malicious},
	})
}
