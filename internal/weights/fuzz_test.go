package weights

import (
	"bytes"
	"context"
	"testing"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/testutil"
)

// FuzzScan feeds arbitrary tensor bytes, as every dtype, to the forensics:
// whatever the numbers, it must not panic.
func FuzzScan(f *testing.F) {
	f.Add(testutil.GaussF32(20000, 1))
	f.Add(append([]byte("\x7fELF\x02\x01\x01\x00\x80\x02cos\nsystem\n"), make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, d := range []analyzer.DType{analyzer.F32, analyzer.F16, analyzer.BF16, analyzer.F64, analyzer.OtherDType} {
			out := analyzer.NewResult(nil)
			if err := Scan(context.Background(), nil, bytes.NewReader(b), []analyzer.Tensor{{Name: "t", DType: d, Size: int64(len(b))}}, out); err != nil {
				t.Fatal(err)
			}
		}
	})
}
