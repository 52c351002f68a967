package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/deps"
	"github.com/aigis-dev/aigis/internal/deps/correlate"
	"github.com/aigis-dev/aigis/internal/image/gpu"
	"github.com/aigis-dev/aigis/internal/osvdb"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

// Options configure an analysis. The zero value analyses a local target
// with every core, the default limits and no vulnerability database.
type Options struct {
	Workers int
	Limits  Limits
	// Platform chooses the image of an index ("linux/amd64"); "" is linux
	// on this machine's architecture.
	Platform string
	// RootFS makes the target an unpacked root filesystem (the host: /).
	RootFS bool
	Remote RemoteOptions
	// DB is the OSV database packages are matched against; nil skips the
	// match (names and model correlations still run).
	DB *osvdb.DB
	// Signatures, when set, requires every model to be signed.
	Signatures *SignaturePolicy
}

// Layer describes one layer as read.
type Layer struct {
	Index       int // 1-based
	Digest      string
	DiffID      string
	Size        int64 // bytes as stored
	Expanded    int64 // bytes of tar
	Compression string
	CreatedBy   string
}

// Result is what an analysis found. Artifacts is the report, in order:
// the image, its layers, its files (models and flagged files), its
// packages, its GPU stack. The other fields are the same facts in typed
// form, for verbs built on this one.
type Result struct {
	Target    string
	Kind      string
	Digest    string
	OS, Arch  string
	User      string
	Env       []string
	Layers    []Layer
	Packages  []Package
	Models    []*report.Artifact
	GPU       *gpu.Stack
	Artifacts []report.Artifact
}

type run struct {
	opt     Options
	lim     Limits
	engine  *scan.Scanner
	kept    atomic.Int64
	entries atomic.Int64
}

// Analyze reads target and checks everything in it. An error is a target
// that cannot be reached (a missing path, an unreachable registry);
// everything wrong inside a target is a finding.
func Analyze(ctx context.Context, target string, opt Options) (*Result, error) {
	r := &run{opt: opt, lim: opt.Limits.withDefaults()}
	if r.opt.Workers <= 0 {
		r.opt.Workers = runtime.NumCPU()
	}
	ctx, cancel := context.WithTimeout(ctx, r.lim.Timeout)
	defer cancel()
	el := analyzer.DefaultLimits()
	el.MaxMemory = r.lim.MaxModelMemory
	el.NoSpill = true
	r.engine = scan.New(scan.Options{Workers: r.opt.Workers, Limits: el})

	if opt.RootFS {
		return r.rootfs(ctx, target)
	}
	want, err := parsePlatform(opt.Platform)
	if err != nil {
		return nil, err
	}
	src, err := open(ctx, target, want, opt.Remote, r.lim)
	var inv *errInvalid
	if errors.As(err, &inv) {
		res := &Result{Target: target, Kind: kindOf(target)}
		a := report.Artifact{Path: target, Format: res.Kind}
		a.Add(rules.New(rules.ImageManifestInvalid, "", inv.msg))
		res.Artifacts = []report.Artifact{a}
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return r.image(ctx, src)
}

func kindOf(target string) string {
	st, err := os.Stat(target)
	switch {
	case err != nil:
		return KindRegistry
	case st.IsDir():
		return KindLayout
	}
	return KindArchive
}

// open resolves a target: "oci:DIR", "docker-archive:FILE",
// "registry:REF" or "docker://REF" say what it is; otherwise a directory
// is an OCI layout, a file a docker save tarball, and anything else that
// parses as a reference an image in a registry.
func open(ctx context.Context, target string, want *v1.Platform, ro RemoteOptions, lim Limits) (*source, error) {
	switch {
	case strings.HasPrefix(target, "oci:"):
		return openLayout(strings.TrimPrefix(target, "oci:"), want, lim)
	case strings.HasPrefix(target, "docker-archive:"):
		return openArchive(strings.TrimPrefix(target, "docker-archive:"), lim)
	case strings.HasPrefix(target, "registry:"):
		return openRemote(ctx, strings.TrimPrefix(target, "registry:"), want, ro, lim)
	case strings.HasPrefix(target, "docker://"):
		return openRemote(ctx, strings.TrimPrefix(target, "docker://"), want, ro, lim)
	}
	st, err := os.Stat(target)
	if err == nil {
		if st.IsDir() {
			if _, err := os.Stat(filepath.Join(target, "oci-layout")); err != nil {
				return nil, fmt.Errorf("%s is a directory without an oci-layout file; to analyse an unpacked root filesystem, use --rootfs", target)
			}
			return openLayout(target, want, lim)
		}
		return openArchive(target, lim)
	}
	if !errors.Is(err, os.ErrNotExist) || !looksLikeReference(target) {
		return nil, err
	}
	return openRemote(ctx, target, want, ro, lim)
}

// image analyses an opened image.
func (r *run) image(ctx context.Context, src *source) (*Result, error) {
	res := &Result{Target: src.ref, Kind: src.kind, Digest: src.digest}
	img := report.Artifact{Path: src.ref, Format: src.kind, Properties: map[string]string{}}
	if src.digest != "" {
		img.Properties["digest"] = src.digest
	}
	if src.mediaType != "" {
		img.Properties["media_type"] = src.mediaType
	}
	for _, p := range src.problems {
		img.Add(rules.New(rules.ImageManifestInvalid, "", p))
	}
	var cfg imageConfig
	if err := json.Unmarshal(src.config, &cfg); err != nil {
		img.Add(rules.New(rules.ImageManifestInvalid, "config", fmt.Sprintf("the image configuration is not valid JSON: %v", err)))
	}
	res.OS, res.Arch, res.User, res.Env = cfg.OS, cfg.Architecture, cfg.Config.User, cfg.Config.Env
	img.Properties["os"], img.Properties["architecture"] = cfg.OS, cfg.Architecture
	img.Properties["user"] = cfg.Config.User
	img.Properties["layers"] = strconv.Itoa(len(src.layers))

	results := r.readLayers(ctx, src.layers)
	t := newTree()
	layers := make([]*report.Artifact, len(results))
	history := historyByLayer(&cfg)
	for i, lr := range results {
		t.apply(lr)
		l := Layer{Index: i + 1, Digest: lr.digest, DiffID: lr.diffID, Size: lr.stored, Expanded: lr.expanded, Compression: lr.compression}
		if i < len(history) {
			l.CreatedBy = history[i]
		}
		res.Layers = append(res.Layers, l)
		a := &report.Artifact{Path: fmt.Sprintf("%s#layer/%d", src.ref, i+1), Format: "layer", Size: lr.stored, Properties: map[string]string{
			"layer": strconv.Itoa(i + 1), "compression": lr.compression, "expanded": strconv.FormatInt(lr.expanded, 10),
			"entries": strconv.Itoa(len(lr.entries)),
		}}
		if d := firstNonEmpty(lr.src.digest, lr.digest); d != "" {
			a.Properties["digest"] = d
		}
		if lr.src.diffID != "" {
			a.Properties["diff_id"] = lr.src.diffID
		}
		if l.CreatedBy != "" {
			a.Properties["created_by"] = truncate(l.CreatedBy, 500)
		}
		for _, f := range lr.findings {
			a.Add(f)
		}
		layers[i] = a
	}
	configChecks(&cfg, &img, layers)
	r.finish(ctx, res, t, results, &img, layers, cfg.Config.Env)
	return res, nil
}

func historyByLayer(cfg *imageConfig) []string {
	var out []string
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			out = append(out, h.CreatedBy)
		}
	}
	return out
}

// readLayers reads the layers on up to Workers goroutines; each layer is
// one stream, so they are independent until they are squashed.
func (r *run) readLayers(ctx context.Context, srcs []*layerSrc) []*layerResult {
	out := make([]*layerResult, len(srcs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(r.opt.Workers, len(srcs))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = r.readLayer(ctx, srcs[i])
			}
		}()
	}
	// Largest first: the wall time is the largest layer's.
	order := make([]int, len(srcs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return srcs[order[a]].size > srcs[order[b]].size })
	for _, i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// finish squashes what the layers found into the report: files with their
// state, packages, the GPU stack.
func (r *run) finish(ctx context.Context, res *Result, t *tree, results []*layerResult, img *report.Artifact, layers []*report.Artifact, env []string) {
	var files []*report.Artifact
	var bins []goBinary
	for _, lr := range results {
		files = append(files, lr.files...)
		bins = append(bins, lr.goBinaries...)
	}
	sort.SliceStable(files, func(i, j int) bool {
		if files[i].Path != files[j].Path {
			return files[i].Path < files[j].Path
		}
		return files[i].Properties["layer"] < files[j].Properties["layer"]
	})
	models := map[correlate.Kind][]string{}
	for _, a := range files {
		r.fileState(t, a)
		if isModel(a) {
			res.Models = append(res.Models, a)
			for _, k := range correlate.KindsOf(a) {
				models[k] = append(models[k], a.Path)
			}
			if a.Properties["state"] == "present" {
				worldWritable(t, a)
			}
		}
	}
	if r.opt.Signatures != nil {
		r.opt.Signatures.check(t, res.Models)
	}
	// Packages.
	pkgs := r.extract(ctx, t, img)
	var live []goBinary
	for _, b := range bins {
		if n, err := t.lookup(b.path); err == nil && n.layer == b.layer {
			live = append(live, b)
		}
	}
	pkgs = append(pkgs, goPackages(live)...)
	res.Packages = pkgs
	m := deps.NewMatcher(r.opt.DB)
	noData := map[string]int{}
	var pkgArts []report.Artifact
	for _, p := range pkgs {
		a := report.Artifact{Path: p.File + ">" + p.Name + "@" + p.Version, Format: "package:" + p.Extractor, Properties: map[string]string{
			"ecosystem": p.Ecosystem, "name": p.Name, "version": p.Version, "layer": strconv.Itoa(p.Layer),
		}}
		if p.PURL != "" {
			a.Properties["purl"] = p.PURL
		}
		if p.Source != "" {
			a.Properties["source"] = p.Source
		}
		dp := deps.Package{Ecosystem: p.Ecosystem, Name: p.Name, Version: p.Version}
		if p.Source != "" && strings.HasPrefix(p.Ecosystem, "Debian") {
			dp.Name = p.Source
			if p.SourceVersion != "" {
				dp.Version = p.SourceVersion
			}
		} else if p.Source != "" && strings.HasPrefix(p.Ecosystem, "Alpine") {
			dp.Name = p.Source
		}
		if r.opt.DB != nil && !m.HasData(p.Ecosystem) {
			noData[osvdb.BaseEcosystem(p.Ecosystem)]++
		}
		for _, f := range m.Vulns(dp, p.Name+"@"+p.Version, models) {
			a.Add(f)
		}
		pkgArts = append(pkgArts, a)
	}
	for _, eco := range sortedKeys(noData) {
		img.Add(rules.New(rules.DepsNoAdvisoryData, "", fmt.Sprintf("%d %s packages were not checked: the database has no %s export (aigis db import)", noData[eco], eco, eco)))
	}
	img.Properties["packages"] = strconv.Itoa(len(pkgs))
	img.Properties["models"] = strconv.Itoa(len(res.Models))

	// GPU stack.
	gin := gpu.Input{Env: env, Read: func(p string) ([]byte, bool) {
		n, err := t.lookup(p)
		if err != nil || !n.kept {
			return nil, false
		}
		return n.data, true
	}}
	t.walk(func(n *node) {
		if n.kind == kindFile || n.kind == kindSymlink {
			gin.Files = append(gin.Files, gpu.File{Path: n.path, Layer: n.layer + 1})
		}
	})
	for _, p := range pkgs {
		gin.Packages = append(gin.Packages, gpu.Package{Ecosystem: osvdb.BaseEcosystem(p.Ecosystem), Name: p.Name, Version: p.Version, Layer: p.Layer})
	}
	res.GPU = gpu.Identify(gin)
	gpuArts := gpuArtifacts(res.GPU)
	var names []string
	for _, c := range res.GPU.Components {
		names = append(names, c.Name+" "+orUnknown(c.Version))
	}
	img.Properties["gpu_stack"] = "none found"
	if len(names) > 0 {
		img.Properties["gpu_stack"] = strings.Join(names, ", ")
	}

	res.Artifacts = append(res.Artifacts, *img)
	for _, l := range layers {
		res.Artifacts = append(res.Artifacts, *l)
	}
	for _, f := range files {
		res.Artifacts = append(res.Artifacts, *f)
	}
	res.Artifacts = append(res.Artifacts, pkgArts...)
	res.Artifacts = append(res.Artifacts, gpuArts...)
}

// fileState says whether a file reported from a layer is what the final
// filesystem holds at its path, or was deleted or replaced later.
func (r *run) fileState(t *tree, a *report.Artifact) {
	layer, _ := strconv.Atoi(a.Properties["layer"])
	n, err := t.lookup(strings.TrimPrefix(a.Path, "/"))
	switch {
	case err == nil && n.kind == kindFile && n.layer == layer-1:
		a.Properties["state"] = "present"
		return
	case err == nil:
		a.Properties["state"] = "replaced"
		a.Properties["replaced_in_layer"] = strconv.Itoa(n.layer + 1)
		a.Add(rules.New(rules.ImageFileHidden, "", fmt.Sprintf("%s from layer %d is replaced by layer %d; its bytes are still in the image", a.Path, layer, n.layer+1)))
	default:
		a.Properties["state"] = "deleted"
		a.Add(rules.New(rules.ImageFileHidden, "", fmt.Sprintf("%s from layer %d is deleted by a later layer; its bytes are still in the image", a.Path, layer)))
	}
}

// worldWritable flags a model that any user can replace.
func worldWritable(t *tree, a *report.Artifact) {
	p := strings.TrimPrefix(a.Path, "/")
	n, err := t.lookup(p)
	if err == nil && n.mode.Perm()&0o002 != 0 {
		a.Add(rules.New(rules.ImageModelDirWorldWritable, "", fmt.Sprintf("%s is writable by every user (mode %04o)", a.Path, n.mode.Perm())))
		return
	}
	for dir := parentDir(p); ; dir = parentDir(dir) {
		d, err := t.lookup(dir)
		if err == nil && d.mode.Perm()&0o002 != 0 {
			a.Add(rules.New(rules.ImageModelDirWorldWritable, "", fmt.Sprintf("%s is in /%s, which every user may write to (mode %04o%s)", a.Path, dir, d.mode.Perm(), stickyNote(d))))
			return
		}
		if dir == "" {
			return
		}
	}
}

func stickyNote(n *node) string {
	if n.mode&os.ModeSticky != 0 {
		return ", sticky: files can be added beside it"
	}
	return ""
}

func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

func gpuArtifacts(s *gpu.Stack) []report.Artifact {
	var out []report.Artifact
	for _, c := range s.Components {
		p := c.Source
		if len(c.Paths) > 0 {
			p = c.Paths[0]
		}
		a := report.Artifact{Path: "gpu:" + c.Name, Format: "gpu:" + c.Name, Properties: map[string]string{"component": c.Name}}
		if c.Version != "" {
			a.Properties["version"] = c.Version
			a.Properties["version_source"] = c.Source
		}
		if c.Layer > 0 {
			a.Properties["layer"] = strconv.Itoa(c.Layer)
		}
		if len(c.Paths) > 0 {
			a.Properties["paths"] = strings.Join(c.Paths, ",")
		}
		for _, f := range c.Facts {
			a.Properties[f.Key] = f.Value
		}
		switch c.Name {
		case gpu.Driver:
			if len(c.Paths) > 0 {
				a.Add(rules.New(rules.ImageGpuDriverInImage, p, fmt.Sprintf("NVIDIA driver %s user-space libraries are baked into the image (%s); they must come from the host", c.Version, strings.Join(c.Paths, ", "))))
			}
		case gpu.Toolkit:
			a.Add(rules.New(rules.ImageGpuToolkitInImage, p, fmt.Sprintf("the NVIDIA Container Toolkit %s is installed in the image", orUnknown(c.Version))))
		}
		for _, h := range gpu.Match(c) {
			sev, _ := report.ParseSeverity(h.Advisory.Severity)
			verdict := report.Suspicious
			msg := fmt.Sprintf("%s %s: %s; fixed in %s", c.Name, orUnknown(c.Version), h.Why, orUnknown(h.Advisory.Fixed))
			if h.Check {
				verdict, sev = report.Clean, report.SeverityInfo
				msg = fmt.Sprintf("%s %s: %s; check %s (%s)", c.Name, orUnknown(c.Version), h.Why, h.Advisory.Bulletin, h.Advisory.Title)
			}
			reason := fmt.Sprintf("NVIDIA security bulletin %s: %s. NVIDIA states: %s.", h.Advisory.Bulletin, h.Advisory.Title, h.Advisory.Stated)
			a.Add(rules.FromData(h.Advisory.ID, verdict, sev, reason, c.Name+"@"+orUnknown(c.Version), msg))
		}
		out = append(out, a)
	}
	return out
}

func orUnknown(v string) string {
	if v == "" {
		return "(version unknown)"
	}
	return v
}

func sortStrings(s []string) { sort.Strings(s) }
