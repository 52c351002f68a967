package image

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"syscall"

	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// skipTop are the pseudo filesystems of a running host: their files are
// the kernel's, not the root filesystem's.
var skipTop = map[string]bool{"proc": true, "sys": true, "dev": true, "run": true}

// rootfs analyses an unpacked root filesystem as one layer. Files are read
// through an os.Root opened at dir, so no link leads out of it, and never
// written.
func (r *run) rootfs(ctx context.Context, dir string) (*Result, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("--rootfs %s: not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	res := &Result{Target: dir, Kind: KindRootFS}
	img := report.Artifact{Path: dir, Format: KindRootFS, Properties: map[string]string{}}
	lr := &layerResult{src: &layerSrc{index: 0}, compression: "none", complete: true}
	buf := make([]byte, r.lim.MaxTextScan)
	body := bufio.NewReaderSize(nil, 64<<10)
	var walk func(rel string, depth int) bool
	walk = func(rel string, depth int) bool {
		if err := ctx.Err(); err != nil {
			lr.add(rules.New(rules.ImageLimitReached, "", fmt.Sprintf("stopped: %v", err)))
			return false
		}
		d, err := root.Open(dirName(rel))
		if err != nil {
			return true
		}
		ents, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return true
		}
		for _, de := range ents {
			p := path.Join(rel, de.Name())
			if depth == 0 && skipTop[de.Name()] {
				continue
			}
			if r.entries.Add(1) > int64(r.lim.MaxTotalEntries) {
				lr.add(rules.New(rules.ImageLimitReached, "", fmt.Sprintf("more than %d files; the rest was not read", r.lim.MaxTotalEntries)))
				return false
			}
			info, err := root.Lstat(p)
			if err != nil {
				continue
			}
			e := entry{path: p, mode: info.Mode(), size: info.Size(), modTime: info.ModTime()}
			if sys, ok := info.Sys().(*syscall.Stat_t); ok {
				e.uid, e.gid = int(sys.Uid), int(sys.Gid)
			}
			switch {
			case info.IsDir():
				e.kind = kindDir
				lr.entries = append(lr.entries, e)
				if depth+1 < r.lim.MaxPathDepth && !walk(p, depth+1) {
					return false
				}
				continue
			case info.Mode()&fs.ModeSymlink != 0:
				t, err := root.Readlink(p)
				if err != nil {
					continue
				}
				e.kind, e.link = kindSymlink, t
			case info.Mode().IsRegular():
				e.kind = kindFile
				f, err := root.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
				if err != nil {
					continue
				}
				raw := io.NewSectionReader(f, 0, e.size)
				body.Reset(raw)
				r.file(ctx, lr, &e, body, raw, 0, buf)
				f.Close()
			default:
				continue // sockets, FIFOs and devices are a host's business
			}
			lr.entries = append(lr.entries, e)
		}
		return true
	}
	walk("", 0)
	t := newTree()
	t.apply(lr)
	layer := &report.Artifact{Path: dir + "#layer/1", Format: "layer", Properties: map[string]string{"layer": "1", "entries": strconv.Itoa(len(lr.entries))}}
	for _, f := range lr.findings {
		layer.Add(f)
	}
	res.Layers = []Layer{{Index: 1, Compression: "none"}}
	r.finish(ctx, res, t, []*layerResult{lr}, &img, []*report.Artifact{layer}, nil)
	return res, nil
}

func dirName(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}
