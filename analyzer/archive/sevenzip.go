package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/bodgit/sevenzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stangelandcl/ppmd"
	"github.com/ulikunitz/xz/lzma"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
)

// maxDict7z bounds the dictionary or model memory a 7z coder may ask for;
// decoders allocate it up front.
const maxDict7z = 64 << 20

// The 7z library's own LZMA, LZMA2, PPMd and zstd decoders trust the
// sizes in the archive. These replacements refuse oversized ones. The
// registry is process-wide: aigis never wants the unbounded ones.
func init() {
	sevenzip.RegisterDecompressor([]byte{0x03, 0x01, 0x01}, bounded7zLZMA)
	sevenzip.RegisterDecompressor([]byte{0x21}, bounded7zLZMA2)
	sevenzip.RegisterDecompressor([]byte{0x03, 0x04, 0x01}, bounded7zPPMd)
	sevenzip.RegisterDecompressor([]byte{0x04, 0xf7, 0x11, 0x01}, bounded7zZstd)
}

// rc adapts a decoder to the ReadCloser the 7z library wants. Its Read
// turns a panic in a third-party decoder (PPMd divides by zero on some
// hostile streams) into a read error, so bad data is "malformed", not an
// analyser failure.
type rc struct {
	r io.Reader
	c io.Closer
}

func (r rc) Read(p []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("7z decoder failed on corrupt data: %v", v)
		}
	}()
	return r.r.Read(p)
}

func (r rc) Close() error { return r.c.Close() }

func one(readers []io.ReadCloser) (io.ReadCloser, error) {
	if len(readers) != 1 {
		return nil, errors.New("7z coder expects one input stream")
	}
	return readers[0], nil
}

func bounded7zLZMA(p []byte, size uint64, readers []io.ReadCloser) (io.ReadCloser, error) {
	in, err := one(readers)
	if err != nil {
		return nil, err
	}
	if len(p) != 5 {
		return nil, errors.New("7z LZMA properties are not 5 bytes")
	}
	hdr := append(append([]byte{}, p...), make([]byte, 8)...)
	binary.LittleEndian.PutUint64(hdr[5:], size)
	r, err := lzma.ReaderConfig{DictCap: maxDict7z}.NewReader(io.MultiReader(bytes.NewReader(hdr), in))
	if err != nil {
		return nil, err
	}
	return rc{r, in}, nil
}

func newLZMA2(p []byte, in io.Reader) (io.Reader, error) {
	if len(p) != 1 || p[0] > 40 {
		return nil, errors.New("7z LZMA2 properties invalid")
	}
	dict := (2 | int64(p[0])&1) << (p[0]/2 + 11)
	if p[0] == 40 || dict > maxDict7z {
		return nil, fmt.Errorf("7z LZMA2 dictionary of %d bytes is over the %d limit", dict, maxDict7z)
	}
	cfg := lzma.Reader2Config{DictCap: int(max(dict, lzma.MinDictCap))}
	return cfg.NewReader2(in)
}

func bounded7zLZMA2(p []byte, _ uint64, readers []io.ReadCloser) (io.ReadCloser, error) {
	in, err := one(readers)
	if err != nil {
		return nil, err
	}
	r, err := newLZMA2(p, in)
	if err != nil {
		return nil, err
	}
	return rc{r, in}, nil
}

func bounded7zPPMd(p []byte, size uint64, readers []io.ReadCloser) (io.ReadCloser, error) {
	in, err := one(readers)
	if err != nil {
		return nil, err
	}
	if len(p) != 5 {
		return nil, errors.New("7z PPMd properties are not 5 bytes")
	}
	mem := binary.LittleEndian.Uint32(p[1:])
	if mem > maxDict7z || size > 1<<40 {
		return nil, fmt.Errorf("7z PPMd model of %d bytes is over the %d limit", mem, maxDict7z)
	}
	r, err := ppmd.NewH7zReader(in, int(p[0]), int(mem), int(size))
	if err != nil {
		return nil, err
	}
	return rc{&r, in}, nil
}

func bounded7zZstd(_ []byte, _ uint64, readers []io.ReadCloser) (io.ReadCloser, error) {
	in, err := one(readers)
	if err != nil {
		return nil, err
	}
	d, err := zstd.NewReader(in, zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(maxDict7z), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	return rc{d.IOReadCloser(), in}, nil
}

// SevenZip analyses 7z archives (nullifAI-style wrapped checkpoints).
type SevenZip struct{}

func (SevenZip) Name() string { return "7z" }

func (SevenZip) Match(s *analyzer.Sniff) bool { return bytes.HasPrefix(s.Head, sig7z) }

func (SevenZip) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	ra, size, err := in.ReaderAt()
	if err != nil {
		return err
	}
	encrypted, err := check7z(ra, size, in.Budget.MaxEntries)
	if err == nil && encrypted {
		err = errors.New("7z member data is encrypted")
		out.Add(rules.New(rules.ArchiveEncrypted, out.Here(), err.Error()))
		return nil
	}
	if err != nil {
		if errors.Is(err, errUnsupported7z) {
			out.Add(rules.New(rules.ArchiveEncrypted, out.Here(), err.Error()))
			return nil
		}
		out.Problem(ctx, -1, "7z", err)
		return nil
	}
	z, err := sevenzip.NewReader(ra, size)
	if err != nil {
		out.Problem(ctx, -1, "7z", err)
		return nil
	}
	if !checkEntries(ctx, out, len(z.File), in.Budget) {
		return nil
	}
	for _, f := range z.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if why := unsafePath(f.Name); why != "" {
			slipFinding(out, f.Name, why)
		}
		mode := f.Mode()
		if mode.IsDir() {
			continue
		}
		r, err := f.Open()
		if err != nil {
			out.ForMember(f.Name).Problem(ctx, -1, "7z member", err)
			continue
		}
		if mode&fs.ModeSymlink != 0 { // a link's content is its target
			target, _ := io.ReadAll(io.LimitReader(r, 4096))
			r.Close()
			if why := unsafeLink(f.Name, string(target)); why != "" {
				slipFinding(out, f.Name, why)
			}
			continue
		}
		err = out.Recurse(ctx, in.ChildStream(f.Name, in.Budget.Expand(r, nil), int64(f.UncompressedSize)))
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
