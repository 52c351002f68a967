// Command weightgen writes the large inputs of scripts/bench-formats.sh:
// 100M-parameter float32 safetensors models with and without a 64 KiB
// payload hidden in the low mantissa bits, and a sparse 4 GiB model for
// header-only timing.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/aigis-dev/aigis/internal/testutil"
)

func main() {
	dir := flag.String("dir", "/tmp/aigis-bench-formats", "output directory")
	params := flag.Int("params", 100_000_000, "parameters per model")
	flag.Parse()
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}
	const tensors = 25
	per := *params / tensors
	model := func(name string, half bool, edit func(i int, b []byte)) {
		var ts []testutil.STensor
		for i := 0; i < tensors; i++ {
			b := testutil.GaussF32(per, uint64(i+1))
			if half {
				testutil.HalfOrigin(b)
			}
			if edit != nil {
				edit(i, b)
			}
			ts = append(ts, testutil.STensor{Name: fmt.Sprintf("model.layers.%d.weight", i), Shape: []int64{int64(per)}, Data: b})
		}
		p := filepath.Join(*dir, name)
		if err := os.WriteFile(p, testutil.SafetensorsModel(map[string]string{"format": "pt"}, ts...), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Println(p)
	}
	const kib64 = 64 << 10
	model("clean-fp32.safetensors", false, nil)
	model("payload-elf-8bit.safetensors", false, func(i int, b []byte) {
		if i == 17 {
			testutil.HideLSB(b, testutil.ELFPayload(kib64), 8, 1_234_567)
		}
	})
	model("payload-script-1bit.safetensors", false, func(i int, b []byte) {
		if i == 9 {
			testutil.HideLSB(b, testutil.TextPayload(kib64), 1, 333_333)
		}
	})
	model("clean-bf16origin.safetensors", true, nil)
	model("payload-random-8bit-bf16origin.safetensors", true, func(i int, b []byte) {
		if i == 3 {
			testutil.HideLSB(b, testutil.RandomPayload(kib64), 8, 2_000_000)
		}
	})
	model("payload-random-8bit-fp32.safetensors", false, func(i int, b []byte) {
		if i == 3 {
			testutil.HideLSB(b, testutil.RandomPayload(kib64), 8, 2_000_000)
		}
	})
}
