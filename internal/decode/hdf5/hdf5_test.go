package hdf5_test

import (
	"bytes"
	"encoding/binary"
	"errors"
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
