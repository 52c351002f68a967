// Package gguf analyses GGUF model files (llama.cpp, v2 and v3): a bounded
// parse of the header, metadata key/values and tensor infos, with every
// count, length and offset checked against the file before it is used,
// and a static analysis of the chat templates stored in the metadata.
//
// Tensor data is never read (unless weight forensics is asked for) and
// templates are never rendered.
package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// Value types.
const (
	tU8 = iota
	tI8
	tU16
	tI16
	tU32
	tI32
	tF32
	tBool
	tString
	tArray
	tU64
	tI64
	tF64
	nTypes
)

var scalarSize = [nTypes]int64{1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8}

// Bounds on what a header may declare. Real models have a few thousand
// tensors and a few dozen keys; vocabularies reach a few hundred thousand
// entries.
const (
	maxTensors   = 1 << 20
	maxKVs       = 1 << 16
	maxKeyLen    = 1 << 16
	maxStringLen = 64 << 20
	maxArrayLen  = 1 << 26
	maxDims      = 4 // GGML_MAX_DIMS
	maxArrayNest = 4
	keepString   = 16 << 20 // string values kept in memory (templates)
)

// ggmlType is a tensor element type: block size in elements and bytes.
type ggmlType struct {
	name        string
	block, size int64
}

var ggmlTypes = map[uint32]ggmlType{
	0: {"F32", 1, 4}, 1: {"F16", 1, 2}, 2: {"Q4_0", 32, 18}, 3: {"Q4_1", 32, 20},
	6: {"Q5_0", 32, 22}, 7: {"Q5_1", 32, 24}, 8: {"Q8_0", 32, 34}, 9: {"Q8_1", 32, 36},
	10: {"Q2_K", 256, 84}, 11: {"Q3_K", 256, 110}, 12: {"Q4_K", 256, 144}, 13: {"Q5_K", 256, 176},
	14: {"Q6_K", 256, 210}, 15: {"Q8_K", 256, 292}, 16: {"IQ2_XXS", 256, 66}, 17: {"IQ2_XS", 256, 74},
	18: {"IQ3_XXS", 256, 98}, 19: {"IQ1_S", 256, 50}, 20: {"IQ4_NL", 32, 18}, 21: {"IQ3_S", 256, 110},
	22: {"IQ2_S", 256, 82}, 23: {"IQ4_XS", 256, 136}, 24: {"I8", 1, 1}, 25: {"I16", 1, 2},
	26: {"I32", 1, 4}, 27: {"I64", 1, 8}, 28: {"F64", 1, 8}, 29: {"IQ1_M", 256, 56},
	30: {"BF16", 1, 2}, 34: {"TQ1_0", 256, 54}, 35: {"TQ2_0", 256, 66}, 39: {"MXFP4", 32, 17},
}

// KV is one metadata entry. Only strings and scalar numbers are kept.
type KV struct {
	Key  string
	Type uint32
	Str  string // string values up to keepString bytes
	Num  float64
	Len  uint64 // array length
	Big  bool   // a string too large to keep
	Off  int64  // offset of the key
	// raw is a scalar's bytes as a little-endian integer, zero-extended:
	// 64-bit integers exactly, where Num rounds them above 2^53.
	raw uint64
}

// Text is the value as text: a number in Go's shortest decimal form, a
// boolean as true or false, a string as kept. ok is false for arrays and
// for strings too large to keep.
func (kv *KV) Text() (s string, ok bool) {
	switch kv.Type {
	case tString:
		return kv.Str, !kv.Big
	case tArray:
		return "", false
	case tBool:
		return strconv.FormatBool(kv.raw != 0), true
	case tF32:
		return strconv.FormatFloat(kv.Num, 'g', -1, 32), true
	case tF64:
		return strconv.FormatFloat(kv.Num, 'g', -1, 64), true
	case tI8:
		return strconv.FormatInt(int64(int8(kv.raw)), 10), true
	case tI16:
		return strconv.FormatInt(int64(int16(kv.raw)), 10), true
	case tI32:
		return strconv.FormatInt(int64(int32(kv.raw)), 10), true
	case tI64:
		return strconv.FormatInt(int64(kv.raw), 10), true
	}
	return strconv.FormatUint(kv.raw, 10), true
}

// TensorInfo is one tensor's declaration.
type TensorInfo struct {
	Name  string
	Dims  []uint64
	Type  uint32
	TName string
	// Offset is relative to the data section; Size is in bytes.
	Offset, Size int64
	Elements     int64
}

// File is a parsed GGUF header.
type File struct {
	Version   uint32
	KVs       []KV
	Tensors   []TensorInfo
	Alignment int64
	DataStart int64
	DataEnd   int64 // end of the last tensor
}

// Error is malformed content at file offset Off.
type Error struct {
	Off int64
	Msg string
}

func (e *Error) Error() string { return e.Msg }

type reader struct {
	br   *bufio.Reader
	off  int64
	size int64
}

func (r *reader) fail(format string, a ...any) error {
	return &Error{Off: r.off, Msg: fmt.Sprintf(format, a...)}
}

func (r *reader) read(p []byte) error {
	n, err := io.ReadFull(r.br, p)
	r.off += int64(n)
	if err != nil {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func (r *reader) u32() (uint32, error) {
	var b [4]byte
	err := r.read(b[:])
	return binary.LittleEndian.Uint32(b[:]), err
}

func (r *reader) u64() (uint64, error) {
	var b [8]byte
	err := r.read(b[:])
	return binary.LittleEndian.Uint64(b[:]), err
}

func (r *reader) skip(n int64) error {
	if n > r.size-r.off {
		r.off = r.size
		return io.ErrUnexpectedEOF
	}
	k, err := r.br.Discard(int(n))
	r.off += int64(k)
	if err != nil {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// str reads a length-prefixed string, keeping it only if it is at most
// keep bytes (otherwise it is skipped and "" returned with kept=false).
func (r *reader) str(max, keep int64) (string, bool, error) {
	at := r.off
	n, err := r.u64()
	if err != nil {
		return "", false, err
	}
	if n > uint64(max) {
		return "", false, &Error{Off: at, Msg: fmt.Sprintf("string length %d exceeds the %d-byte bound", n, max)}
	}
	if int64(n) > r.size-r.off {
		return "", false, &Error{Off: at, Msg: fmt.Sprintf("string length %d runs past the end of the file", n)}
	}
	if int64(n) > keep {
		return "", n == 0, r.skip(int64(n))
	}
	b := make([]byte, n)
	if err := r.read(b); err != nil {
		return "", false, err
	}
	return string(b), true, nil
}

// Parse reads a GGUF header from ra (size bytes).
func Parse(ra io.ReaderAt, size int64) (*File, error) { return parse(ra, size, false) }

// ParseMetadata reads only the header and the metadata key/values, with
// Parse's checks and bounds: the File has no tensors and no data offsets.
// The analyser reads it to report what a model declares about itself
// (its model facts) even when its tensor table or layout is malformed,
// which Parse refuses.
func ParseMetadata(ra io.ReaderAt, size int64) (*File, error) { return parse(ra, size, true) }

func parse(ra io.ReaderAt, size int64, metadataOnly bool) (*File, error) {
	r := &reader{br: bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), 64<<10), size: size}
	var magic [4]byte
	if err := r.read(magic[:]); err != nil {
		return nil, err
	}
	if string(magic[:]) != "GGUF" {
		return nil, r.fail("not a GGUF file")
	}
	f := &File{Alignment: 32}
	var err error
	if f.Version, err = r.u32(); err != nil {
		return nil, err
	}
	if f.Version != 2 && f.Version != 3 {
		return nil, &Error{Off: 4, Msg: fmt.Sprintf("GGUF version %d is not supported (2 and 3 are; version 1 used 32-bit counts)", f.Version)}
	}
	nt, err := r.u64()
	if err != nil {
		return nil, err
	}
	nkv, err := r.u64()
	if err != nil {
		return nil, err
	}
	// Every tensor info takes at least 8+4+4+8 bytes and every KV 8+4+1.
	if nt > maxTensors || nt*24 > uint64(size) {
		return nil, &Error{Off: 8, Msg: fmt.Sprintf("tensor count %d is impossible for a %d-byte file (bound %d)", nt, size, maxTensors)}
	}
	if nkv > maxKVs || nkv*13 > uint64(size) {
		return nil, &Error{Off: 16, Msg: fmt.Sprintf("metadata count %d is impossible for a %d-byte file (bound %d)", nkv, size, maxKVs)}
	}
	seen := map[string]bool{}
	for i := uint64(0); i < nkv; i++ {
		kv, err := r.kv()
		if err != nil {
			return nil, err
		}
		if seen[kv.Key] {
			return nil, &Error{Off: kv.Off, Msg: fmt.Sprintf("metadata key %q appears twice (llama.cpp refuses the file)", kv.Key)}
		}
		seen[kv.Key] = true
		if kv.Key == "general.alignment" {
			if kv.Type != tU32 || kv.Num == 0 || uint64(kv.Num)&(uint64(kv.Num)-1) != 0 {
				return nil, &Error{Off: kv.Off, Msg: fmt.Sprintf("general.alignment %v is not a power of two", kv.Num)}
			}
			f.Alignment = int64(kv.Num)
		}
		f.KVs = append(f.KVs, kv)
	}
	if metadataOnly {
		return f, nil
	}
	names := map[string]bool{}
	for i := uint64(0); i < nt; i++ {
		t, err := r.tensor()
		if err != nil {
			return nil, err
		}
		if names[t.Name] {
			return nil, r.fail("tensor %q is declared twice", t.Name)
		}
		names[t.Name] = true
		f.Tensors = append(f.Tensors, t)
	}
	f.DataStart = (r.off + f.Alignment - 1) / f.Alignment * f.Alignment
	if err := f.layout(size); err != nil {
		return nil, err
	}
	return f, nil
}

func (r *reader) kv() (KV, error) {
	kv := KV{Off: r.off}
	key, _, err := r.str(maxKeyLen, maxKeyLen)
	if err != nil {
		return kv, err
	}
	if !utf8.ValidString(key) || key == "" {
		return kv, &Error{Off: kv.Off, Msg: "metadata key is empty or not UTF-8"}
	}
	kv.Key = key
	if kv.Type, err = r.u32(); err != nil {
		return kv, err
	}
	return kv, r.value(&kv, kv.Type, 0)
}

func (r *reader) value(kv *KV, t uint32, depth int) error {
	switch {
	case t >= nTypes:
		return r.fail("metadata %q has unknown value type %d", kv.Key, t)
	case t == tString:
		if depth > 0 {
			// Array elements (vocabularies) are skipped, not kept.
			_, _, err := r.str(maxStringLen, 0)
			return err
		}
		s, kept, err := r.str(maxStringLen, keepString)
		kv.Str, kv.Big = s, !kept
		return err
	case t == tArray:
		if depth >= maxArrayNest {
			return r.fail("metadata %q nests arrays deeper than %d", kv.Key, maxArrayNest)
		}
		et, err := r.u32()
		if err != nil {
			return err
		}
		n, err := r.u64()
		if err != nil {
			return err
		}
		if depth == 0 {
			kv.Len = n
		}
		if et >= nTypes {
			return r.fail("metadata %q: array of unknown type %d", kv.Key, et)
		}
		if n > maxArrayLen {
			return r.fail("metadata %q: array of %d entries exceeds the bound %d", kv.Key, n, maxArrayLen)
		}
		if sz := scalarSize[et]; sz > 0 {
			if n*uint64(sz) > uint64(r.size-r.off) {
				return r.fail("metadata %q: array of %d entries runs past the end of the file", kv.Key, n)
			}
			return r.skip(int64(n) * sz)
		}
		// Every string or nested array takes at least 8 bytes.
		if n*8 > uint64(r.size-r.off) {
			return r.fail("metadata %q: array of %d entries runs past the end of the file", kv.Key, n)
		}
		for i := uint64(0); i < n; i++ {
			if err := r.value(kv, et, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	var b [8]byte
	sz := scalarSize[t]
	if err := r.read(b[:sz]); err != nil {
		return err
	}
	if depth == 0 {
		kv.Num = scalarNum(t, b[:sz])
		kv.raw = binary.LittleEndian.Uint64(b[:])
	}
	return nil
}

func scalarNum(t uint32, b []byte) float64 {
	switch t {
	case tU8, tBool:
		return float64(b[0])
	case tI8:
		return float64(int8(b[0]))
	case tU16:
		return float64(binary.LittleEndian.Uint16(b))
	case tI16:
		return float64(int16(binary.LittleEndian.Uint16(b)))
	case tU32:
		return float64(binary.LittleEndian.Uint32(b))
	case tI32:
		return float64(int32(binary.LittleEndian.Uint32(b)))
	case tF32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case tU64:
		return float64(binary.LittleEndian.Uint64(b))
	case tI64:
		return float64(int64(binary.LittleEndian.Uint64(b)))
	case tF64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return 0
}

func (r *reader) tensor() (TensorInfo, error) {
	var t TensorInfo
	at := r.off
	name, _, err := r.str(maxKeyLen, maxKeyLen)
	if err != nil {
		return t, err
	}
	t.Name = name
	nd, err := r.u32()
	if err != nil {
		return t, err
	}
	if nd > maxDims {
		return t, &Error{Off: at, Msg: fmt.Sprintf("tensor %q has %d dimensions (at most %d allowed)", name, nd, maxDims)}
	}
	n := uint64(1)
	for i := uint32(0); i < nd; i++ {
		d, err := r.u64()
		if err != nil {
			return t, err
		}
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > math.MaxInt64/8 {
			return t, &Error{Off: at, Msg: fmt.Sprintf("tensor %q: dimensions overflow", name)}
		}
		n = lo
		t.Dims = append(t.Dims, d)
	}
	t.Elements = int64(n)
	if t.Type, err = r.u32(); err != nil {
		return t, err
	}
	gt, ok := ggmlTypes[t.Type]
	if ok {
		t.TName = gt.name
		if row := rowLen(t.Dims); row%uint64(gt.block) != 0 {
			return t, &Error{Off: at, Msg: fmt.Sprintf("tensor %q: row of %d elements is not a whole number of %s blocks of %d", name, row, gt.name, gt.block)}
		}
		t.Size = int64(n/uint64(gt.block)) * gt.size
	} else {
		// A type newer than this table: its size is unknown, so its span
		// cannot be checked (reported as unsupported by the analyser).
		t.TName, t.Size = fmt.Sprintf("type%d", t.Type), -1
	}
	off, err := r.u64()
	if err != nil {
		return t, err
	}
	if off > math.MaxInt64/2 {
		return t, &Error{Off: at, Msg: fmt.Sprintf("tensor %q: offset %d is out of range", name, off)}
	}
	t.Offset = int64(off)
	return t, nil
}

// layout checks alignment, bounds and overlaps of the tensor data.
func (f *File) layout(size int64) error {
	type span struct {
		b, e int64
		name string
	}
	spans := make([]span, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		if t.Size < 0 {
			continue
		}
		if t.Offset%f.Alignment != 0 {
			return &Error{Off: f.DataStart, Msg: fmt.Sprintf("tensor %q: offset %d is not a multiple of the alignment %d", t.Name, t.Offset, f.Alignment)}
		}
		end := f.DataStart + t.Offset + t.Size
		if end > size || end < f.DataStart {
			return &Error{Off: f.DataStart, Msg: fmt.Sprintf("tensor %q: data [%d, %d) runs past the end of the %d-byte file", t.Name, f.DataStart+t.Offset, end, size)}
		}
		spans = append(spans, span{t.Offset, t.Offset + t.Size, t.Name})
		f.DataEnd = max(f.DataEnd, end)
	}
	sortSlice(spans, func(a, b span) bool { return a.b < b.b })
	for i := 1; i < len(spans); i++ {
		if spans[i].b < spans[i-1].e {
			return &Error{Off: f.DataStart, Msg: fmt.Sprintf("tensors %q and %q overlap", spans[i-1].name, spans[i].name)}
		}
	}
	if f.DataEnd == 0 {
		f.DataEnd = min(f.DataStart, size)
	}
	return nil
}

// rowLen is the length of a tensor's first dimension (1 for a scalar).
func rowLen(dims []uint64) uint64 {
	if len(dims) == 0 {
		return 1
	}
	return dims[0]
}
