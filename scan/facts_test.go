package scan_test

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

func gz(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Whether loading a file runs the unpickler is a fact of the walked file
// as a whole: reported by the analyser of its format, carried through a
// compression layer (the loader decompresses), and never borrowed from a
// member of an archive.
func TestFacts_LoadsPickle(t *testing.T) {
	p := pkl.New(2).EmptyDict().Stop().Bytes()
	legacy := bytes.Join([][]byte{
		{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'},
		pkl.New(2).Int(1001).Stop().Bytes(),
		pkl.New(2).EmptyDict().Stop().Bytes(),
		pkl.New(2).EmptyDict().Stop().Bytes(),
		pkl.New(2).Mark().Raw('l').Stop().Bytes(),
	}, nil)
	npyObj := testutil.NPY("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", pkl.New(2).Mark().Int(1).Raw('l').Stop().Bytes())
	npyF4 := testutil.NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", make([]byte, 24))
	kerasV3 := testutil.Zip(t, testutil.ZipEntry{Name: "config.json", Data: []byte(`{"class_name": "Sequential", "config": {}}`)},
		testutil.ZipEntry{Name: "metadata.json", Data: []byte(`{"keras_version": "3.6.0"}`)})
	cases := []struct {
		name, file string
		data       []byte
		format     string
		pickle     bool
	}{
		{"pickle", "m.pkl", p, "pickle", true},
		{"gzip pickle", "m.pkl.gz", gz(t, p), "pickle+gzip", true},
		{"torch zip", "m.pt", testutil.TorchZip(t, "m", testutil.TorchStateDict(1, 2), 1, 2), "pytorch-zip", true},
		{"torch legacy", "m.pt", legacy, "pytorch-legacy", true},
		{"npy object array", "a.npy", npyObj, "numpy-object", true},
		{"npy float array", "a.npy", npyF4, "numpy", false},
		{"pickle in a plain zip", "a.zip", testutil.Zip(t, testutil.ZipEntry{Name: "x.pkl", Data: p}), "zip", false},
		{"pickle in a tar", "a.tar", testutil.Tar(t, testutil.TarEntry{Name: "x.pkl", Data: p}), "tar", false},
		{"torch zip in a tar", "a.tar", testutil.Tar(t, testutil.TarEntry{Name: "m.pt", Data: testutil.TorchZip(t, "m", p, 0, 0)}), "tar", false},
		{"keras v3", "m.keras", kerasV3, "keras", false},
	}
	for _, c := range cases {
		a := scantest.Bytes(t, c.file, c.data)
		if a.Format != c.format || (a.Model != nil && a.Model.LoadsPickle) != c.pickle {
			t.Errorf("%s: format %s, facts %+v; want %s, loads pickle %v%s", c.name, a.Format, a.Model, c.format, c.pickle, scantest.Dump(a))
		}
	}
	a := scantest.Bytes(t, "a.npy", npyF4)
	if a.Model == nil || a.Model.Parameters != 6 || a.Model.Tensors != 1 || len(a.Model.DTypes) != 1 || a.Model.DTypes[0] != "<f4" {
		t.Errorf("npy facts %+v", a.Model)
	}
	a = scantest.Bytes(t, "m.keras", kerasV3)
	if a.Model == nil || len(a.Model.Meta) != 1 || a.Model.Meta[0] != (report.KV{Key: "keras_version", Value: "3.6.0"}) {
		t.Errorf("keras facts %+v%s", a.Model, scantest.Dump(a))
	}
}

// Header facts are on the artifacts of a directory scan too, and only on
// the files they describe.
func TestFacts_DirectoryScan(t *testing.T) {
	st := testutil.SafetensorsModel(nil, testutil.STensor{Name: "w", Shape: []int64{2, 2}, Data: make([]byte, 16)})
	_, rep := scantest.Dir(t, map[string][]byte{"model.safetensors": st, "config.json": []byte(`{"model_type": "x"}`), "bundle.zip": testutil.Zip(t, testutil.ZipEntry{Name: "inner.safetensors", Data: st})})
	n := 0
	for _, a := range rep.Artifacts {
		switch {
		case a.Format == "safetensors":
			n++
			if a.Model == nil || a.Model.Parameters != 4 {
				t.Errorf("%s: %+v", a.Path, a.Model)
			}
		case a.Model != nil:
			t.Errorf("%s (%s) has facts %+v", a.Path, a.Format, a.Model)
		}
	}
	if n != 1 {
		t.Errorf("%d safetensors artifacts", n)
	}
}
