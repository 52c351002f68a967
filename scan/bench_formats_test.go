package scan_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

// sparse writes head at the start of a file of size bytes whose rest is a
// hole: a multi-gigabyte model that costs nothing on disk.
func sparse(b *testing.B, name string, head []byte, size int64) string {
	p := filepath.Join(b.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Write(head); err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return p
}

// bigSafetensorsHeader declares 291 tensors (a 7B-style layout) that fill
// size bytes of F16 data.
func bigSafetensorsHeader(size int64) []byte {
	const n = 291
	var parts []string
	var off int64
	per := (size - 64<<10) / n / 2 * 2
	for i := 0; i < n; i++ {
		parts = append(parts, fmt.Sprintf(`"model.layers.%d.weight":{"dtype":"F16","shape":[%d],"data_offsets":[%d,%d]}`, i, per/2, off, off+per))
		off += per
	}
	h := "{" + `"__metadata__":{"format":"pt"},` + strings.Join(parts, ",") + "}"
	for (len(h)+8)%8 != 0 {
		h += " "
	}
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(len(h)))
	return append(b, h...)
}

// BenchmarkHeaderOnly measures a full engine scan (open, sniff, parse,
// report) of 4 GiB model files whose data is never read.
func BenchmarkHeaderOnly(b *testing.B) {
	const size = 4 << 30
	st := bigSafetensorsHeader(size)
	declared := int64(291) * ((size - 64<<10) / 291 / 2 * 2)
	files := map[string]string{"safetensors": sparse(b, "big.safetensors", st, int64(len(st))+declared)}
	// GGUF: 2^31 F16 elements = 4 GiB of data after the header.
	gh := testutil.GGUF([]testutil.GGUFKV{{Key: "general.architecture", Value: "llama"}, {Key: "tokenizer.chat_template", Value: "{% for m in messages %}{{ m['content'] }}{% endfor %}"}}, []testutil.GGUFTensor{{Name: "w", Dims: []uint64{1 << 31}, Type: 1}}, nil)
	files["gguf"] = sparse(b, "big.gguf", gh, int64(len(gh))+4<<30)
	// ONNX: a graph whose initializer holds 4 GiB... protobuf caps at 2 GiB,
	// so a 1.9 GiB raw_data initializer.
	raw := int64(1900 << 20)
	t := testutil.PB(nil).Varint(1, uint64(raw/4)).Varint(2, 1).String(8, "w")
	t = append(t, 0x4a) // field 9 (raw_data), bytes
	t = binary.AppendUvarint(t, uint64(raw))
	g := testutil.PB(nil).Msg(1, testutil.ONNXNode("Relu", "")).String(2, "g")
	g = append(g, 0x2a) // field 5 (initializer)
	g = binary.AppendUvarint(g, uint64(len(t))+uint64(raw))
	g = append(g, t...)
	m := testutil.PB(nil).Varint(1, 9).String(2, "pytorch")
	m = append(m, 0x3a) // field 7 (graph)
	m = binary.AppendUvarint(m, uint64(len(g))+uint64(raw))
	m = append(m, g...)
	files["onnx"] = sparse(b, "big.onnx", m, int64(len(m))+raw)
	s := scan.New(scan.Options{})
	for _, name := range []string{"safetensors", "gguf", "onnx"} {
		p := files[name]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				a := s.ScanFile(context.Background(), p, filepath.Base(p))
				if a.Verdict != report.Clean {
					b.Fatalf("%s: %s %+v", name, a.Verdict, a.Findings)
				}
			}
			st, _ := os.Stat(p)
			b.ReportMetric(float64(st.Size())/(1<<30), "GiB/file")
		})
	}
}
