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

// FuzzSignatures feeds arbitrary bytes to every signature check, directly
// and re-assembled in every layout: no panic, and the byte-by-byte view of
// a stream (at) agrees with the assembled one.
func FuzzSignatures(f *testing.F) {
	f.Add([]byte("\x1f\x8b\x08\x1c\x00\x00\x00\x00\x00\xff\x04\x00abcdname\x00comment\x00\x01\x02\x03"), uint8(3), uint8(0), true)
	f.Add(append([]byte("MZ"), make([]byte, 0x3a)...), uint8(1), uint8(0), false)
	f.Add([]byte("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93."), uint8(2), uint8(1), false)
	f.Add([]byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), uint8(4), uint8(0), false)
	f.Fuzz(func(t *testing.T, b []byte, k, skip uint8, be bool) {
		for i := range signatures {
			sg := &signatures[i]
			sg.confirm(b[:min(len(b), maxProbe)])
			if len(b) >= 64 {
				sg.need(b[:64])
			}
		}
		es := 4
		if be && skip&0x80 != 0 {
			es = 2
		}
		l := layout{k: 1 + k%uint8(es), be: be}
		l.skip = skip % l.k
		var buf [256]byte
		n := assemble(buf[:], b, es, 0, l)
		for j := 0; j < n; j++ {
			c, ok := at(b, es, 0, l, j)
			if !ok || c != buf[j] {
				t.Fatalf("layout %+v byte %d: at %d/%v, assemble %d", l, j, c, ok, buf[j])
			}
		}
		if _, ok := at(b, es, 0, l, n); ok && n < len(buf) {
			t.Fatalf("layout %+v: at reads past the %d assembled bytes", l, n)
		}
		p := prober{s: &Stats{unchecked: -1}, full: b, es: es, buf: make([]byte, maxProbe), checks: maxChecks}
		if es == 4 {
			p.probeF32(0, len(b)/4)
		} else {
			p.probe16(0, len(b)/2)
		}
	})
}
