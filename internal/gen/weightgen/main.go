// Command weightgen writes the large inputs of scripts/bench-formats.sh:
// 100M-parameter float32 and bfloat16 safetensors models with and without
// a payload hidden in the low mantissa bits or, EvilModel style, in the
// low bytes of each element.
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
	params := flag.Int("params", 100_000_000, "parameters per model (models already in dir are kept)")
	flag.Parse()
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}
	const tensors = 25
	per := *params / tensors
	write := func(name string, ts []testutil.STensor) {
		p := filepath.Join(*dir, name)
		if err := os.WriteFile(p, testutil.SafetensorsModel(map[string]string{"format": "pt"}, ts...), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Println(p)
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(*dir, name))
		return err == nil
	}
	model := func(name string, half bool, edit func(i int, b []byte)) {
		if exists(name) {
			return
		}
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
		write(name, ts)
	}
	bf16 := func(name string, edit func(i int, b []byte)) {
		if exists(name) {
			return
		}
		var ts []testutil.STensor
		for i := 0; i < tensors; i++ {
			b := testutil.BF16(testutil.GaussF32(per, uint64(i+1)))
			if edit != nil {
				edit(i, b)
			}
			ts = append(ts, testutil.STensor{Name: fmt.Sprintf("model.layers.%d.weight", i), DType: "BF16", Shape: []int64{int64(per)}, Data: b})
		}
		write(name, ts)
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
	// EvilModel: an executable in the low 3 bytes of each float32, packed
	// big-endian as its code does; its "half substitution", a script in
	// the low 2 bytes; encrypted payloads in the low 3 bytes and in the low
	// byte of bfloat16.
	const mib = 1 << 20
	model("payload-elf-3byte-be.safetensors", false, func(i int, b []byte) {
		if i == 21 {
			testutil.HideBytes(b, 4, testutil.ELFPayload(kib64), 3, true, 1_111_111)
		}
	})
	model("payload-script-2byte.safetensors", false, func(i int, b []byte) {
		if i == 5 {
			testutil.HideBytes(b, 4, testutil.TextPayload(kib64), 2, false, 2_222_222)
		}
	})
	model("payload-random-3byte.safetensors", false, func(i int, b []byte) {
		if i == 12 {
			testutil.HideBytes(b, 4, testutil.RandomPayload(mib), 3, false, 333_333)
		}
	})
	bf16("clean-bf16.safetensors", nil)
	bf16("payload-random-lowbyte-bf16.safetensors", func(i int, b []byte) {
		if i == 7 {
			testutil.HideBytes(b, 2, testutil.RandomPayload(mib), 1, false, 444_444)
		}
	})
}
