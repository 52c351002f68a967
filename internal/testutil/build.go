package testutil

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil/pkl"
)

// ZipEntry is one member for Zip.
type ZipEntry struct {
	Name    string
	Data    []byte
	Deflate bool
	Mode    uint32 // Unix mode bits (0o120777 for a symlink)
}

// Zip builds a zip archive in memory.
func Zip(t testing.TB, entries ...ZipEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Store}
		if e.Deflate {
			h.Method = zip.Deflate
		}
		if e.Mode != 0 {
			h.CreatorVersion = 3 << 8
			h.ExternalAttrs = e.Mode << 16
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(e.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TarEntry is one member for Tar.
type TarEntry struct {
	Name     string
	Data     []byte
	Type     byte // tar.TypeReg when 0
	Linkname string
}

// Tar builds a tar archive in memory.
func Tar(t testing.TB, entries ...TarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.Name, Typeflag: typ, Linkname: e.Linkname, Mode: 0o644, Size: int64(len(e.Data)), Format: tar.FormatPAX}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := w.Write(e.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TorchStateDict is the data.pkl of a state_dict with n tensors, as
// torch.save writes it (protocol 2, persistent ids naming storages).
func TorchStateDict(n, numel int) []byte {
	p := pkl.New(2).Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark()
	for i := 0; i < n; i++ {
		p.Str(fmt.Sprintf("layer%d.weight", i)).Global("torch._utils", "_rebuild_tensor_v2").Mark().
			Mark().Str("storage").Global("torch", "FloatStorage").Str(fmt.Sprint(i)).Str("cpu").Int(numel).Tuple().Raw('Q').
			Int(0).Int(numel).Tuple1().Int(1).Tuple1().Raw(0x89).
			Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce()
	}
	return p.SetItems().Stop().Bytes()
}

// TorchZip builds a torch.save zip around a data.pkl; storages for n
// tensors of numel floats are added under prefix/data/.
func TorchZip(t testing.TB, prefix string, dataPkl []byte, n, numel int, extra ...ZipEntry) []byte {
	t.Helper()
	entries := []ZipEntry{{Name: prefix + "/data.pkl", Data: dataPkl}, {Name: prefix + "/byteorder", Data: []byte("little")}}
	for i := 0; i < n; i++ {
		entries = append(entries, ZipEntry{Name: fmt.Sprintf("%s/data/%d", prefix, i), Data: make([]byte, 4*numel)})
	}
	entries = append(entries, ZipEntry{Name: prefix + "/version", Data: []byte("3\n")}, ZipEntry{Name: prefix + "/.data/serialization_id", Data: []byte("0123456789")})
	return Zip(t, append(entries, extra...)...)
}

// NPY builds a .npy file with the given header dict text and body.
func NPY(header string, body []byte) []byte {
	h := header
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(h)))
	b = append(b, h...)
	return append(b, body...)
}
