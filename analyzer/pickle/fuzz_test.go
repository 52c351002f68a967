package pickle_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

// FuzzPickle feeds arbitrary bytes to the whole engine as a .pkl file: no
// input may panic, hang or be called clean after a parse error.
func FuzzPickle(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.pkl")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add(pkl.New(4).Call("os", "system", "id").Stop().Bytes())
	f.Add(pkl.New(2).Global("pickle", "loads").BinBytes(pkl.New(2).None().Stop().Bytes()).Tuple1().Reduce().Stop().Bytes())
	f.Add(pkl.New(4).Str("builtins").Str("str.lower").StackGlobal().Str("OS").Tuple1().Reduce().Str("system").StackGlobal().Stop().Bytes())
	f.Add(pkl.New(2).Global("copyreg", "add_extension").Str("os").Str("system").Int(7).Tuple3().Reduce().Pop().Raw(0x82, 7).Stop().Bytes())
	f.Add([]byte("(S'a'\np0\ng0\n."))
	for _, c := range unpicklerCases {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a := scantest.Fuzz(t, b, "x.pkl")
		for _, fd := range a.Findings {
			if (fd.Rule == "malformed" || fd.Rule == "truncated") && a.Verdict == report.Clean {
				t.Fatalf("parse error but clean: %+v", a)
			}
		}
	})
}
