package archive_test

import (
	"hash/crc32"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

// torchWith builds a torch zip whose data.pkl is m (Name and Data default
// to archive/data.pkl and a payload).
func torchWith(m testutil.RawMember) []byte {
	if m.Name == "" {
		m.Name = "archive/data.pkl"
	}
	if m.Data == nil {
		m.Data = evil
	}
	return testutil.RawZip(nil, m, testutil.RawMember{Name: "archive/version", Data: []byte("3\n")})
}

// ciphertext stands for encrypted bytes: nothing recognises them.
var ciphertext = []byte("\x9c\x1f\xe2\x07\x5a\x33\xc8\x91\x0e\xd4\x6b\x2a\xf0\x17\x88\x4d\x39\xa6\x5e\xc1\x02\x7b\xbd\x64")

// TestZipReadsWhatLoadersRead pins, one header oddity at a time, that
// aigis analyses the bytes torch.load, numpy.load and zipfile read and
// reports where readers disagree. The loaders' own behaviour on the same
// archives is recorded by internal/gen/loaderprobe/zipprobe.py and
// tabulated in docs/formats.md.
func TestZipReadsWhatLoadersRead(t *testing.T) {
	badCRC := crc32.ChecksumIEEE(evil) ^ 1
	objNPY := testutil.NPY("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evil)
	scantest.Run(t, []scantest.Case{
		// Encryption flags: torch, numpy and zipfile refuse a member whose
		// central directory entry is flagged; scanners that skip such
		// members miss plaintext behind the flag.
		{Name: "CentralEncryptionFlagOnPlaintext", Data: torchWith(testutil.RawMember{CentralFlags: 1, LocalFlags: 1}),
			Verdict: report.Malicious, Rules: []string{"zip-encryption-flag-evasion", "pickle-process-exec"}},
		{Name: "CentralEncryptionFlagOnDeflatedPlaintext", Data: torchWith(testutil.RawMember{CentralFlags: 1, LocalFlags: 1, Method: 8}),
			Verdict: report.Malicious, Rules: []string{"zip-encryption-flag-evasion", "pickle-process-exec"}},
		{Name: "StrongEncryptionFlagOnPlaintext", Data: torchWith(testutil.RawMember{CentralFlags: 0x40}),
			Verdict: report.Malicious, Rules: []string{"zip-encryption-flag-evasion", "pickle-process-exec"}},
		{Name: "LocalOnlyEncryptionFlag", Data: torchWith(testutil.RawMember{LocalFlags: 1}),
			Verdict: report.Malicious, Rules: []string{"zip-encryption-flag-evasion", "pickle-process-exec"}},
		{Name: "EncryptedFlagOnBenignPickle", File: "a.zip", Data: testutil.RawZip(nil, testutil.RawMember{Name: "x.pkl", Data: benign, CentralFlags: 1}),
			Verdict: report.Suspicious, Rules: []string{"zip-encryption-flag-evasion"}},
		{Name: "EncryptedFlagOnNpyInNpz", File: "a.npz", Data: testutil.RawZip(nil, testutil.RawMember{Name: "a.npy", Data: objNPY, CentralFlags: 1, LocalFlags: 1}),
			Verdict: report.Malicious, Rules: []string{"zip-encryption-flag-evasion", "pickle-process-exec"}},
		{Name: "GenuinelyEncryptedStored", File: "a.zip", Data: testutil.RawZip(nil, testutil.RawMember{Name: "x.pkl", Data: ciphertext, CentralFlags: 1, LocalFlags: 1}),
			Verdict: report.Inconclusive, Rules: []string{"archive-encrypted"}},
		{Name: "GenuinelyEncryptedDeflated", File: "a.zip", Data: testutil.RawZip(nil, testutil.RawMember{Name: "x.pkl", Data: []byte("x"), Raw: ciphertext, Method: 8, CentralFlags: 1, LocalFlags: 1}),
			Verdict: report.Inconclusive, Rules: []string{"archive-encrypted"}},
		{Name: "GenuinelyEncryptedDataPkl", Data: torchWith(testutil.RawMember{Data: ciphertext, CentralFlags: 1, LocalFlags: 1}),
			Verdict: report.Inconclusive, Rules: []string{"archive-encrypted"}},
		{Name: "AESMethod", File: "a.zip", Data: testutil.RawZip(nil, testutil.RawMember{Name: "x.pkl", Data: ciphertext, Method: 99, CentralFlags: 1, LocalFlags: 1}),
			Verdict: report.Inconclusive, Rules: []string{"archive-encrypted"}},
		{Name: "EncryptedKerasConfig", File: "m.keras", Data: testutil.RawZip(nil,
			testutil.RawMember{Name: "config.json", Data: []byte(`{"module": "os", "class_name": "function", "config": "system", "registered_name": null}`), CentralFlags: 1},
			testutil.RawMember{Name: "metadata.json", Data: []byte(`{"keras_version": "3.6.0"}`)}),
			Verdict: report.Malicious, Rules: []string{"zip-encryption-flag-evasion", "keras-dangerous-module"}},

		// Other flags: patch data is refused by every loader; masked
		// local headers make torch refuse the archive; neither is written
		// by any model writer.
		{Name: "PatchDataFlag", Data: torchWith(testutil.RawMember{CentralFlags: 0x20}),
			Verdict: report.Malicious, Rules: []string{"zip-anomaly", "pickle-process-exec"}, InMsg: "patch data"},
		{Name: "MaskedLocalHeadersFlag", Data: torchWith(testutil.RawMember{CentralFlags: 0x2000}),
			Verdict: report.Malicious, Rules: []string{"zip-anomaly", "pickle-process-exec"}, InMsg: "masked local headers"},
		{Name: "DataDescriptorFlagWithoutDescriptor", Data: torchWith(testutil.RawMember{Data: benign, CentralFlags: 8, LocalFlags: 8}),
			Verdict: report.Clean},
		{Name: "UTF8AndReservedFlags", Data: torchWith(testutil.RawMember{Data: benign, CentralFlags: 0xc800, LocalFlags: 0xc800}),
			Verdict: report.Clean},

		// Methods: loaders decode only what the central directory says.
		{Name: "LocalMethodDisagrees", Data: torchWith(testutil.RawMember{LocalMethod: testutil.Ptr[uint16](8)}),
			Verdict: report.Malicious, Rules: []string{"zip-header-mismatch", "pickle-process-exec"}},
		{Name: "DeflatedLocalSaysStored", Data: torchWith(testutil.RawMember{Method: 8, LocalMethod: testutil.Ptr[uint16](0)}),
			Verdict: report.Malicious, Rules: []string{"zip-header-mismatch", "pickle-process-exec"}},
		{Name: "UnknownMethod", Data: torchWith(testutil.RawMember{Method: 99, LocalMethod: testutil.Ptr[uint16](99)}),
			Verdict: report.Unsupported, Rules: []string{"archive-unsupported-member"}},

		// CRC-32 and sizes: torch ignores CRCs, zipfile checks them.
		{Name: "WrongCRCStored", Data: torchWith(testutil.RawMember{CRC: &badCRC}),
			Verdict: report.Malicious, Rules: []string{"zip-crc-mismatch", "pickle-process-exec"}},
		{Name: "WrongCRCDeflated", File: "a.zip", Data: testutil.RawZip(nil, testutil.RawMember{Name: "x.pkl", Data: benign, Method: 8, CRC: testutil.Ptr[uint32](7)}),
			Verdict: report.Suspicious, Rules: []string{"zip-crc-mismatch"}},
		{Name: "LocalCRCDisagrees", Data: torchWith(testutil.RawMember{LocalCRC: &badCRC}),
			Verdict: report.Malicious, Rules: []string{"zip-header-mismatch"}},
		{Name: "StoredSizesDisagree", Data: torchWith(testutil.RawMember{Data: benign, Size: testutil.Ptr(uint32(len(benign) + 1))}),
			Verdict: report.Suspicious, Rules: []string{"zip-anomaly"}, InMsg: "torch refuses the archive"},
		{Name: "DeflatedCompressedSizeTooLarge", Data: torchWith(testutil.RawMember{Data: benign, Method: 8, CompressedSize: testutil.Ptr[uint32](40), LocalSizes: &[2]uint32{40, 10}}),
			Verdict: report.Suspicious, Rules: []string{"zip-anomaly"}, InMsg: "overlapped"},

		// Names and extra fields.
		{Name: "LocalNameDisagrees", Data: torchWith(testutil.RawMember{LocalName: testutil.Ptr("archive/data.pkX")}),
			Verdict: report.Malicious, Rules: []string{"zip-name-mismatch", "pickle-process-exec"}},
		{Name: "LocalExtraField", Data: torchWith(testutil.RawMember{LocalExtra: append([]byte{0xfe, 0xca, 60, 0}, make([]byte, 60)...)}),
			Verdict: report.Malicious, Rules: []string{"pickle-process-exec"}},
		{Name: "Zip64ExtraInCentral", Data: torchWith(testutil.RawMember{Data: benign, Size: testutil.Ptr[uint32](0xffffffff), CompressedSize: testutil.Ptr[uint32](0xffffffff),
			CentralExtra: zip64Extra(uint64(len(benign)))}), Verdict: report.Clean},
		{Name: "DuplicateDataPkl", Data: testutil.RawZip(nil, testutil.RawMember{Name: "archive/data.pkl", Data: benign},
			testutil.RawMember{Name: "archive/data.pkl", Data: evil}, testutil.RawMember{Name: "archive/version", Data: []byte("3\n")}),
			Verdict: report.Malicious, Rules: []string{"zip-duplicate-member", "pickle-process-exec"}},
		{Name: "PrependedData", Data: testutil.RawZip([]byte("#!/bin/sh\n"), testutil.RawMember{Name: "archive/data.pkl", Data: benign}),
			Verdict: report.Suspicious, Rules: []string{"zip-anomaly"}},
		{Name: "WellFormed", Data: torchWith(testutil.RawMember{Data: benign}), Verdict: report.Clean},
		{Name: "WellFormedFromGoWriter", Data: testutil.TorchZip(t, "m", pkl.New(2).EmptyDict().Stop().Bytes(), 0, 0,
			testutil.ZipEntry{Name: "m/extra/notes.txt", Data: []byte("hello"), Deflate: true}), Verdict: report.Clean},
	})
}

func zip64Extra(size uint64) []byte {
	b := []byte{1, 0, 16, 0}
	for _, v := range []uint64{size, size} {
		for i := 0; i < 8; i++ {
			b = append(b, byte(v>>(8*i)))
		}
	}
	return b
}
