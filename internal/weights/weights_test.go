package weights

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"syscall"
	"testing"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/report"
)

var (
	gaussF32      = testutil.GaussF32
	halfOrigin    = testutil.HalfOrigin
	hideLSB       = testutil.HideLSB
	textPayload   = testutil.TextPayload
	elfPayload    = testutil.ELFPayload
	randomPayload = testutil.RandomPayload
)

func scanOne(t testing.TB, dt analyzer.DType, data []byte) *analyzer.Result {
	out := analyzer.NewResult(nil)
	err := Scan(context.Background(), nil, bytes.NewReader(data), []analyzer.Tensor{{Name: "w", DType: dt, Offset: 0, Size: int64(len(data))}}, out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func has(out *analyzer.Result, rule string) bool {
	for _, f := range out.Findings() {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

func TestWeights_LSBPayloads(t *testing.T) {
	const n = 2 << 20 // 2M float32 elements, 8 MiB
	const kib64 = 64 << 10
	cases := []struct {
		name   string
		data   func() []byte
		flag   bool
		reason string
	}{
		{"CleanGaussian", func() []byte { return gaussF32(n, 1) }, false, ""},
		{"CleanHalfOrigin", func() []byte { return halfOrigin(gaussF32(n, 2)) }, false, ""},
		{"TextIn8LowBits", func() []byte { b := gaussF32(n, 3); hideLSB(b, textPayload(kib64), 8, 100000); return b }, true, ""},
		{"TextIn1LowBit", func() []byte { b := gaussF32(n, 4); hideLSB(b, textPayload(kib64), 1, 50000); return b }, true, ""},
		{"ExecutableIn4LowBits", func() []byte { b := gaussF32(n, 5); hideLSB(b, elfPayload(kib64), 4, 0); return b }, true, ""},
		{"ExecutableIn8LowBitsHeader", func() []byte { b := gaussF32(n, 6); hideLSB(b, elfPayload(kib64), 8, 123457); return b }, true, ""},
		{"RandomIn8LowBitsOfHalfOriginWeights", func() []byte { b := halfOrigin(gaussF32(n, 7)); hideLSB(b, randomPayload(kib64), 8, 300000); return b }, true, ""},
		{"RandomIn16LowBitsOfHalfOriginWeights", func() []byte { b := halfOrigin(gaussF32(n, 8)); hideLSB(b, randomPayload(kib64), 16, 300000); return b }, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := scanOne(t, analyzer.F32, c.data())
			got := has(out, "weights-lsb-payload")
			if got != c.flag {
				t.Errorf("lsb payload flagged=%v, want %v: %+v", got, c.flag, out.Findings())
			}
			if !c.flag && out.Verdict() != report.Clean {
				t.Errorf("clean weights flagged: %+v", out.Findings())
			}
		})
	}
}

func TestWeights_NaNInfOutlierMagic(t *testing.T) {
	b := gaussF32(1<<16, 11)
	binary.LittleEndian.PutUint32(b[40:], math.Float32bits(float32(math.NaN())))
	binary.LittleEndian.PutUint32(b[80:], math.Float32bits(float32(math.Inf(1))))
	out := scanOne(t, analyzer.F32, b)
	if !has(out, "weights-nan-inf") {
		t.Errorf("NaN/Inf not reported: %+v", out.Findings())
	}
	b = gaussF32(1<<20, 12)
	binary.LittleEndian.PutUint32(b[4000:], math.Float32bits(3e30))
	if out := scanOne(t, analyzer.F32, b); !has(out, "weights-extreme-outlier") {
		t.Errorf("outlier not reported: %+v", out.Findings())
	}
	b = gaussF32(1<<16, 13)
	copy(b[1000:], elfPayload(4096))
	if out := scanOne(t, analyzer.F32, b); !has(out, "weights-embedded-file") {
		t.Errorf("embedded ELF not reported: %+v", out.Findings())
	}
}

func BenchmarkScanF32(b *testing.B) {
	data := gaussF32(16<<20, 1) // 64 MiB
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		out := analyzer.NewResult(nil)
		if err := Scan(context.Background(), nil, bytes.NewReader(data), []analyzer.Tensor{{Name: "w", DType: analyzer.F32, Size: int64(len(data))}}, out); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the process's user+system time, so that throughput can be
// measured per core even on a busy machine.
func cpuTime() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkScanF32PerCore reports MB per CPU-second: multiply by the
// cores available for the wall-clock figure on an idle machine.
func BenchmarkScanF32PerCore(b *testing.B) {
	data := gaussF32(16<<20, 1)
	b.SetBytes(int64(len(data)))
	c0 := cpuTime()
	for b.Loop() {
		out := analyzer.NewResult(nil)
		if err := Scan(context.Background(), nil, bytes.NewReader(data), []analyzer.Tensor{{Name: "w", DType: analyzer.F32, Size: int64(len(data))}}, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(data))/1e6/(cpuTime()-c0), "MB/cpu-s")
}

// Clean weights of both kinds (random low bits, empty low bits) across
// many seeds: no window may be flagged.
func TestWeights_NoFalsePositivesOnCleanTensors(t *testing.T) {
	for seed := uint64(100); seed < 124; seed++ {
		b := gaussF32(1<<20, seed)
		if seed%2 == 0 {
			halfOrigin(b)
		}
		if out := scanOne(t, analyzer.F32, b); len(out.Findings()) > 0 {
			t.Errorf("seed %d: %+v", seed, out.Findings())
		}
	}
}
