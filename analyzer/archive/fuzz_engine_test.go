package archive_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
)

// FuzzArchive feeds zip, tar and 7z bundles through the engine.
func FuzzArchive(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.7z")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add(testutil.Zip(f, testutil.ZipEntry{Name: "../a.pkl", Data: []byte("\x80\x02N.")}, testutil.ZipEntry{Name: "l", Data: []byte("../x"), Mode: 0o120777}))
	f.Add(testutil.Tar(f, testutil.TarEntry{Name: "a/b.pkl", Data: []byte("\x80\x02N.")}, testutil.TarEntry{Name: "l", Type: '2', Linkname: "/etc"}))
	f.Add(testutil.RawZip(nil, testutil.RawMember{Name: "a/data.pkl", Data: []byte("\x80\x02N."), CentralFlags: 1, LocalFlags: 0x48, Method: 8},
		testutil.RawMember{Name: "a/x", Data: []byte("y"), LocalMethod: testutil.Ptr[uint16](8), CRC: testutil.Ptr[uint32](1)}))
	f.Fuzz(func(t *testing.T, b []byte) { scantest.Fuzz(t, b, "bundle") })
}
