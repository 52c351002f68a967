package compress_test

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"math/rand"
	"os"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/internal/testutil/scantest"
	"github.com/aigis-dev/aigis/report"
)

var (
	evil   = pkl.New(4).Call("posix", "system", "id").Stop().Bytes()
	benign = pkl.New(4).EmptyDict().Str("a").Int(1).SetItem().Stop().Bytes()
)

func enc(t testing.TB, codec string, b []byte) []byte {
	var out bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	var err error
	switch codec {
	case "gzip":
		w = gzip.NewWriter(&out)
	case "zlib":
		w = zlib.NewWriter(&out)
	case "xz":
		w, err = xz.NewWriter(&out)
	case "lzma":
		w, err = lzma.NewWriter(&out)
	case "zstd":
		w, err = zstd.NewWriter(&out)
	case "lz4":
		w = lz4.NewWriter(&out)
	case "zf": // joblib < 0.10
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		out.WriteString(fmt.Sprintf("ZF%-19s", fmt.Sprintf("0x%x", len(b))))
		out.Write(z.Bytes())
		return out.Bytes()
	}
	if err != nil {
		panic(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		panic(err)
	}
	return out.Bytes()
}

func TestCodecs(t *testing.T) {
	var cases []scantest.Case
	for _, c := range []string{"gzip", "zlib", "xz", "lzma", "zstd", "lz4", "zf"} {
		cases = append(cases,
			scantest.Case{Name: c + "/Evil", Data: enc(t, c, evil), Verdict: report.Malicious, Rules: []string{"pickle-process-exec"}},
			scantest.Case{Name: c + "/Benign", Data: enc(t, c, benign), Verdict: report.Clean},
		)
	}
	for _, f := range []string{"evil", "benign"} {
		data, err := os.ReadFile("testdata/" + f + ".pkl.bz2")
		if err != nil {
			t.Fatal(err)
		}
		v := report.Clean
		if f == "evil" {
			v = report.Malicious
		}
		cases = append(cases, scantest.Case{Name: "bzip2/" + f, Data: data, Verdict: v})
	}
	g := enc(t, "gzip", evil)
	cases = append(cases,
		scantest.Case{Name: "TruncatedGzip", Data: g[:len(g)-12], Verdict: report.Malicious, Rules: []string{"truncated"}},
		scantest.Case{Name: "DoubleWrapped", Data: enc(t, "xz", enc(t, "gzip", evil)), Verdict: report.Malicious, InMsg: "[xz]>[gzip]@"},
		scantest.Case{Name: "TextStartingLikeZlib", File: "notes.txt", Data: []byte("x^2 + y^2 = z^2\n"), Verdict: report.Clean, Format: "other"},
	)
	scantest.Run(t, cases)
}

// TestDecompressionBomb pins the ratio limit: a small xz stream that
// expands to hundreds of megabytes of valid opcodes must stop,
// inconclusive, instead of being parsed to the end.
func TestDecompressionBomb(t *testing.T) {
	data, err := os.ReadFile("testdata/bomb.pkl.xz")
	if err != nil {
		t.Fatal(err)
	}
	a := scantest.Bytes(t, "bomb.pkl.xz", data)
	if a.Verdict != report.Inconclusive || scantest.Has(a, "limit-reached") == nil {
		t.Fatalf("bomb not stopped by the ratio limit%s", scantest.Dump(a))
	}
}

func TestCorruptStreamOfUnknownContentIsNotClean(t *testing.T) {
	text := bytes.Repeat([]byte("just some text, not a model\n"), 2000)
	g := enc(t, "gzip", text)
	g[len(g)/2] ^= 0xff // corrupt the deflate data
	scantest.Run(t, []scantest.Case{
		{Name: "CorruptGzipOfText", File: "notes.txt.gz", Data: g, Verdict: report.Invalid},
		{Name: "IntactGzipOfText", File: "notes.txt.gz", Data: enc(t, "gzip", text), Verdict: report.Clean, Format: "gzip"},
	})
}

// TestLZMAIncompressibleHead: joblib's .lzma of a big float array
// compresses so little that the decoder yields nothing within the sniffed
// head; it must still be recognised (and random data behind an LZMA-like
// header must not be).
func TestLZMAIncompressibleHead(t *testing.T) {
	rnd := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(rnd)
	p := pkl.New(4).BinBytes(rnd).Pop().Call("posix", "system", "id").Stop().Bytes()
	junk := append([]byte{0x5d, 0, 0, 0x10, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}, rnd[:8<<10]...)
	scantest.Run(t, []scantest.Case{
		{Name: "Recognised", Data: enc(t, "lzma", p), Verdict: report.Malicious, Rules: []string{"pickle-process-exec"}},
		{Name: "RandomBehindHeader", File: "x.dat", Data: junk, Verdict: report.Clean, Format: "other"},
	})
}
