package archive_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

var (
	evil   = pkl.New(4).Call("os", "system", "id").Stop().Bytes()
	benign = pkl.New(4).EmptyDict().Str("a").Int(1).SetItem().Stop().Bytes()
)

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func TestZip(t *testing.T) {
	ze := func(name string, data []byte) testutil.ZipEntry { return testutil.ZipEntry{Name: name, Data: data} }
	scantest.Run(t, []scantest.Case{
		{Name: "BundleWithBenignMembers", Data: testutil.Zip(t, ze("model/weights.pkl", benign), ze("README.md", []byte("# model"))), Verdict: report.Clean, Format: "zip"},
		{Name: "PickleInBundle", Data: testutil.Zip(t, ze("model/weights.pkl", evil)), Verdict: report.Malicious, InMsg: "model/weights.pkl@"},
		{Name: "DeflatedMember", Data: testutil.Zip(t, testutil.ZipEntry{Name: "w.pkl", Data: evil, Deflate: true}), Verdict: report.Malicious},
		{Name: "DotDotSlip", Data: testutil.Zip(t, ze("../../etc/cron.d/x", []byte("* * * * * root id"))), Verdict: report.Malicious, Rules: []string{"archive-slip"}},
		{Name: "AbsolutePath", Data: testutil.Zip(t, ze("/etc/passwd", []byte("x"))), Verdict: report.Malicious, Rules: []string{"archive-slip"}},
		{Name: "BackslashSlip", Data: testutil.Zip(t, ze(`..\..\x.dll`, []byte("x"))), Verdict: report.Malicious, Rules: []string{"archive-slip"}},
		{Name: "InnerDotDotThatStaysInside", Data: testutil.Zip(t, ze("a/b/../c.txt", []byte("x"))), Verdict: report.Clean},
		{Name: "SymlinkOut", Data: testutil.Zip(t, testutil.ZipEntry{Name: "model/link", Data: []byte("../../../home/user/.ssh/id_rsa"), Mode: 0o120777}), Verdict: report.Malicious, Rules: []string{"archive-slip"}},
		{Name: "SymlinkInside", Data: testutil.Zip(t, testutil.ZipEntry{Name: "model/link", Data: []byte("weights.bin"), Mode: 0o120777}), Verdict: report.Clean},
		{Name: "DuplicateNames", Data: testutil.Zip(t, ze("w.pkl", benign), ze("w.pkl", evil)), Verdict: report.Malicious, Rules: []string{"zip-duplicate-member"}},
		{Name: "ZipInZip", Data: testutil.Zip(t, ze("inner.zip", testutil.Zip(t, ze("w.pkl", evil)))), Verdict: report.Malicious, InMsg: "inner.zip>w.pkl@"},
		{Name: "NoCentralDirectory", Data: []byte("PK\x03\x04 this is not really a zip"), Verdict: report.Invalid},
	})
}

func TestTar(t *testing.T) {
	te := func(name string, data []byte) testutil.TarEntry { return testutil.TarEntry{Name: name, Data: data} }
	tarball := testutil.Tar(t, te("code/inference.py", []byte("import torch\n")), te("model.pt", testutil.TorchZip(t, "model", evil, 0, 0)))
	scantest.Run(t, []scantest.Case{
		{Name: "SageMakerStyleBundle", File: "model.tar", Data: testutil.Tar(t, te("code/inference.py", []byte("import torch\n")), te("model.pkl", benign)), Verdict: report.Clean, Format: "tar"},
		{Name: "TorchZipInTar", Data: tarball, Verdict: report.Malicious, InMsg: "model.pt>model/data.pkl@"},
		{Name: "TarGz", File: "model.tar.gz", Data: gz(tarball), Verdict: report.Malicious, InMsg: "[gzip]>model.pt>model/data.pkl@"},
		{Name: "DotDot", Data: testutil.Tar(t, te("../evil.sh", []byte("x"))), Verdict: report.Malicious, Rules: []string{"archive-slip"}},
		{Name: "SymlinkAbsolute", Data: testutil.Tar(t, testutil.TarEntry{Name: "x", Type: tar.TypeSymlink, Linkname: "/etc/shadow"}), Verdict: report.Malicious, Rules: []string{"archive-slip"}},
		{Name: "HardlinkOut", Data: testutil.Tar(t, testutil.TarEntry{Name: "x", Type: tar.TypeLink, Linkname: "../../root/.bashrc"}), Verdict: report.Malicious, Rules: []string{"archive-slip"}},
		{Name: "SymlinkInside", Data: testutil.Tar(t, te("a/w.pkl", benign), testutil.TarEntry{Name: "a/link", Type: tar.TypeSymlink, Linkname: "w.pkl"}), Verdict: report.Clean},
		{Name: "Truncated", Data: tarball[:700], Verdict: report.Invalid},
	})
}

func TestZipDamagedDirectory(t *testing.T) {
	z := testutil.Zip(t, testutil.ZipEntry{Name: "a.pkl", Data: benign}, testutil.ZipEntry{Name: "b.pkl", Data: benign})
	i := bytes.LastIndex(z, []byte("PK\x01\x02"))
	z[i+3] = 0x09 // break the second central-directory signature
	a := scantest.Bytes(t, "x.zip", z)
	if a.Verdict != report.Invalid || scantest.Has(a, "malformed") == nil {
		t.Fatalf("%s", scantest.Dump(a))
	}
}
