package scan_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/scan"
)

// The engine lists tensors through the analyser that recognises the
// file, in Dispatch's order: safetensors, GGUF, .npy and torch zips
// (through the zip analyser's matching layout), whatever the name.
func TestTensors(t *testing.T) {
	f32 := testutil.GaussF32(16, 1)
	kerasV3 := testutil.Zip(t, testutil.ZipEntry{Name: "config.json", Data: []byte(`{}`)}, testutil.ZipEntry{Name: "metadata.json", Data: []byte(`{}`)})
	cases := []struct {
		name   string
		data   []byte
		format string
		names  []string
		dtype  analyzer.DType
	}{
		{"safetensors", testutil.SafetensorsModel(nil, testutil.STensor{Name: "w", Shape: []int64{4, 4}, Data: f32}), "safetensors", []string{"w"}, analyzer.F32},
		{"gguf", testutil.GGUF(nil, []testutil.GGUFTensor{{Name: "w", Dims: []uint64{16}}}, f32), "gguf", []string{"w"}, analyzer.F32},
		{"npy", testutil.NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (16,), }", f32), "numpy", []string{"array"}, analyzer.F32},
		{"torch zip", testutil.TorchZip(t, "m", testutil.TorchStateDict(1, 16), 0, 0, testutil.ZipEntry{Name: "m/data/0", Data: f32}), "zip", []string{"data/0"}, analyzer.F32},
	}
	engine := scan.New(scan.Options{})
	dir := t.TempDir()
	for _, c := range cases {
		p := filepath.Join(dir, "model.bin")
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		format, src, ts, closeFn, err := engine.Tensors(context.Background(), p)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var names []string
		for _, x := range ts {
			names = append(names, x.Name)
			b := make([]byte, x.Size)
			if _, err := x.Source(src).ReadAt(b, x.Offset); err != nil || !bytes.Equal(b, f32) || x.DType != c.dtype {
				t.Errorf("%s: tensor %s (%s) reads %v", c.name, x.Name, x.DType, err)
			}
		}
		if format != c.format || !slices.Equal(names, c.names) {
			t.Errorf("%s: %s %v", c.name, format, names)
		}
		closeFn()
	}
	// Formats without tensors to compare, and content in no format.
	for name, data := range map[string][]byte{
		"npy objects": testutil.NPY("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", pkl.New(2).Mark().Int(1).Raw('l').Stop().Bytes()),
		"plain zip":   testutil.Zip(t, testutil.ZipEntry{Name: "a.txt", Data: []byte("x")}),
		"keras v3":    kerasV3,
		"pickle":      pkl.New(2).EmptyDict().Stop().Bytes(),
		"text":        []byte("hello"),
		"empty":       nil,
	} {
		p := filepath.Join(dir, "x")
		os.WriteFile(p, data, 0o644)
		if _, _, _, _, err := engine.Tensors(context.Background(), p); !errors.Is(err, analyzer.ErrNoTensors) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A malformed header is an error of its own.
	p := filepath.Join(dir, "bad.safetensors")
	os.WriteFile(p, testutil.Safetensors(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}`, make([]byte, 8)), 0o644)
	if _, _, _, _, err := engine.Tensors(context.Background(), p); err == nil || errors.Is(err, analyzer.ErrNoTensors) {
		t.Errorf("malformed header: %v", err)
	}
	// The file is named by the user: a link to it is followed.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "model.bin"), link); err != nil {
		t.Fatal(err)
	}
	if _, _, ts, closeFn, err := engine.Tensors(context.Background(), link); err != nil || len(ts) != 1 {
		t.Errorf("link: %v", err)
	} else {
		closeFn()
	}
}
