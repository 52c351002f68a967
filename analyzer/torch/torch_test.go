package torch_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

var evilPkl = pkl.New(2).Global("posix", "system").Str("id").Tuple1().Reduce().Stop().Bytes()

func legacyFile(pickles ...[]byte) []byte {
	var b bytes.Buffer
	for _, p := range pickles {
		b.Write(p)
	}
	return b.Bytes()
}

var (
	magicPkl = []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'}
	protoPkl = pkl.New(2).Int(1001).Stop().Bytes()
	infoPkl  = pkl.New(2).EmptyDict().Str("little_endian").Raw(0x88).SetItem().Stop().Bytes()
	keysPkl  = pkl.New(2).Mark().Str("0").Raw('l').Stop().Bytes()
)

func storage(numel int) []byte {
	b := make([]byte, 8+4*numel)
	binary.LittleEndian.PutUint64(b, uint64(numel))
	return b
}

func TestTorchZip(t *testing.T) {
	sd := testutil.TorchStateDict(3, 4)
	scantest.Run(t, []scantest.Case{
		{Name: "BenignStateDict", File: "model.pt", Data: testutil.TorchZip(t, "model", sd, 3, 4), Verdict: report.Clean, Format: "pytorch-zip"},
		{Name: "PayloadInDataPkl", File: "model.bin", Data: testutil.TorchZip(t, "archive", evilPkl, 0, 0), Verdict: report.Malicious, Format: "pytorch-zip",
			Rules: []string{"pickle-process-exec"}, InMsg: "archive/data.pkl@"},
		{Name: "ExtraUnreferencedPickle", Data: testutil.TorchZip(t, "m", sd, 3, 4, testutil.ZipEntry{Name: "m/extra.pkl", Data: evilPkl}),
			Verdict: report.Malicious, Rules: []string{"torch-extra-pickle", "pickle-process-exec"}},
		{Name: "PickleOutsideArchivePrefix", Data: testutil.TorchZip(t, "m", sd, 3, 4, testutil.ZipEntry{Name: "other/data.pkl", Data: pkl.New(2).EmptyDict().Stop().Bytes()}),
			Verdict: report.Suspicious, Rules: []string{"torch-extra-pickle"}},
		{Name: "MissingStorage", Data: testutil.TorchZip(t, "m", sd, 2, 4), Verdict: report.Invalid, Rules: []string{"torch-missing-member"}, InMsg: "m/data/2"},
		{Name: "DeflatedDataPkl", Data: testutil.Zip(t, testutil.ZipEntry{Name: "a/data.pkl", Data: evilPkl, Deflate: true}), Verdict: report.Malicious},
		{Name: "CorruptDataPkl", Data: testutil.TorchZip(t, "m", []byte("\x80\x02garbage"), 0, 0), Verdict: report.Invalid},
		{Name: "TorchScript", File: "scripted.pt", Data: testutil.Zip(t,
			testutil.ZipEntry{Name: "s/data.pkl", Data: pkl.New(2).Global("__torch__", "Net").EmptyTuple().NewObj().Stop().Bytes()},
			testutil.ZipEntry{Name: "s/constants.pkl", Data: pkl.New(2).EmptyTuple().Stop().Bytes()},
			testutil.ZipEntry{Name: "s/code/__torch__.py", Data: []byte("class Net(Module):\n  pass\n")},
			testutil.ZipEntry{Name: "s/code/__torch__.py.debug_pkl", Data: pkl.New(2).EmptyTuple().Stop().Bytes()},
		), Verdict: report.Clean, Format: "torchscript"},
		{Name: "TruncatedZip", Data: testutil.TorchZip(t, "m", sd, 3, 4)[:200], Verdict: report.Invalid, Format: "zip"},
	})
}

// TestTorchZipPrependedData pins a polyglot: bytes in front of the zip.
func TestTorchZipPrependedData(t *testing.T) {
	z := testutil.TorchZip(t, "m", testutil.TorchStateDict(1, 2), 1, 2)
	data := append([]byte("PK\x03\x04"+"junkjunkjunk"), z...)
	a := scantest.Bytes(t, "x.pt", data)
	if scantest.Has(a, "zip-anomaly") == nil || a.Verdict == report.Clean {
		t.Errorf("prepended data not reported%s", scantest.Dump(a))
	}
}

func TestTorchLegacy(t *testing.T) {
	sd := testutil.TorchStateDict(1, 2)
	scantest.Run(t, []scantest.Case{
		{Name: "Benign", Data: legacyFile(magicPkl, protoPkl, infoPkl, sd, keysPkl, storage(2)), Verdict: report.Clean, Format: "pytorch-legacy"},
		{Name: "PayloadInSysInfo", Data: legacyFile(magicPkl, protoPkl, evilPkl, sd, keysPkl, storage(2)), Verdict: report.Malicious, Rules: []string{"pickle-process-exec"}},
		{Name: "PayloadInStorageKeys", Data: legacyFile(magicPkl, protoPkl, infoPkl, sd, evilPkl), Verdict: report.Malicious},
		{Name: "PayloadInMagicPickle", Data: legacyFile(append(append([]byte{}, magicPkl[:14]...), 0x30, 'c', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n', 'N', 'R', '.')), Verdict: report.Malicious},
		{Name: "OnlyThreePickles", Data: legacyFile(magicPkl, protoPkl, infoPkl), Verdict: report.Invalid, Rules: []string{"torch-legacy-incomplete"}},
		{Name: "TruncatedObjectPickle", Data: legacyFile(magicPkl, protoPkl, infoPkl, sd[:len(sd)/2]), Verdict: report.Invalid},
	})
}

// With --weights, the raw storages after a legacy file's pickles are read.
func TestTorchLegacyWeights(t *testing.T) {
	sd := testutil.TorchStateDict(1, 4)
	st := storage(4)
	binary.LittleEndian.PutUint32(st[8+4:], 0x7f800000) // +Inf
	p := filepath.Join(t.TempDir(), "legacy.pt")
	if err := os.WriteFile(p, legacyFile(magicPkl, protoPkl, infoPkl, sd, keysPkl, st), 0o644); err != nil {
		t.Fatal(err)
	}
	a := scan.New(scan.Options{Weights: true}).ScanFile(context.Background(), p, "legacy.pt")
	if scantest.Has(a, "weights-nan-inf") == nil || a.Properties["weights.tensors"] != "1" {
		t.Errorf("legacy storages not read%s %v", scantest.Dump(a), a.Properties)
	}
}

// TestTorchLegacyProtocols: torch.save(..., pickle_protocol=p) writes the
// magic number after PROTO p (and a FRAME from protocol 4), or as protocol
// 1's text LONG; every one of them is the legacy format.
func TestTorchLegacyProtocols(t *testing.T) {
	magic := magicPkl[2 : len(magicPkl)-1] // LONG1 of the magic number
	frame := func(proto byte) []byte {
		b := []byte{0x80, proto, 0x95}
		b = binary.LittleEndian.AppendUint64(b, uint64(len(magic)+1))
		return append(append(b, magic...), '.')
	}
	sd := testutil.TorchStateDict(1, 2)
	cases := []scantest.Case{
		{Name: "Protocol1", Data: legacyFile([]byte("L119547037146038801333356L\n."), protoPkl, infoPkl, sd, keysPkl, storage(2)), Verdict: report.Clean, Format: "pytorch-legacy"},
		{Name: "Protocol3", Data: legacyFile(append([]byte{0x80, 0x03}, magicPkl[2:]...), protoPkl, infoPkl, sd, keysPkl, storage(2)), Verdict: report.Clean, Format: "pytorch-legacy"},
		{Name: "Protocol4Frame", Data: legacyFile(frame(4), protoPkl, infoPkl, sd, keysPkl, storage(2)), Verdict: report.Clean, Format: "pytorch-legacy"},
		{Name: "Protocol5PayloadInKeys", Data: legacyFile(frame(5), protoPkl, infoPkl, sd, evilPkl), Verdict: report.Malicious, Format: "pytorch-legacy"},
		// A pickle of another number is not the legacy format.
		{Name: "OtherNumber", Data: []byte("L119547037146038801333357L\n."), Verdict: report.Clean, Format: "pickle"},
	}
	scantest.Run(t, cases)
}

// TestTorchScriptConstants: a frozen TorchScript module keeps tensors in
// constants.pkl, whose storages live under constants/, not data/.
func TestTorchScriptConstants(t *testing.T) {
	pid := pkl.New(2).Mark().Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(1).Tuple().Raw('Q').Stop().Bytes()
	mk := func(dir string) []byte {
		return testutil.Zip(t,
			testutil.ZipEntry{Name: "s/data.pkl", Data: pkl.New(2).Global("__torch__", "Net").EmptyTuple().NewObj().Stop().Bytes()},
			testutil.ZipEntry{Name: "s/constants.pkl", Data: pid},
			testutil.ZipEntry{Name: "s/" + dir + "/0", Data: make([]byte, 4)},
			testutil.ZipEntry{Name: "s/code/__torch__.py", Data: []byte("class Net(Module):\n  pass\n")},
		)
	}
	scantest.Run(t, []scantest.Case{
		{Name: "ConstantsStorage", Data: mk("constants"), Verdict: report.Clean, Format: "torchscript"},
		{Name: "ConstantsStorageMissing", Data: mk("data"), Verdict: report.Invalid, Rules: []string{"torch-missing-member"}, InMsg: "s/constants/0"},
	})
}
