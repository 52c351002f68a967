package gate

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// tree is an artifact unpacked into a private directory.
type tree struct {
	base  string   // the private directory (removed by remove)
	root  string   // base/<name>: the model root
	r     *os.Root // open at root
	lim   Limits
	files map[string]string // file path -> digest of its layer
	dirs  map[string]bool
	count int
	bytes int64
}

var unsafeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })

// rootName is the model directory's name: the repository's last
// component, so that the BOM names the model as the registry does.
func rootName(repo string) string {
	n := unsafeName().ReplaceAllString(path.Base(repo), "-")
	n = strings.Trim(n, ".-")
	if n == "" {
		n = "model"
	}
	return truncate(n, 100)
}

// newTree makes the private directory (mode 0700) in workDir.
func newTree(workDir, name string, lim Limits) (*tree, error) {
	if workDir == "" {
		workDir = os.TempDir()
	}
	base, err := os.MkdirTemp(workDir, "aigis-gate-")
	if err != nil {
		return nil, fmt.Errorf("cannot make the gate's work directory: %v", err)
	}
	t := &tree{base: base, root: filepath.Join(base, name), lim: lim, files: map[string]string{}, dirs: map[string]bool{}}
	if err := os.Mkdir(t.root, 0o700); err != nil {
		t.remove()
		return nil, fmt.Errorf("cannot make the gate's work directory: %v", err)
	}
	if t.r, err = os.OpenRoot(t.root); err != nil {
		t.remove()
		return nil, fmt.Errorf("cannot open the gate's work directory: %v", err)
	}
	return t, nil
}

func (t *tree) remove() {
	if t.r != nil {
		t.r.Close()
	}
	os.RemoveAll(t.base)
}

// unpack writes one layer's files. A layer that cannot be read completely
// and exactly is an error: the gate never judges part of a model.
func (t *tree) unpack(ctx context.Context, src BlobSource, l layer, diffID string) error {
	ra, size, err := src.Open(ctx, l.Desc.Digest)
	if err != nil {
		return fmt.Errorf("cannot open the blob: %v", err)
	}
	if size != l.Desc.Size {
		return fmt.Errorf("the blob is %d bytes, but the manifest says %d", size, l.Desc.Size)
	}
	r := &ctxReader{ctx: ctx, r: io.NewSectionReader(ra, 0, size)}
	if l.Packing == PackingRaw {
		if l.Role == "signature" && l.Path == "" {
			return nil // a bundle layer that names no file: read as a bundle only
		}
		if diffID != "" && diffID != l.Desc.Digest {
			return fmt.Errorf("the config's diffId %s is not the layer's digest", diffID)
		}
		return t.writeFile(l.Path, r, size, l.Desc.Digest)
	}
	var stream io.Reader = r
	switch l.Packing {
	case PackingTarGzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("not gzip: %v", err)
		}
		defer zr.Close()
		stream = zr
	case PackingTarZstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(64<<20), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return fmt.Errorf("not zstd: %v", err)
		}
		defer zr.Close()
		stream = zr
	}
	// The uncompressed stream's digest is the layer's diffId.
	var h hash.Hash
	if diffID != "" {
		if !strings.HasPrefix(diffID, "sha256:") {
			return fmt.Errorf("the config's diffId %q is not a sha256 digest", truncate(diffID, 80))
		}
		h = sha256.New()
		stream = io.TeeReader(stream, h)
	}
	tr := tar.NewReader(stream)
	members := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("not a readable tar: %v", err)
		}
		if members++; members > t.lim.Files {
			return fmt.Errorf("more than %d tar entries", t.lim.Files)
		}
		if err := t.member(tr, hdr, l); err != nil {
			return err
		}
	}
	// What follows the end of the archive is unpacked by no puller, so
	// no gate would see it: only zero padding may follow. It still counts
	// towards the diffId, within the unpacked-size budget.
	left := t.lim.UnpackedBytes - t.bytes
	n, nonZero, err := drain(io.LimitReader(stream, left+1))
	switch {
	case err != nil:
		return fmt.Errorf("cannot read to the end of the layer: %v", err)
	case nonZero:
		return fmt.Errorf("data follows the end of the tar archive: no puller unpacks it and no gate would check it")
	case n > left:
		return fmt.Errorf("the layer unpacks to more than the %d-byte limit", t.lim.UnpackedBytes)
	}
	if h != nil {
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
			return fmt.Errorf("the uncompressed layer is %s, but the config's diffId says %s", got, diffID)
		}
	}
	return nil
}

// drain reads r to its end and says whether any byte was not zero.
func drain(r io.Reader) (n int64, nonZero bool, err error) {
	buf := make([]byte, 32<<10)
	for {
		k, err := r.Read(buf)
		n += int64(k)
		for _, c := range buf[:k] {
			if c != 0 {
				nonZero = true
			}
		}
		if err == io.EOF {
			return n, nonZero, nil
		}
		if err != nil {
			return n, nonZero, err
		}
	}
}

// member writes one tar entry.
func (t *tree) member(tr *tar.Reader, hdr *tar.Header, l layer) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeDir:
	default:
		return fmt.Errorf("member %q is a %s; model layers may hold only regular files and directories", truncate(hdr.Name, 200), typeName(hdr.Typeflag))
	}
	name, err := cleanPath(hdr.Name)
	if err != nil {
		if hdr.Typeflag == tar.TypeDir && strings.Trim(hdr.Name, "./") == "" {
			return nil // the archive's own root
		}
		return fmt.Errorf("member %q: %v", truncate(hdr.Name, 200), err)
	}
	if l.Path != "" && name != l.Path && !strings.HasPrefix(name, l.Path+"/") {
		return fmt.Errorf("member %q lies outside the layer's declared path %q", truncate(name, 200), l.Path)
	}
	if hdr.Typeflag == tar.TypeDir {
		return t.mkdirAll(name)
	}
	if hdr.Size < 0 {
		return fmt.Errorf("member %q has a negative size", truncate(name, 200))
	}
	return t.writeFile(name, tr, hdr.Size, l.Desc.Digest)
}

func typeName(f byte) string {
	switch f {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("entry of type %q", f)
}

// mkdirAll makes dir and its parents inside the root.
func (t *tree) mkdirAll(dir string) error {
	var cur string
	for _, c := range strings.Split(dir, "/") {
		cur = path.Join(cur, c)
		if t.dirs[cur] {
			continue
		}
		if _, ok := t.files[cur]; ok {
			return fmt.Errorf("%q is a file in one place and a directory in another", truncate(cur, 200))
		}
		if err := t.entry(); err != nil {
			return err
		}
		if err := t.r.Mkdir(cur, 0o700); err != nil {
			return fmt.Errorf("cannot make directory %q: %v", truncate(cur, 200), err)
		}
		t.dirs[cur] = true
	}
	return nil
}

func (t *tree) entry() error {
	if t.count++; t.count > t.lim.Files {
		return fmt.Errorf("the artifact unpacks to more than %d files and directories", t.lim.Files)
	}
	return nil
}

// writeFile writes exactly size bytes from r to name. A name written
// twice (in one layer or two) is an error: which copy a loader sees would
// depend on the tool that unpacks it.
func (t *tree) writeFile(name string, r io.Reader, size int64, layerDigest string) error {
	if _, dup := t.files[name]; dup || t.dirs[name] {
		return fmt.Errorf("%q is written twice (a later layer or member would replace what an earlier one holds)", truncate(name, 200))
	}
	if dir := path.Dir(name); dir != "." {
		if err := t.mkdirAll(dir); err != nil {
			return err
		}
	}
	if err := t.entry(); err != nil {
		return err
	}
	if t.bytes += size; t.bytes > t.lim.UnpackedBytes {
		return fmt.Errorf("the artifact unpacks to more than the %d-byte limit", t.lim.UnpackedBytes)
	}
	f, err := t.r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("cannot write %q: %v", truncate(name, 200), err)
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("cannot unpack %q: %v", truncate(name, 200), err)
	}
	t.files[name] = layerDigest
	return nil
}

// ctxReader stops reading when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// rel turns a path the engine reports under the tree into one relative
// to the model root ("." for the root itself).
func (t *tree) rel(p string) string {
	r, err := filepath.Rel(t.root, p)
	if err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return p
	}
	return filepath.ToSlash(r)
}

// scrub removes the private directory's name from a message, so that the
// same artifact gives the same result wherever it was unpacked.
func (t *tree) scrub(s string) string {
	s = strings.ReplaceAll(s, t.root+string(filepath.Separator), "")
	s = strings.ReplaceAll(s, t.root, ".")
	return strings.ReplaceAll(s, t.base, "")
}
