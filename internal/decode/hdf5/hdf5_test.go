package hdf5_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/decode/hdf5"
	"github.com/aigis-dev/aigis/internal/testutil"
)

func TestReadRootAttributes(t *testing.T) {
	f := testutil.HDF5(testutil.HDF5Attr{Name: "keras_version", Value: "2.15.0"}, testutil.HDF5Attr{Name: "model_config", Value: `{"class_name": "Sequential"}`, VarLen: true})
	r, err := hdf5.ReadRoot(bytes.NewReader(f), int64(len(f)))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Attributes) != 2 || r.Attributes[0].Value != "2.15.0" || r.Attributes[1].Value != `{"class_name": "Sequential"}` {
		t.Fatalf("%+v", r.Attributes)
	}
	// A user block before the superblock.
	ub := append(make([]byte, 512), f...)
	if hdf5.FindSignature(ub) != 512 {
		t.Error("user block not skipped")
	}
}

func TestReadRootRejectsHostileAddresses(t *testing.T) {
	f := testutil.HDF5(testutil.HDF5Attr{Name: "model_config", Value: "{}", VarLen: true})
	for name, patch := range map[string]func(b []byte){
		"RootHeaderOutside": func(b []byte) { binary.LittleEndian.PutUint64(b[64:], 1<<40) },
		"BadOffsetSize":     func(b []byte) { b[13] = 3 },
		"UnknownVersion":    func(b []byte) { b[8] = 9 },
	} {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(f)
			patch(b)
			_, err := hdf5.ReadRoot(bytes.NewReader(b), int64(len(b)))
			var he *hdf5.Error
			if !errors.As(err, &he) {
				t.Fatalf("want an hdf5.Error, got %v", err)
			}
		})
	}
	if _, err := hdf5.ReadRoot(bytes.NewReader(f[:120]), 120); err == nil {
		t.Error("truncated file accepted")
	}
}

func TestDenseAttributes(t *testing.T) {
	big := strings.Repeat("y", 9000) // over 4 KiB: a huge heap object
	f := testutil.HDF5Dense(testutil.HDF5DenseFile{
		Attrs:  []testutil.HDF5Attr{{Name: "keras_version", Value: "2.15.0"}, {Name: "model_config", Value: big}, {Name: "note", Value: "x"}},
		Shadow: []testutil.HDF5Attr{{Name: "model_config", Value: "{}"}},
	})
	r, err := hdf5.ReadRoot(bytes.NewReader(f), int64(len(f)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range r.Attributes {
		got[a.Name] = a.Value
		if a.HashMismatch {
			t.Errorf("%s: hash mismatch", a.Name)
		}
	}
	if !r.Dense || len(got) != 3 || got["model_config"] != big || got["keras_version"] != "2.15.0" || got["note"] != "x" {
		t.Fatalf("dense %v, attributes %v", r.Dense, r.Attributes)
	}
	if len(r.Shadowed) != 1 || r.Shadowed[0].Value != "{}" {
		t.Fatalf("shadowed %+v", r.Shadowed)
	}
}

// TestDenseAttributesCorrupt: HDF5 checks every checksum and refuses a
// heap object outside its block; so does the reader (an hdf5.Error,
// never a panic).
func TestDenseAttributesCorrupt(t *testing.T) {
	attrs := []testutil.HDF5Attr{{Name: "model_config", Value: `{"a": 1}`}, {Name: "big", Value: strings.Repeat("z", 5000)}}
	for name, corrupt := range map[string]func([]byte, testutil.HDF5DenseLayout){
		"DirectBlockChecksum": func(b []byte, l testutil.HDF5DenseLayout) { b[l.DirectBlock+30] ^= 1 },
		"HeapHeaderChecksum":  func(b []byte, l testutil.HDF5DenseLayout) { b[l.Heap+20] ^= 1 },
		"NameLeafChecksum":    func(b []byte, l testutil.HDF5DenseLayout) { b[l.NameLeaf+10] ^= 1 },
		"HugeIndexChecksum":   func(b []byte, l testutil.HDF5DenseLayout) { b[l.HugeIndex+8] ^= 1 },
		"NameIndexSignature":  func(b []byte, l testutil.HDF5DenseLayout) { b[l.NameIndex] = 'X' },
		"HeapIDOutOfBlock": func(b []byte, l testutil.HDF5DenseLayout) {
			// Point the first managed ID past its block and re-sum the leaf.
			for i := l.NameLeaf + 6; i < l.NameLeaf+6+2*17; i += 17 {
				if b[i] == 0 {
					b[i+1], b[i+2] = 0xff, 0xff
				}
			}
			end := l.NameLeaf + 6 + 2*17
			binary.LittleEndian.PutUint32(b[end:], hdf5.Checksum(b[l.NameLeaf:end]))
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := testutil.HDF5Dense(testutil.HDF5DenseFile{Attrs: attrs, Corrupt: corrupt})
			_, err := hdf5.ReadRoot(bytes.NewReader(f), int64(len(f)))
			var he *hdf5.Error
			if !errors.As(err, &he) {
				t.Fatalf("want an hdf5.Error, got %v", err)
			}
		})
	}
}

func FuzzReadRoot(f *testing.F) {
	f.Add(testutil.HDF5(testutil.HDF5Attr{Name: "model_config", Value: "{}", VarLen: true}))
	f.Add(testutil.HDF5Dense(testutil.HDF5DenseFile{Attrs: []testutil.HDF5Attr{{Name: "model_config", Value: "{}"}, {Name: "h", Value: strings.Repeat("h", 4100)}},
		Shadow: []testutil.HDF5Attr{{Name: "x", Value: "y"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		hdf5.ReadRoot(bytes.NewReader(b), int64(len(b)))
	})
}
