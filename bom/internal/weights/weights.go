// Package weights reads the few facts a bill of materials needs from the
// headers of model weight files: the format, the parameter count, the
// dtypes, the quantisation and, for GGUF, the architecture and name from
// the key-value metadata.
//
// It is a stop-gap for the BOM until the format analysers (analyzer/...)
// expose their header parsers; it must never be mistaken for them: it does
// not validate files or judge their safety. It reads headers only, never
// tensor data, and every count and length is bounded: a hostile header is
// an error, never a panic, hang or large allocation.
package weights

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/deps/modelfile"
)

// Facts are what a weight file's header says.
type Facts struct {
	Format       string // "safetensors", "gguf", "onnx"
	Parameters   int64  // 0 when unknown
	Tensors      int
	DTypes       []string // distinct tensor dtypes, sorted
	Quantization string   // GGUF file type ("Q4_K_M") or ONNX/safetensors quantised dtypes
	Architecture string   // GGUF general.architecture
	Name         string   // GGUF general.name
	License      string   // GGUF general.license
	BaseModels   []string // GGUF general.base_model.N.repo_url or name
	// Meta are other header facts worth recording, in a fixed order
	// (GGUF context length, ONNX producer and opset, safetensors
	// __metadata__.format).
	Meta []KV
}

// KV is one header fact.
type KV struct{ Key, Value string }

// MaxHeader bounds the header bytes read from one file.
const MaxHeader = 32 << 20

// ErrNotFormat means the content is not the format asked for.
var ErrNotFormat = errors.New("not this format")

// Sniff names the weight format of a file from its first bytes ("" when
// it is none of safetensors, GGUF or ONNX).
func Sniff(head []byte, size int64) string {
	switch {
	case len(head) >= 4 && string(head[:4]) == "GGUF":
		return "gguf"
	case len(head) >= 10:
		n := binary.LittleEndian.Uint64(head)
		if n >= 2 && n <= uint64(size-8) && head[8] == '{' && (head[9] == '"' || head[9] == ' ' || head[9] == '\n' || head[9] == '}') {
			return "safetensors"
		}
		if modelfile.LooksLikeONNX(head) {
			return "onnx"
		}
	}
	return ""
}

// Read parses the header of a weight file of the given format.
func Read(format string, ra io.ReaderAt, size int64) (*Facts, error) {
	switch format {
	case "safetensors":
		return Safetensors(ra, size)
	case "gguf":
		return GGUF(ra, size)
	case "onnx":
		return ONNX(ra, size)
	}
	return nil, ErrNotFormat
}

// safetensors dtypes and whether they are quantised storage.
var stQuantised = map[string]bool{"F8_E5M2": true, "F8_E4M3": true, "F8_E8M0": true, "F4": true, "F6_E2M3": true, "F6_E3M2": true, "I8": true, "U8": true}

// Safetensors reads a safetensors header.
func Safetensors(ra io.ReaderAt, size int64) (*Facts, error) {
	var pre [8]byte
	if _, err := ra.ReadAt(pre[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: reading the header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(pre[:])
	if n < 2 || n > uint64(size-8) {
		return nil, fmt.Errorf("safetensors: header length %d does not fit the %d-byte file", n, size)
	}
	if n > MaxHeader {
		return nil, fmt.Errorf("safetensors: header of %d bytes is over the %d-byte limit", n, MaxHeader)
	}
	hb := make([]byte, n)
	if _, err := ra.ReadAt(hb, 8); err != nil {
		return nil, fmt.Errorf("safetensors: reading the header: %w", err)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, fmt.Errorf("safetensors: header is not a JSON object: %w", err)
	}
	f := &Facts{Format: "safetensors"}
	dtypes := map[string]bool{}
	for name, raw := range hdr {
		if name == "__metadata__" {
			var meta map[string]string
			if json.Unmarshal(raw, &meta) == nil && meta["format"] != "" && len(meta["format"]) < 64 {
				f.Meta = append(f.Meta, KV{"format", meta["format"]})
			}
			continue
		}
		var t struct {
			DType string  `json:"dtype"`
			Shape []int64 `json:"shape"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", clip(name), err)
		}
		p, ok := product(t.Shape)
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q has an invalid shape", clip(name))
		}
		if f.Parameters, ok = add(f.Parameters, p); !ok {
			return nil, errors.New("safetensors: parameter count overflows")
		}
		f.Tensors++
		if len(t.DType) < 16 {
			dtypes[t.DType] = true
		}
	}
	f.DTypes = sortedKeys(dtypes)
	f.Quantization = quantised(f.DTypes, stQuantised)
	return f, nil
}

func product(shape []int64) (int64, bool) {
	p := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(uint64(p), uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		p = int64(lo)
	}
	return p, true
}

func add(a, b int64) (int64, bool) {
	if b > math.MaxInt64-a {
		return 0, false
	}
	return a + b, true
}

// quantised lists the dtypes that are quantised storage.
func quantised(dtypes []string, q map[string]bool) string {
	var out []string
	for _, d := range dtypes {
		if q[d] {
			out = append(out, d)
		}
	}
	return strings.Join(out, ",")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// maxMetadata bounds the bytes walked through GGUF metadata (a large
// vocabulary and merge list take tens of MB).
const maxMetadata = 256 << 20

// reader walks a header front to back through a buffer, checking every
// length against the file size and the budget before reading.
type reader struct {
	br   *bufio.Reader
	size int64
	off  int64
}

func newReader(ra io.ReaderAt, size int64) *reader {
	return &reader{br: bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), 256<<10), size: size}
}

func (r *reader) check(n int64) error {
	if n < 0 || n > r.size-r.off {
		return fmt.Errorf("a %d-byte field at offset %d runs past the end of the file", n, r.off)
	}
	if r.off+n > maxMetadata {
		return fmt.Errorf("header runs past %d bytes; not read further", maxMetadata)
	}
	return nil
}

// bytes reads n bytes; callers bound n to what they keep.
func (r *reader) bytes(n int64) ([]byte, error) {
	if err := r.check(n); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.br, b); err != nil {
		return nil, err
	}
	r.off += n
	return b, nil
}

func (r *reader) skip(n int64) error {
	if err := r.check(n); err != nil {
		return err
	}
	if _, err := r.br.Discard(int(n)); err != nil {
		return err
	}
	r.off += n
	return nil
}

func (r *reader) u32() (uint32, error) {
	b, err := r.bytes(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) u64() (uint64, error) {
	b, err := r.bytes(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}
