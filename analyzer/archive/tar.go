package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/rules"
)

// Tar analyses tar archives (ustar, GNU, PAX and v7). Members of a
// seekable tar are analysed in place; members of a compressed tar are
// streamed.
type Tar struct{}

func (Tar) Name() string { return "tar" }

// Match accepts the ustar magic, or a v7 header whose checksum is right.
func (Tar) Match(s *analyzer.Sniff) bool {
	h := s.Head
	if len(h) < 512 {
		return false
	}
	if bytes.Equal(h[257:262], []byte("ustar")) {
		return true
	}
	return validChecksum(h[:512]) && h[0] != 0
}

func validChecksum(h []byte) bool {
	field := bytes.TrimRight(bytes.TrimLeft(h[148:156], " \x00"), " \x00")
	want, err := strconv.ParseInt(string(field), 8, 64)
	if err != nil {
		return false
	}
	var sum int64
	for i, c := range h {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	return sum == want
}

// position counts bytes consumed from the archive, so that a member's
// data offset is known right after its header is read.
type position struct {
	r io.Reader
	n int64
}

func (p *position) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}

// seekPosition lets archive/tar skip member data by seeking instead of
// reading it, when the archive is seekable.
type seekPosition struct {
	position
	s io.Seeker
}

func (p *seekPosition) Seek(off int64, whence int) (int64, error) {
	n, err := p.s.Seek(off, whence)
	if err == nil {
		p.n = n
	}
	return n, err
}

func (Tar) Analyze(ctx context.Context, in *analyzer.Input, out *analyzer.Result) error {
	src, err := in.Open()
	if err != nil {
		return err
	}
	var ra io.ReaderAt
	if in.Seekable() {
		ra, _, _ = in.ReaderAt()
	}
	pos := &position{r: src}
	var tr *tar.Reader
	if sk, ok := src.(io.Seeker); ok && ra != nil {
		sp := &seekPosition{position: position{r: src}, s: sk}
		pos = &sp.position
		tr = tar.NewReader(sp)
	} else {
		tr = tar.NewReader(pos)
	}
	var end int64 // where the last member's data and padding end
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			// archive/tar treats an archive cut inside the last member's
			// padding as a clean end; the data is still short.
			if size := in.Size(); size >= 0 && end > size || size < 0 && end > pos.n {
				out.Problem(ctx, pos.n, "tar", io.ErrUnexpectedEOF)
			}
			return nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrHeader) {
				out.Problem(ctx, pos.n, "tar", err)
				return nil
			}
			return err
		}
		if !checkEntries(ctx, out, n+1, in.Budget) {
			return nil
		}
		end = pos.n + (hdr.Size+511)&^511
		if why := unsafePath(hdr.Name); why != "" {
			slipFinding(out, hdr.Name, why)
		}
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			if why := unsafeLink(hdr.Name, hdr.Linkname); why != "" {
				slipFinding(out, hdr.Name, why)
			}
			continue
		case tar.TypeLink:
			// A hard link names another member; its target path is
			// relative to the archive root, not to the link.
			if why := unsafePath(hdr.Linkname); why != "" {
				slipFinding(out, hdr.Name, fmt.Sprintf("is a hard link to %q, which %s", hdr.Linkname, why))
			}
			continue
		case tar.TypeReg, tar.TypeGNUSparse:
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			out.Add(rules.New(rules.ArchiveSpecialMember, out.Member(hdr.Name), fmt.Sprintf("member %q is a device or FIFO", hdr.Name)))
			continue
		default:
			continue
		}
		var child *analyzer.Input
		if ra != nil && hdr.Typeflag == tar.TypeReg {
			child = in.Child(hdr.Name, io.NewSectionReader(ra, pos.n, hdr.Size), hdr.Size)
		} else {
			child = in.ChildStream(hdr.Name, tr, hdr.Size)
		}
		if err := out.Recurse(ctx, child); err != nil {
			return err
		}
	}
}
