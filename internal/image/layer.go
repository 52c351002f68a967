package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

type entryKind uint8

const (
	kindFile entryKind = iota
	kindDir
	kindSymlink
	kindHardlink
	kindWhiteout // .wh.<name>: deletes name in lower layers
	kindOpaque   // .wh..wh..opq: hides everything lower in the directory
)

// entry is one tar entry of a layer, its name cleaned and relative to the
// root ("" is the root itself).
type entry struct {
	path    string
	kind    entryKind
	mode    fs.FileMode // permission and special bits, with the type
	size    int64
	link    string // symlink target as written; hard link target cleaned
	uid     int
	gid     int
	modTime time.Time
	// data is the content when kept (the inventory needs it); dropped
	// says it was wanted but over a bound.
	data    []byte
	kept    bool
	dropped bool
}

// layerResult is what reading one layer found.
type layerResult struct {
	src         *layerSrc
	entries     []entry
	findings    []report.Finding
	files       []*report.Artifact // per file: models, and files with findings
	compression string
	stored      int64 // bytes as stored
	expanded    int64 // bytes of tar
	digest      string
	diffID      string
	complete    bool // read to the end of the tar
	goBinaries  []goBinary
}

func (lr *layerResult) add(f report.Finding) {
	lr.findings = append(lr.findings, f)
}

// magic numbers of layer compressions.
var (
	gzipMagic  = []byte{0x1f, 0x8b}
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	bzip2Magic = []byte("BZh")
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
)

// readLayer streams one layer: it hashes the stored and the uncompressed
// bytes, walks the tar, and hands each entry to the run.
func (r *run) readLayer(ctx context.Context, src *layerSrc) *layerResult {
	lr := &layerResult{src: src}
	n := src.index + 1
	if src.missing != nil {
		lr.add(rules.New(rules.ImageLayerMissing, "", fmt.Sprintf("layer %d (%s) cannot be read: %v", n, src.digest, src.missing)))
		return lr
	}
	rc, err := src.open(ctx)
	if err != nil {
		lr.add(rules.New(rules.ImageLayerMissing, "", fmt.Sprintf("layer %d (%s) cannot be read: %v", n, src.digest, err)))
		return lr
	}
	defer rc.Close()

	storedAlg := algOf(src.digest)
	stored := &countingReader{r: rc, h: newHash(storedAlg)}
	br := bufio.NewReaderSize(stored, 256<<10)
	head, _ := br.Peek(512)
	var tarStream io.Reader
	var raw *io.SectionReader // uncompressed and seekable: files are read in place
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		lr.compression = "gzip"
		zr, err := gzip.NewReader(br)
		if err != nil {
			lr.add(rules.New(rules.ImageLayerInvalid, "", fmt.Sprintf("layer %d: gzip header: %v", n, err)))
			return lr
		}
		defer zr.Close()
		tarStream = zr
	case bytes.HasPrefix(head, zstdMagic):
		lr.compression = "zstd"
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(128<<20), zstd.WithDecoderMaxMemory(uint64(r.lim.MaxLayerExpanded)))
		if err != nil {
			lr.add(rules.New(rules.ImageLayerInvalid, "", fmt.Sprintf("layer %d: zstd: %v", n, err)))
			return lr
		}
		defer zr.Close()
		tarStream = zr
	case bytes.HasPrefix(head, bzip2Magic), bytes.HasPrefix(head, xzMagic):
		lr.add(rules.New(rules.ImageLayerInvalid, "", fmt.Sprintf("layer %d is compressed with bzip2 or xz, which the OCI image specification does not allow; it was not read", n)))
		return lr
	default:
		lr.compression = "none"
		tarStream = br
		if src.ra != nil {
			raw = io.NewSectionReader(src.ra, 0, src.raSize)
		}
	}

	expanded := &countingReader{r: tarStream, h: newHash(src.diffID)}
	var tr *tar.Reader
	var hashDone chan struct{}
	if raw != nil {
		// In place: the tar is walked over the file (entries skipped by
		// seeking) while another goroutine hashes every byte once.
		hashDone = make(chan struct{})
		go func() {
			defer close(hashDone)
			io.Copy(io.Discard, io.LimitReader(br, src.raSize+1))
		}()
		tr = tar.NewReader(raw)
	} else {
		tr = tar.NewReader(&boundedReader{cr: expanded, stored: stored, lim: r.lim})
	}
	r.walkTar(ctx, lr, tr, raw)
	if raw != nil {
		<-hashDone
		lr.stored, lr.expanded = stored.n, stored.n
		lr.digest = sum(storedAlg, stored.h)
		if algOf(src.diffID) == storedAlg {
			lr.diffID = lr.digest // uncompressed: the same bytes
		}
	} else {
		if lr.complete {
			// Padding after the end-of-archive blocks is part of the diff.
			if _, err := io.Copy(io.Discard, &boundedReader{cr: expanded, stored: stored, lim: r.lim}); err != nil {
				lr.complete = false
				lr.add(r.streamError(n, err))
			}
		}
		lr.stored, lr.expanded = stored.n, expanded.n
		lr.digest = sum(storedAlg, stored.h)
		lr.diffID = sum(algOf(src.diffID), expanded.h)
	}
	if lr.complete {
		r.checkDigests(lr)
	}
	return lr
}

func (r *run) checkDigests(lr *layerResult) {
	src, n := lr.src, lr.src.index+1
	if src.digest != "" && lr.digest != src.digest {
		lr.add(rules.New(rules.ImageLayerDigestMismatch, "", fmt.Sprintf("layer %d hashes to %s, the manifest says %s", n, lr.digest, src.digest)))
	}
	if src.size >= 0 && src.digest != "" && lr.stored != src.size {
		lr.add(rules.New(rules.ImageLayerDigestMismatch, "", fmt.Sprintf("layer %d is %d bytes, the manifest says %d", n, lr.stored, src.size)))
	}
	if src.diffID != "" && lr.diffID != "" && lr.diffID != src.diffID {
		lr.add(rules.New(rules.ImageLayerDigestMismatch, "", fmt.Sprintf("layer %d uncompressed hashes to %s, the configuration's diff_id is %s", n, lr.diffID, src.diffID)))
	}
}

// errBomb is returned by boundedReader when a layer expands too far.
type errBomb struct{ msg string }

func (e *errBomb) Error() string { return e.msg }

// boundedReader stops a decompression bomb: too many bytes out, or too
// many per byte in.
type boundedReader struct {
	cr     *countingReader
	stored *countingReader
	lim    Limits
}

func (b *boundedReader) Read(p []byte) (int, error) {
	n, err := b.cr.Read(p)
	if b.cr.n > b.lim.MaxLayerExpanded {
		return n, &errBomb{fmt.Sprintf("it expands beyond %d bytes", b.lim.MaxLayerExpanded)}
	}
	if b.cr.n > b.lim.RatioFloor && b.stored.n > 0 && b.cr.n/b.stored.n > b.lim.MaxRatio {
		return n, &errBomb{fmt.Sprintf("it expands more than %d times (%d bytes from %d)", b.lim.MaxRatio, b.cr.n, b.stored.n)}
	}
	return n, err
}

func (r *run) streamError(n int, err error) report.Finding {
	var bomb *errBomb
	if errors.As(err, &bomb) {
		return rules.New(rules.ImageLimitReached, "", fmt.Sprintf("layer %d stopped: %s; the rest of the layer was not read", n, bomb.msg))
	}
	return rules.New(rules.ImageLayerInvalid, "", fmt.Sprintf("layer %d is not a readable tar: %v; the rest of the layer was not read", n, err))
}

// walkTar reads every entry of the layer.
func (r *run) walkTar(ctx context.Context, lr *layerResult, tr *tar.Reader, raw *io.SectionReader) {
	n := lr.src.index + 1
	seen := map[string]bool{} // this layer's paths, for whiteouts of its own files
	buf := make([]byte, r.lim.MaxTextScan)
	var body *bufio.Reader
	for count := 0; ; count++ {
		if err := ctx.Err(); err != nil {
			lr.add(rules.New(rules.ImageLimitReached, "", fmt.Sprintf("layer %d stopped: %v", n, err)))
			return
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			lr.complete = true
			return
		}
		if err != nil {
			lr.add(r.streamError(n, err))
			return
		}
		if count >= r.lim.MaxEntries || r.entries.Add(1) > int64(r.lim.MaxTotalEntries) {
			lr.add(rules.New(rules.ImageLimitReached, "", fmt.Sprintf("layer %d has more than %d entries (or the image more than %d); the rest was not read", n, r.lim.MaxEntries, r.lim.MaxTotalEntries)))
			return
		}
		p, bad := cleanEntryName(h.Name, r.lim)
		if bad != "" {
			rule := rules.ImagePathTraversal
			if strings.HasPrefix(bad, "limit:") {
				rule, bad = rules.ImageLimitReached, strings.TrimPrefix(bad, "limit:")
			}
			lr.add(rules.New(rule, fmt.Sprintf("layer %d: %q", n, truncate(h.Name, 200)), fmt.Sprintf("layer %d entry %q %s; it is left out", n, truncate(h.Name, 200), bad)))
			continue
		}
		e := entry{path: p, size: h.Size, uid: h.Uid, gid: h.Gid, modTime: h.ModTime, mode: fs.FileMode(h.Mode).Perm()}
		if h.Mode&04000 != 0 {
			e.mode |= fs.ModeSetuid
		}
		if h.Mode&02000 != 0 {
			e.mode |= fs.ModeSetgid
		}
		if h.Mode&01000 != 0 {
			e.mode |= fs.ModeSticky
		}
		base := path.Base(p)
		if strings.HasPrefix(base, ".wh.") {
			r.whiteout(lr, h, &e, base, seen)
			continue
		}
		seen[p] = true
		switch h.Typeflag {
		case tar.TypeDir:
			e.kind, e.mode = kindDir, e.mode|fs.ModeDir
		case tar.TypeSymlink:
			e.kind, e.mode, e.link = kindSymlink, e.mode|fs.ModeSymlink, h.Linkname
			if len(h.Linkname) > r.lim.MaxPath {
				lr.add(rules.New(rules.ImageLimitReached, "/"+p, fmt.Sprintf("layer %d: the link /%s names a target longer than %d bytes; it is left out", n, p, r.lim.MaxPath)))
				continue
			}
		case tar.TypeLink:
			t, bad := cleanEntryName(h.Linkname, r.lim)
			if bad != "" || t == "" {
				lr.add(rules.New(rules.ImageHardlinkEscape, "/"+p, fmt.Sprintf("layer %d: /%s is a hard link to %q, outside the image; it is left out", n, p, truncate(h.Linkname, 200))))
				continue
			}
			e.kind, e.link = kindHardlink, t
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
			e.kind = kindFile
			if h.Typeflag == tar.TypeGNUSparse {
				// archive/tar expands sparse files; the size read is the
				// expanded one.
				e.size = h.Size
			}
			var off int64 = -1
			if raw != nil {
				off, _ = raw.Seek(0, io.SeekCurrent)
			}
			if body == nil {
				body = bufio.NewReaderSize(tr, 64<<10)
			} else {
				body.Reset(tr)
			}
			r.file(ctx, lr, &e, body, raw, off, buf)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			if strings.HasPrefix(p, "dev/") {
				continue // a root filesystem's /dev (debootstrap); runtimes mount their own over it
			}
			lr.add(rules.New(rules.ImageSpecialFile, "/"+p, fmt.Sprintf("layer %d: /%s is a %s; it is left out", n, p, specialName(h.Typeflag))))
			continue
		case tar.TypeXGlobalHeader:
			continue
		default:
			lr.add(rules.New(rules.ImageSpecialFile, "/"+p, fmt.Sprintf("layer %d: /%s has tar type %q, which no runtime unpacks; it is left out", n, p, string(h.Typeflag))))
			continue
		}
		lr.entries = append(lr.entries, e)
	}
}

func specialName(t byte) string {
	switch t {
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	}
	return "FIFO"
}

// cleanEntryName makes a tar name relative to the root; bad says why it
// cannot be (prefixed "limit:" for a bound).
func cleanEntryName(name string, lim Limits) (p, bad string) {
	if len(name) > lim.MaxPath {
		return "", fmt.Sprintf("limit:is longer than %d bytes", lim.MaxPath)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", "holds a NUL byte"
	}
	p = path.Clean("/" + name)
	// A name that climbs out ("../x", "a/../../x") is cleaned back into
	// the root by path.Clean("/"+...); the raw components tell.
	depth := 0
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", "climbs out of the root"
			}
		default:
			depth++
		}
	}
	if strings.Count(p, "/") > lim.MaxPathDepth {
		return "", fmt.Sprintf("limit:is nested deeper than %d directories", lim.MaxPathDepth)
	}
	return strings.TrimPrefix(p, "/"), ""
}

func (r *run) whiteout(lr *layerResult, h *tar.Header, e *entry, base string, seen map[string]bool) {
	n := lr.src.index + 1
	dir := path.Dir(e.path)
	if dir == "." {
		dir = ""
	}
	loc := "/" + e.path
	bad := func(why string) {
		lr.add(rules.New(rules.ImageWhiteoutInvalid, loc, fmt.Sprintf("layer %d: whiteout /%s %s", n, e.path, why)))
	}
	if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
		bad("is not a regular file; runtimes disagree on what it does")
	} else if h.Size != 0 {
		bad(fmt.Sprintf("carries %d bytes; a whiteout is empty", h.Size))
	}
	if base == ".wh..wh..opq" {
		e.kind, e.path = kindOpaque, dir
		lr.entries = append(lr.entries, *e)
		return
	}
	target := strings.TrimPrefix(base, ".wh.")
	switch {
	case target == "" || target == "." || target == "..":
		bad(fmt.Sprintf("names %q; it is ignored", target))
		return
	case strings.HasPrefix(target, ".wh."):
		bad("names another whiteout; it is ignored")
		return
	}
	e.kind = kindWhiteout
	e.path = path.Join(dir, target)
	if seen[e.path] {
		bad(fmt.Sprintf("deletes /%s, which the same layer adds; whiteouts apply to lower layers only, and runtimes differ", e.path))
	}
	lr.entries = append(lr.entries, *e)
}

// file handles one regular file as its bytes pass: it keeps what the
// inventory needs, runs the text checks on small files, and hands what
// the engine recognises to the engine.
func (r *run) file(ctx context.Context, lr *layerResult, e *entry, body *bufio.Reader, raw *io.SectionReader, off int64, buf []byte) {
	n := lr.src.index + 1
	display := "/" + e.path
	keep := r.wantKeep(e)
	small := e.size <= int64(len(buf))
	if keep && e.size > r.lim.MaxKeptFile || keep && r.kept.Add(e.size) > r.lim.MaxKept {
		keep = false
		e.dropped = true
		lr.add(rules.New(rules.ImageLimitReached, display, fmt.Sprintf("layer %d: /%s is %d bytes, more than this run keeps in memory (%d per file, %d in all); what it declares was not read", n, e.path, e.size, r.lim.MaxKeptFile, r.lim.MaxKept)))
	}
	if small || keep {
		var data []byte
		if keep {
			data = make([]byte, e.size)
		} else {
			data = buf[:e.size]
		}
		if _, err := io.ReadFull(body, data); err != nil {
			return // the tar reader reports the damage on Next
		}
		if keep {
			e.data, e.kept = data, true
		}
		r.wholeFile(ctx, lr, e, data)
		return
	}
	head, _ := body.Peek(analyzer.HeadSize)
	sn := &analyzer.Sniff{Head: head, Size: e.size, Name: path.Base(e.path)}
	switch {
	case r.engine.Recognises(sn):
		// A model is hashed as it is read (the BOM and the signature
		// policy need its SHA-256).
		h := sha256.New()
		var a report.Artifact
		if raw != nil && off >= 0 {
			sec := io.NewSectionReader(raw, off, e.size)
			a = r.engine.ScanReaderAt(ctx, sec, e.size, display)
			io.Copy(h, io.NewSectionReader(sec, 0, e.size))
		} else {
			rest := io.LimitReader(body, e.size)
			a = r.engine.ScanStream(ctx, io.TeeReader(rest, h), e.size, display)
			io.Copy(h, rest)
		}
		setHash(&a, hex.EncodeToString(h.Sum(nil)))
		r.addFile(lr, e, &a)
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		var gb goBinary
		var ok bool
		if raw != nil && off >= 0 {
			// In place: the section table says where Go's build
			// information is, and nothing else of the file is read.
			gb, ok = elfBuildInfo(io.NewSectionReader(raw, off, e.size))
		} else {
			gb, ok = findGoBuildInfo(io.LimitReader(body, e.size))
		}
		if ok {
			gb.path, gb.layer = e.path, lr.src.index
			lr.goBinaries = append(lr.goBinaries, gb)
		}
	}
}

// wholeFile runs every check on a file read whole.
func (r *run) wholeFile(ctx context.Context, lr *layerResult, e *entry, data []byte) {
	display := "/" + e.path
	var a *report.Artifact
	sn := &analyzer.Sniff{Head: data[:min(len(data), analyzer.HeadSize)], Tail: data[len(data)-min(len(data), analyzer.TailSize):], Size: int64(len(data)), Name: path.Base(e.path)}
	if r.engine.Recognises(sn) {
		x := r.engine.ScanReaderAt(ctx, analyzer.Bytes(data), int64(len(data)), display)
		setHash(&x, sha256Hex(data))
		a = &x
	}
	if fs := r.textFindings(e, data); len(fs) > 0 {
		if a == nil {
			a = &report.Artifact{Path: display, Format: "other", Size: int64(len(data))}
		}
		for _, f := range fs {
			a.Add(f)
		}
	}
	if a != nil {
		r.addFile(lr, e, a)
	}
	if bytes.HasPrefix(data, []byte("\x7fELF")) {
		if gb, ok := findGoBuildInfo(bytes.NewReader(data)); ok {
			gb.path, gb.layer = e.path, lr.src.index
			lr.goBinaries = append(lr.goBinaries, gb)
		}
	}
}

// addFile keeps a file's artifact when it describes a model or found
// something: the image report lists models and flagged files, not every
// file the engine looked at.
func (r *run) addFile(lr *layerResult, e *entry, a *report.Artifact) {
	if !isModel(a) && a.Verdict == report.Clean && len(a.Findings) == 0 {
		return
	}
	if a.Properties == nil {
		a.Properties = map[string]string{}
	}
	a.Properties["layer"] = fmt.Sprint(lr.src.index + 1)
	if lr.src.diffID != "" {
		a.Properties["layer_diff_id"] = lr.src.diffID
	}
	a.Properties["mode"] = fmt.Sprintf("%04o", uint32(e.mode.Perm())|modeBits(e.mode))
	lr.files = append(lr.files, a)
}

func modeBits(m fs.FileMode) uint32 {
	var b uint32
	if m&fs.ModeSetuid != 0 {
		b |= 04000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 02000
	}
	if m&fs.ModeSticky != 0 {
		b |= 01000
	}
	return b
}

// notModels are the engine's formats that are not models by themselves:
// containers and text.
var notModels = map[string]bool{"other": true, "compressed": true, "tar": true, "zip": true, "7z": true, "config": true, "": true,
	"gzip": true, "bzip2": true, "xz": true, "lzma": true, "zlib": true, "lz4": true, "zstd": true}

// isModel reports whether the engine found a model format in the file, at
// its top or inside it ("pickle+gzip" is a compressed pickle).
func isModel(a *report.Artifact) bool {
	for _, f := range strings.FieldsFunc(a.Format+","+a.Properties["contains"], func(r rune) bool { return r == ',' || r == '+' }) {
		if !notModels[f] {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func setHash(a *report.Artifact, sum string) {
	if a.Properties == nil {
		a.Properties = map[string]string{}
	}
	a.Properties["sha256"] = sum
}
