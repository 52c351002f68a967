// Command benchgen writes large, realistic scan inputs for
// scripts/bench-scan.sh: a multi-gigabyte torch zip checkpoint with many
// tensors, a legacy torch checkpoint, an opcode-heavy pickle shaped like
// CPython's output for big lists and dicts, and a directory of small
// checkpoints. Everything is built byte by byte, so no Python or torch is
// needed to reproduce the benchmarks.
package main

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"

	"github.com/aigis-dev/aigis/internal/testutil/pkl"
)

func main() {
	dir := flag.String("dir", "/tmp/aigis-bench", "output directory")
	zipGiB := flag.Float64("zip-gib", 2, "size of the torch zip checkpoint in GiB")
	legacyGiB := flag.Float64("legacy-gib", 1, "size of the legacy torch checkpoint in GiB")
	pickleMB := flag.Int("pickle-mb", 150, "approximate size of the opcode-heavy pickle in MB")
	small := flag.Int("small", 1000, "number of small checkpoints")
	flag.Parse()
	must(os.MkdirAll(*dir, 0o755))
	must(torchZip(filepath.Join(*dir, "big.pt"), int64(*zipGiB*(1<<30)), 512))
	must(legacy(filepath.Join(*dir, "big_legacy.pt"), int64(*legacyGiB*(1<<30)), 256))
	must(opcodeHeavy(filepath.Join(*dir, "opcodes.pkl"), int64(*pickleMB)*1_000_000))
	sd := filepath.Join(*dir, "small")
	must(os.MkdirAll(sd, 0o755))
	for i := 0; i < *small; i++ {
		must(torchZip(filepath.Join(sd, fmt.Sprintf("ckpt_%04d.pt", i)), 24<<10, 6))
	}
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// stateDict writes the data.pkl of a state_dict with n float tensors of
// numel elements each, the way torch.save does (protocol 2, persistent ids).
func stateDict(n int, numel int) []byte {
	p := pkl.New(2).Global("collections", "OrderedDict").Put(0).EmptyTuple().Reduce().Put(1).Mark()
	memo := uint32(2)
	var rebuild, storage uint32
	for i := 0; i < n; i++ {
		p.Str(fmt.Sprintf("layers.%d.weight", i))
		if i == 0 {
			p.Global("torch._utils", "_rebuild_tensor_v2").Put(memo)
			rebuild = memo
			memo++
		} else {
			p.Get(rebuild)
		}
		p.Mark().Mark().Str("storage")
		if i == 0 {
			p.Global("torch", "FloatStorage").Put(memo)
			storage = memo
			memo++
		} else {
			p.Get(storage)
		}
		p.Str(strconv.Itoa(i)).Str("cpu").Int(numel).Tuple().Raw('Q').
			Int(0).Int(numel).Tuple1().Int(1).Tuple1().Raw(0x89).
			Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce()
		if i%1000 == 999 {
			p.SetItems().Mark()
		}
	}
	return p.SetItems().Stop().Bytes()
}

func torchZip(path string, size int64, tensors int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	per := size / int64(tensors)
	numel := int(per / 4)
	prefix := "archive/"
	store := func(name string, data []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + name, Method: zip.Store})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	if err := store("data.pkl", stateDict(tensors, numel)); err != nil {
		return err
	}
	if err := store("byteorder", []byte("little")); err != nil {
		return err
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	for i := 0; i < tensors; i++ {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + "data/" + strconv.Itoa(i), Method: zip.Store})
		if err != nil {
			return err
		}
		for left := int64(numel) * 4; left > 0; {
			n := int64(len(chunk))
			if n > left {
				n = left
			}
			if _, err := w.Write(chunk[:n]); err != nil {
				return err
			}
			left -= n
		}
	}
	if err := store("version", []byte("3\n")); err != nil {
		return err
	}
	if err := store(".data/serialization_id", []byte("1234567890")); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// legacy writes torch's pre-1.6 format: five pickles then raw storages.
func legacy(path string, size int64, tensors int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	magic := []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'}
	w.Write(magic)
	w.Write(pkl.New(2).Int(1001).Stop().Bytes())
	w.Write(pkl.New(2).EmptyDict().Str("protocol_version").Int(1001).SetItem().Str("little_endian").Raw(0x88).SetItem().Stop().Bytes())
	numel := int(size / int64(tensors) / 4)
	w.Write(stateDict(tensors, numel))
	keys := pkl.New(2).Mark()
	for i := 0; i < tensors; i++ {
		keys.Str(strconv.Itoa(i))
	}
	w.Write(keys.Raw('l').Stop().Bytes())
	chunk := make([]byte, 1<<20)
	for i := 0; i < tensors; i++ {
		binary.Write(w, binary.LittleEndian, int64(numel))
		for left := int64(numel) * 4; left > 0; {
			n := int64(len(chunk))
			if n > left {
				n = left
			}
			w.Write(chunk[:n])
			left -= n
		}
	}
	return w.Flush()
}

// opcodeHeavy writes a protocol-4 pickle of big lists and dicts, framed
// and memoized the way CPython's pickler writes them: the worst case for
// a scanner, since every byte is an opcode.
func opcodeHeavy(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var written int64
	frame := pkl.New(0)
	flush := func(final bool) {
		b := frame.Bytes()
		if len(b) >= 64<<10 || final {
			var hdr [9]byte
			hdr[0] = 0x95
			binary.LittleEndian.PutUint64(hdr[1:], uint64(len(b)))
			w.Write(hdr[:])
			w.Write(b)
			written += int64(len(b)) + 9
			frame = pkl.New(0)
		}
	}
	w.Write([]byte{0x80, 0x04})
	frame.EmptyDict().Memoize().Mark()
	// Repeated keys are one interned str to CPython: memoized once, then
	// fetched with BINGET, as the real pickler does.
	memo := uint32(1)
	var kID, kTags, kA, kB uint32
	key := func(s string, slot *uint32, first bool) {
		if first {
			frame.Str(s).Memoize()
			*slot = memo
			memo++
		} else {
			frame.Get(*slot)
		}
	}
	for i := 0; written < size; i++ {
		// "row_<i>": [i, i*3, "tok<i>", 1.5, {"id": i, "tags": ["a", "b"]}]
		first := i == 0
		frame.Str("row_"+strconv.Itoa(i)).Memoize().EmptyList().Memoize().Mark().
			Int(i%60000).Int(i*3).Str("tok"+strconv.Itoa(i)).Memoize().Raw('G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0).
			EmptyDict().Memoize().Mark()
		memo += 4
		key("id", &kID, first)
		frame.Int(i)
		key("tags", &kTags, first)
		frame.EmptyList().Memoize().Mark()
		memo++
		key("a", &kA, first)
		key("b", &kB, first)
		frame.Appends().SetItems().Appends()
		if i%1000 == 999 {
			frame.SetItems().Mark()
		}
		flush(false)
	}
	frame.SetItems().Stop()
	flush(true)
	return w.Flush()
}
