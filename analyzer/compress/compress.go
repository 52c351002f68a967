// Package compress unwraps compressed streams (gzip, bzip2, xz, lzma,
// zlib, lz4, zstd, and joblib's old "ZF" zlib container) and hands the
// decompressed content back to the engine, so that a pickle inside a
// .pkl.gz or a compressed joblib file is analysed like a bare one.
//
// Decompression is streamed and bounded by the walked file's Budget
// (total output and expansion ratio); decoders never get to allocate
// dictionaries or windows larger than MaxWindow.
package compress

import (
	"bytes"
	"compress/bzip2"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/report"
)

// MaxWindow bounds decoder dictionaries and windows (xz, lzma, zstd).
const MaxWindow = 64 << 20

// codec is one compression format.
type codec struct {
	name  string
	match func(h []byte) bool
	open  func(r io.Reader) (io.Reader, error)
}

var codecs = []codec{
	{"gzip", func(h []byte) bool { return len(h) >= 3 && h[0] == 0x1f && h[1] == 0x8b && h[2] == 8 },
		func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	{"bzip2", func(h []byte) bool {
		return len(h) >= 10 && string(h[:3]) == "BZh" && h[3] >= '1' && h[3] <= '9' &&
			(bytes.Equal(h[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) || bytes.Equal(h[4:10], []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90}))
	}, func(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil }},
	{"xz", func(h []byte) bool { return bytes.HasPrefix(h, []byte{0xfd, '7', 'z', 'X', 'Z', 0}) },
		func(r io.Reader) (io.Reader, error) { return xz.ReaderConfig{DictCap: MaxWindow}.NewReader(r) }},
	{"zstd", func(h []byte) bool { return bytes.HasPrefix(h, []byte{0x28, 0xb5, 0x2f, 0xfd}) },
		func(r io.Reader) (io.Reader, error) {
			d, err := zstd.NewReader(r, zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(MaxWindow), zstd.WithDecoderConcurrency(1))
			if err != nil {
				return nil, err
			}
			return d.IOReadCloser(), nil
		}},
	{"lz4", func(h []byte) bool {
		return bytes.HasPrefix(h, []byte{0x04, 0x22, 0x4d, 0x18}) || bytes.HasPrefix(h, []byte{0x02, 0x21, 0x4c, 0x18})
	}, func(r io.Reader) (io.Reader, error) { return lz4.NewReader(r), nil }},
	{"joblib-zfile", isZFile, openZFile},
	{"zlib", isZlib, func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }},
	{"lzma", isLZMA, func(r io.Reader) (io.Reader, error) { return lzma.ReaderConfig{DictCap: MaxWindow}.NewReader(r) }},
}

// Analyzer unwraps every codec above.
type Analyzer struct{}

func (Analyzer) Name() string { return "compressed" }

func (Analyzer) Match(s *analyzer.Sniff) bool { return find(s.Head) != nil }

func find(h []byte) *codec {
	for i := range codecs {
		if codecs[i].match(h) {
			return &codecs[i]
		}
	}
	return nil
}

func (Analyzer) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	c := find(in.Sniff().Head)
	if c == nil {
		return analyzer.ErrNotFormat
	}
	out.SetFormat(c.name)
	src, err := in.Open()
	if err != nil {
		return err
	}
	cnt := &analyzer.Counter{R: src}
	dec, err := c.open(cnt)
	if err != nil {
		out.Problem(ctx, 0, c.name, err)
		return nil
	}
	child := in.ChildStream("["+c.name+"]", in.Budget.Expand(dec, cnt), -1)
	// The loader of a compressed model reads what it decompresses: the
	// content's model facts are the file's.
	if err := out.RecurseContent(ctx, child); err != nil {
		return err
	}
	if out.Verdict() == report.Clean {
		// The content did not need reading to the end; the stream must
		// still decompress cleanly to be vouched for.
		if err := child.Drain(); err != nil {
			out.Child(child).Problem(ctx, -1, c.name+" stream", err)
		}
	}
	if nf := out.NestedFormats(); len(nf) > 0 {
		if inner := nf[len(nf)-1]; inner != "other" {
			out.SetFormat(inner + "+" + c.name)
		}
	}
	return nil
}

// isZlib checks the two-byte zlib header and that the sniffed head
// inflates, since 0x78 0x5e ("x^") also starts text.
func isZlib(h []byte) bool {
	if len(h) < 2 || h[0]&0x0f != 8 || h[0]>>4 > 7 || (uint16(h[0])<<8|uint16(h[1]))%31 != 0 || h[1]&0x20 != 0 {
		return false
	}
	r, err := zlib.NewReader(bytes.NewReader(h))
	if err != nil {
		return false
	}
	var buf [64]byte
	n, err := io.ReadFull(r, buf[:])
	return n > 0 && (err == nil || err == io.ErrUnexpectedEOF || err == io.EOF)
}

// isLZMA checks a classic .lzma header (properties, dictionary size,
// uncompressed size) and a trial decode of the head.
func isLZMA(h []byte) bool {
	if len(h) < 14 || h[0] >= 225 {
		return false
	}
	dict := binary.LittleEndian.Uint32(h[1:5])
	if dict < 1<<12 || dict > 1<<30 {
		return false
	}
	size := binary.LittleEndian.Uint64(h[5:13])
	if size != ^uint64(0) && size > 1<<48 {
		return false
	}
	r, err := lzma.ReaderConfig{DictCap: MaxWindow}.NewReader(bytes.NewReader(h))
	if err != nil {
		return false
	}
	var buf [64]byte
	n, err := io.ReadFull(r, buf[:])
	// The decoder hands out nothing until it has filled its buffer, so a
	// stream that compresses poorly (joblib's big arrays) runs out of the
	// sniffed head first: decoding to the end of a full head without a
	// corruption error is as good a sign (random data fails within bytes).
	return n > 0 || len(h) >= 1024 && errors.Is(err, io.ErrUnexpectedEOF)
}

// joblib < 0.10 wrote "ZF" + the data length in hex padded to 19
// characters, then zlib data (sometimes after one more space).
func isZFile(h []byte) bool {
	if len(h) < 23 || !bytes.HasPrefix(h, []byte("ZF0x")) {
		return false
	}
	_, err := strconv.ParseUint(strings.TrimSpace(string(h[4:21])), 16, 64)
	return err == nil
}

func openZFile(r io.Reader) (io.Reader, error) {
	var hdr [21]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	var next [1]byte
	if _, err := io.ReadFull(r, next[:]); err != nil {
		return nil, err
	}
	body := io.Reader(r)
	if next[0] != ' ' {
		body = io.MultiReader(bytes.NewReader(next[:]), r)
	}
	z, err := zlib.NewReader(body)
	if err != nil {
		return nil, fmt.Errorf("joblib ZF container: %w", err)
	}
	return z, nil
}
