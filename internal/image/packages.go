package image

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/condameta"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/purl"

	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// Package is one installed package of the image.
type Package struct {
	// Ecosystem is the OSV ecosystem with its release ("Debian:12",
	// "Alpine:v3.20", "PyPI", "npm", "Go").
	Ecosystem string
	Name      string
	Version   string
	// Source and SourceVersion are the source package of a distribution
	// package (what Debian's advisories name).
	Source        string
	SourceVersion string
	PURL          string
	// Extractor is the osv-scalibr extractor (or "go/buildinfo").
	Extractor string
	// File is the file that declares it ("/var/lib/dpkg/status").
	File string
	// Layer is the 1-based layer that installed it.
	Layer int
}

// extractors are osv-scalibr's extractors of installed packages: what
// trivy and syft list for an image. Adding one is one line.
var extractors = func() []filesystem.Extractor {
	var out []filesystem.Extractor
	for _, mk := range []func() (filesystem.Extractor, error){
		func() (filesystem.Extractor, error) { return dpkg.New(nil) },
		func() (filesystem.Extractor, error) { return apk.New(nil) },
		func() (filesystem.Extractor, error) { return wheelegg.New(nil) },
		func() (filesystem.Extractor, error) { return condameta.New(nil) },
		func() (filesystem.Extractor, error) { return packagejson.New(nil) },
	} {
		e, err := mk()
		if err != nil {
			panic("image: " + err.Error())
		}
		out = append(out, e)
	}
	return out
}()

type fileAPI struct {
	path string
	info fs.FileInfo
}

func (f fileAPI) Path() string               { return f.path }
func (f fileAPI) Stat() (fs.FileInfo, error) { return f.info, nil }

type entryInfo struct{ e *entry }

func (i entryInfo) Name() string       { return path.Base(i.e.path) }
func (i entryInfo) Size() int64        { return i.e.size }
func (i entryInfo) Mode() fs.FileMode  { return i.e.mode }
func (i entryInfo) ModTime() time.Time { return i.e.modTime }
func (i entryInfo) IsDir() bool        { return false }
func (i entryInfo) Sys() any           { return nil }

// requiredBy returns the extractor that wants the file, or nil.
func requiredBy(p string, info fs.FileInfo) filesystem.Extractor {
	api := fileAPI{path: p, info: info}
	for _, e := range extractors {
		if e.FileRequired(api) {
			return e
		}
	}
	return nil
}

// extract runs the extractors over the final filesystem.
func (r *run) extract(ctx context.Context, t *tree, img *report.Artifact) []Package {
	var out []Package
	fsys := treeFS{t}
	t.walk(func(n *node) {
		if n.kind != kindFile {
			return
		}
		e := requiredBy(n.path, nodeInfo{n})
		if e == nil {
			return
		}
		if !n.kept {
			if !n.dropped {
				img.Add(rules.New(rules.ImageLimitReached, "/"+n.path, fmt.Sprintf("/%s (%s) was not kept in memory; its packages were not read", n.path, e.Name())))
			}
			return
		}
		pkgs, err := r.runExtractor(ctx, e, fsys, n.path, nodeInfo{n}, n.data)
		if err != nil {
			img.Add(rules.New(rules.ImagePackageDbInvalid, "/"+n.path, fmt.Sprintf("/%s cannot be read as %s: %v; its packages were not checked", n.path, e.Name(), err)))
		}
		layerOf := func(Package) int { return n.layer + 1 }
		if vs := t.versions[n.path]; len(vs) > 1 {
			layerOf = r.attribute(ctx, e, fsys, n, vs)
		}
		for i := range pkgs {
			pkgs[i].Layer = layerOf(pkgs[i])
		}
		out = append(out, pkgs...)
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Ecosystem != out[j].Ecosystem {
			return out[i].Ecosystem < out[j].Ecosystem
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].File < out[j].File
	})
	return out
}

// attribute traces each package of a single-file database (dpkg status)
// to the layer from which on it is listed with its final version.
func (r *run) attribute(ctx context.Context, e filesystem.Extractor, fsys treeFS, n *node, vs []version) func(Package) int {
	since := map[string]int{}
	prev := map[string]string{}
	for _, v := range vs {
		pkgs, _ := r.runExtractor(ctx, e, fsys, n.path, nodeInfo{n}, v.data)
		cur := map[string]string{}
		for _, p := range pkgs {
			cur[p.Name] = p.Version
			if prev[p.Name] != p.Version {
				since[p.Name] = v.layer + 1
			}
		}
		prev = cur
	}
	return func(p Package) int {
		if l, ok := since[p.Name]; ok {
			return l
		}
		return n.layer + 1
	}
}

func (r *run) runExtractor(ctx context.Context, e filesystem.Extractor, fsys treeFS, p string, info fs.FileInfo, data []byte) (pkgs []Package, err error) {
	// Third-party code handed hostile input: a panic is this file's error.
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("%s extractor failed: %v", e.Name(), x)
		}
	}()
	in := &filesystem.ScanInput{FS: fsys, Path: p, Info: info, Reader: bytes.NewReader(data)}
	inv, err := e.Extract(ctx, in)
	for _, x := range inv.Packages {
		pkgs = append(pkgs, convert(e.Name(), "/"+p, x))
	}
	return pkgs, err
}

func convert(ex, file string, x *extractor.Package) Package {
	p := Package{Ecosystem: x.Ecosystem().String(), Name: x.Name, Version: x.Version, Extractor: ex, File: file}
	if u := x.PURL(); u != nil {
		p.PURL = u.String()
	}
	switch m := x.Metadata.(type) {
	case *dpkgmeta.Metadata:
		p.Source, p.SourceVersion = m.SourceName, m.SourceVersion
	case *apkmeta.Metadata:
		p.Source = m.OriginName
	}
	if p.Ecosystem == "" {
		p.Ecosystem = strings.ToUpper(x.PURLType[:1]) + x.PURLType[1:]
	}
	return p
}

// goPackages lists the toolchain and modules of Go executables, as
// osv-scalibr's Go binary extractor names them (stdlib for the
// toolchain).
func goPackages(bins []goBinary) []Package {
	var out []Package
	for _, b := range bins {
		file := "/" + b.path
		add := func(name, version string) {
			if version == "" || version == "(devel)" {
				return
			}
			v := strings.TrimPrefix(version, "v")
			out = append(out, Package{Ecosystem: "Go", Name: name, Version: v, Extractor: "go/buildinfo", File: file, Layer: b.layer + 1,
				PURL: (&purl.PackageURL{Type: purl.TypeGolang, Name: name, Version: v}).String()})
		}
		gov := strings.TrimPrefix(b.info.GoVersion, "go")
		if i := strings.IndexAny(gov, " +"); i >= 0 {
			gov = gov[:i]
		}
		add("stdlib", gov)
		add(b.info.Main.Path, b.info.Main.Version)
		for _, d := range b.info.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			add(d.Path, d.Version)
		}
	}
	return out
}
