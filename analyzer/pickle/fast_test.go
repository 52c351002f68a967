package pickle_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/pickle"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/testutil/pkl"
	"github.com/aigis-dev/aigis/scan"
)

var diffEngine = scan.New(scan.Options{Workers: 1})

// bothPaths scans data with the VM's fast path on and off, from memory
// and through the buffered reader, and fails unless all four reports are
// identical.
func bothPaths(t testing.TB, name string, data []byte) {
	t.Helper()
	var got [4]string
	for i := range got {
		restore := pickle.SetFastPath(i%2 == 0)
		var ra interface {
			ReadAt([]byte, int64) (int, error)
		} = analyzer.Bytes(data)
		if i >= 2 {
			ra = readerAtOnly{data}
		}
		a := diffEngine.ScanReaderAt(context.Background(), ra, int64(len(data)), name)
		restore()
		j, _ := json.Marshal(a)
		got[i] = string(j)
	}
	if got[0] != got[1] || got[2] != got[3] {
		t.Fatalf("%s: fast and slow paths disagree\nfast: %s\nslow: %s\nfast (stream): %s\nslow (stream): %s", name, got[0], got[1], got[2], got[3])
	}
}

// readerAtOnly hides analyzer.Bytes so the VM reads through its buffer.
type readerAtOnly struct{ b []byte }

func (r readerAtOnly) ReadAt(p []byte, off int64) (int, error) {
	return analyzer.Bytes(r.b).ReadAt(p, off)
}

// framed splits body into FRAMEs of n bytes, so opcodes cross frame ends.
func framed(proto int, body []byte, n int) []byte {
	out := []byte{0x80, byte(proto)}
	for len(body) > 0 {
		k := min(n, len(body))
		out = append(out, 0x95)
		out = binary.LittleEndian.AppendUint64(out, uint64(k))
		out = append(out, body[:k]...)
		body = body[k:]
	}
	return out
}

// fastCases exercise every opcode of the fast path and each way it hands
// an opcode back to exec.
func fastCases() map[string][]byte {
	nested := base64.StdEncoding.EncodeToString(pkl.New(2).Call("os", "system", "id").Stop().Bytes())
	data := pkl.New(0).EmptyDict().Memoize().Mark()
	for i := 0; i < 300; i++ {
		data.Str("k").Memoize().EmptyList().Memoize().Mark().Int(i).Int(i*70000).Raw('M', 1, 2).
			Raw('G', 0, 0, 0, 0, 0, 0, 0, 0).None().Raw(0x88).Raw(0x89).Get(0).Get(1).Appends().
			EmptyTuple().Raw(0x8f).Mark().Raw('K', 1).Raw(0x90).Raw(0x85).Raw('K', 2).Raw(0x86).Raw('K', 3).Raw(0x87).
			SetItems().Mark()
	}
	body := data.SetItems().Raw('K', 9).Raw('a').Stop().Bytes()[2:] // APPEND to a dict is a loader error
	cases := map[string][]byte{
		"plain":         pkl.New(4).Mark().Raw(0x8c, 1, 'a').Raw('X', 1, 0, 0, 0, 'b').Raw('l').Raw('q', 3).Raw('h', 3).Raw('r', 9, 0, 0, 0).Raw('j', 9, 0, 0, 0).Tuple2().Stop().Bytes(),
		"frames-1":      framed(4, body, 1),
		"frames-7":      framed(4, body, 7),
		"frames-64":     framed(4, body, 64),
		"frames-big":    framed(4, body, 1<<20),
		"no-frames":     append([]byte{0x80, 4}, body...),
		"missing-memo":  pkl.New(4).EmptyList().Raw('h', 5).Stop().Bytes(),
		"odd-setitems":  pkl.New(4).EmptyDict().Mark().Int(1).SetItems().Stop().Bytes(),
		"appends-mark":  pkl.New(4).Mark().Mark().Int(1).Appends().Stop().Bytes(),
		"underflow":     pkl.New(4).Mark().Raw(0x94).Raw(0x85).Raw('a').Stop().Bytes(),
		"bad-utf8":      pkl.New(4).Raw(0x8c, 2, 0xff, 0xfe).Stop().Bytes(),
		"surrogate":     pkl.New(4).Raw(0x8c, 3, 0xed, 0xa0, 0x80).Stop().Bytes(),
		"big-memo":      pkl.New(4).None().Raw('r', 0xff, 0xff, 0xff, 0x7f).Stop().Bytes(),
		"mutate-global": pkl.New(2).Global("os", "environ").Mark().Int(1).Appends().Raw('K', 1).Raw('a').Str("x").Int(2).SetItem().Stop().Bytes(),
		"latent":        pkl.New(4).Str(nested).Raw('X', byte(len(nested)), 0, 0, 0).Raw([]byte(nested)...).Tuple2().Stop().Bytes(),
		"truncated":     pkl.New(4).Mark().Raw('J', 1, 2).Bytes(),
		"append-under":  pkl.New(4).EmptyList().Mark().Int(1).Raw('a').Stop().Bytes(),
		"setitem-under": pkl.New(4).EmptyDict().Mark().Int(1).Int(2).Raw('s').Stop().Bytes(),
		"tuple-under":   pkl.New(4).Int(1).Mark().Int(2).Raw(0x86).Stop().Bytes(),
		"const-args":    pkl.New(2).Global("os", "system").Mark().Raw(0x88).Raw(0x89).None().Int(-5).Raw('M', 1, 2).Raw('J', 0xff, 0xff, 0xff, 0xff).Raw('G', 0x3f, 0xf0, 0, 0, 0, 0, 0, 0).Raw('t').Reduce().Stop().Bytes(),
		"marks-limit":   pkl.New(4).Raw(bytes.Repeat([]byte{'('}, 70000)...).Stop().Bytes(),
	}
	long := pkl.New(4).EmptyList().Mark()
	for i := 0; i < 70000; i++ { // past the periodic budget check
		long.Raw('K', byte(i))
	}
	cases["long"] = long.Appends().Stop().Bytes()
	return cases
}

func TestFastPathAgrees(t *testing.T) {
	for name, b := range fastCases() {
		t.Run(name, func(t *testing.T) { bothPaths(t, name+".pkl", b) })
	}
	files, _ := filepath.Glob("testdata/*.pkl")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bothPaths(t, filepath.Base(p), b)
	}
}

// TestFastPathAgreesCorpus compares both paths on every file of the
// shared corpus, through every container that carries pickles.
func TestFastPathAgreesCorpus(t *testing.T) {
	root := testutil.Shared(t, "corpus")
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		bothPaths(t, rel, b)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d corpus files agree", n)
}

// FuzzFastPath checks that arbitrary streams get the same report from
// the fast path as from exec alone.
func FuzzFastPath(f *testing.F) {
	for _, b := range fastCases() {
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		bothPaths(t, "x.pkl", b)
	})
}
