package weights_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/internal/weights"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

var gauss = testutil.GaussF32

func scanWeights(t *testing.T, name string, data []byte) report.Artifact {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return scan.New(scan.Options{Weights: true}).ScanFile(context.Background(), p, name)
}

// Every format that carries raw tensors is read with --weights.
func TestWeights_AllFormats(t *testing.T) {
	nan := gauss(4096, 1)
	binary.LittleEndian.PutUint32(nan[400:], 0x7fc00000)
	cases := []struct {
		name, file string
		data       []byte
	}{
		{"Safetensors", "m.safetensors", testutil.SafetensorsModel(nil, testutil.STensor{Name: "w", Shape: []int64{64, 64}, Data: nan})},
		{"GGUF", "m.gguf", testutil.GGUF(nil, []testutil.GGUFTensor{{Name: "w", Dims: []uint64{4096}}}, nan)},
		{"NPY", "a.npy", testutil.NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (4096,), }", nan)},
		{"TorchZip", "m.pt", testutil.TorchZip(t, "m", testutil.TorchStateDict(1, 4096), 0, 0, testutil.ZipEntry{Name: "m/data/0", Data: nan})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := scanWeights(t, c.file, c.data)
			if scantest.Has(a, "weights-nan-inf") == nil || a.Verdict != report.Suspicious {
				t.Errorf("NaN not found%s", scantest.Dump(a))
			}
			if a.Properties["weights.tensors"] != "1" {
				t.Errorf("properties %v", a.Properties)
			}
		})
	}
	// Without --weights, tensor data is not read.
	if a := scantest.Bytes(t, "m.safetensors", cases[0].data); a.Verdict != report.Clean {
		t.Errorf("header-only scan read data%s", scantest.Dump(a))
	}
}

// An EvilModel: an executable written into the low 3 bytes of the float32
// weights of one layer, most significant first as its code packs them,
// and the "half substitution" variant in a bfloat16 model's low bytes.
// `scan --weights` names the tensor and the element; the clean twins are
// clean.
func TestWeights_EvilModelSafetensors(t *testing.T) {
	const n = 1 << 20
	exe := testutil.ELFPayload(64 << 10)
	for _, c := range []struct {
		name, dtype string
		data        func(seed uint64) []byte
		es, k       int
		be          bool
	}{
		{"Float32LowThreeBytes", "F32", func(seed uint64) []byte { return gauss(n, seed) }, 4, 3, true},
		{"BFloat16LowByte", "BF16", func(seed uint64) []byte { return testutil.BF16(gauss(n, seed)) }, 2, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			model := func(evil bool) []byte {
				var ts []testutil.STensor
				for i := 0; i < 3; i++ {
					b := c.data(uint64(30 + i))
					if evil && i == 1 {
						testutil.HideBytes(b, c.es, exe, c.k, c.be, 123_456)
					}
					ts = append(ts, testutil.STensor{Name: fmt.Sprintf("layers.%d.weight", i), DType: c.dtype, Shape: []int64{n}, Data: b})
				}
				return testutil.SafetensorsModel(nil, ts...)
			}
			a := scanWeights(t, "evil.safetensors", model(true))
			f := scantest.Has(a, "weights-lsb-file")
			if f == nil || a.Verdict != report.Suspicious || !strings.Contains(f.Message, "tensor layers.1.weight") || !strings.Contains(f.Message, "from element 123456 onwards, re-assemble into an ELF executable") {
				t.Errorf("EvilModel payload not found%s", scantest.Dump(a))
			}
			if a := scanWeights(t, "clean.safetensors", model(false)); a.Verdict != report.Clean {
				t.Errorf("clean twin flagged%s", scantest.Dump(a))
			}
		})
	}
}

func TestWeights_DiffFineTuneVersusTargetedEdit(t *testing.T) {
	dir := t.TempDir()
	const nT, n = 12, 8192
	var base, tuned, edited []testutil.STensor
	r := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < nT; i++ {
		w := gauss(n, uint64(10+i))
		ft := append([]byte(nil), w...)
		for j := 0; j+4 <= len(ft); j += 4 {
			f := math.Float32frombits(binary.LittleEndian.Uint32(ft[j:]))
			binary.LittleEndian.PutUint32(ft[j:], math.Float32bits(f+float32(r.NormFloat64()*1e-3)))
		}
		ed := append([]byte(nil), w...)
		if i == 3 {
			for j := 0; j < 16; j++ { // a handful of weights set sharply
				binary.LittleEndian.PutUint32(ed[4*(100+j):], math.Float32bits(4))
			}
		}
		name := "layer" + string(rune('a'+i))
		base = append(base, testutil.STensor{Name: name, Shape: []int64{n}, Data: w})
		tuned = append(tuned, testutil.STensor{Name: name, Shape: []int64{n}, Data: ft})
		edited = append(edited, testutil.STensor{Name: name, Shape: []int64{n}, Data: ed})
	}
	write := func(name string, ts []testutil.STensor) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, testutil.SafetensorsModel(nil, ts...), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pb, pt, pe := write("base.safetensors", base), write("tuned.safetensors", tuned), write("edited.safetensors", edited)
	engine := scan.New(scan.Options{})
	diff := func(x, y string) []report.Finding {
		_, ra, ta, ca, err := engine.Tensors(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		defer ca()
		_, rb, tb, cb, err := engine.Tensors(context.Background(), y)
		if err != nil {
			t.Fatal(err)
		}
		defer cb()
		d, err := weights.Compare(context.Background(), nil, weights.Source{RA: ra, Tensors: ta}, weights.Source{RA: rb, Tensors: tb})
		if err != nil {
			t.Fatal(err)
		}
		fs, _ := d.Findings("")
		return fs
	}
	hasTargeted := func(fs []report.Finding) bool {
		for _, f := range fs {
			if f.Rule == "weights-diff-targeted" {
				return true
			}
		}
		return false
	}
	if fs := diff(pb, pt); hasTargeted(fs) || len(fs) != nT {
		t.Errorf("fine-tune: %+v", fs)
	}
	if fs := diff(pb, pe); !hasTargeted(fs) {
		t.Errorf("targeted edit not flagged: %+v", fs)
	}
	if fs := diff(pb, pb); len(fs) != 0 {
		t.Errorf("identical models: %+v", fs)
	}
}
