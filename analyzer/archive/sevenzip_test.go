package archive_test

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

// The fixtures were made with p7zip (7z a, with -m0=LZMA, PPMd, BZip2,
// Deflate, -p, -mhe=on and -snl) from torch-style zips whose data.pkl is
// a hand-written os.system pickle or a benign OrderedDict.
func TestSevenZip(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	scantest.Run(t, []scantest.Case{
		{Name: "WrappedTorchLZMA2", Data: read("evil.7z"), Verdict: report.Malicious, Format: "7z", InMsg: "evil.pt>archive/data.pkl@"},
		{Name: "WrappedTorchLZMA", Data: read("evil_lzma.7z"), Verdict: report.Malicious},
		{Name: "WrappedTorchPPMd", Data: read("evil_ppmd.7z"), Verdict: report.Malicious},
		{Name: "WrappedTorchBzip2", Data: read("evil_bzip2.7z"), Verdict: report.Malicious},
		{Name: "Benign", Data: read("benign.7z"), Verdict: report.Clean},
		{Name: "BenignDeflate", Data: read("benign_deflate.7z"), Verdict: report.Clean},
		{Name: "EncryptedData", Data: read("encrypted_data.7z"), Verdict: report.Inconclusive, Rules: []string{"archive-encrypted"}},
		{Name: "EncryptedHeader", Data: read("encrypted_header.7z"), Verdict: report.Inconclusive, Rules: []string{"archive-encrypted"}},
		{Name: "SymlinkOut", Data: read("symlink_out.7z"), Verdict: report.Malicious, Rules: []string{"archive-slip"}},
		{Name: "Truncated", Data: read("evil.7z")[:100], Verdict: report.Invalid},
		{Name: "HugeFileCount", Data: sevenZipWithHeader([]byte{0x01, 0x05, 0xf0, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00}), Verdict: report.Invalid, InMsg: "claims 4294967295 files"},
		{Name: "HugeHeaderSize", Data: sevenZipHeaderSize(1 << 40), Verdict: report.Invalid},
	})
}

// sevenZipWithHeader builds a 7z archive with no streams and the given
// (plain) header, with correct checksums.
func sevenZipWithHeader(h []byte) []byte {
	b := make([]byte, 32)
	copy(b, []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c, 0, 4})
	binary.LittleEndian.PutUint64(b[12:], 0)
	binary.LittleEndian.PutUint64(b[20:], uint64(len(h)))
	binary.LittleEndian.PutUint32(b[28:], crc32.ChecksumIEEE(h))
	binary.LittleEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[12:32]))
	return append(b, h...)
}

func sevenZipHeaderSize(n uint64) []byte {
	b := sevenZipWithHeader([]byte{0x01, 0x00})
	binary.LittleEndian.PutUint64(b[20:], n)
	binary.LittleEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[12:32]))
	return b
}
