package deps

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/dotnet/packageslockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gomod"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/pnpmlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/yarnlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/php/composerlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/pdmlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/pipfilelock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/poetrylock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/pylock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/pyprojecttoml"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/requirements"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/uvlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/ruby/gemfilelock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargolock"
	scalibrfs "github.com/google/osv-scalibr/fs"
	scalibrlog "github.com/google/osv-scalibr/log"
	"github.com/google/osv-scalibr/purl"

	"github.com/aigis-dev/aigis/internal/deps/conda"
	"github.com/aigis-dev/aigis/internal/deps/indexes"
	"github.com/aigis-dev/aigis/internal/deps/pyreq"
	"github.com/aigis-dev/aigis/internal/osvdb"
)

// Package is one dependency found in a manifest.
type Package struct {
	Ecosystem string // OSV ecosystem: PyPI, npm, Go, ...
	Name      string
	// Version is the exact version installed; "" when the manifest does
	// not lock one (then Requirement says what it allows).
	Version     string
	Requirement string
	Line        int
	// Conda is the conda name a PyPI name was mapped from.
	Conda string
	// Native marks conda packages that are not Python distributions.
	Native bool
	// PURL is the package URL of a locked package ("" when unlocked), as
	// osv-scalibr spells it for its extractors.
	PURL string
}

// Locked reports whether the manifest fixes the installed version.
func (p Package) Locked() bool { return p.Version != "" }

// Manifest is one lockfile or manifest and what it declares.
type Manifest struct {
	Path     string // as reported: the target joined with the relative path
	Rel      string // relative to the walk root
	Format   string // extractor name, e.g. python/uvlock
	Lockfile bool   // every package is locked by construction
	Size     int64
	Packages []Package
	Signals  []indexes.Signal
	Err      error
}

// manifestExtractor is the one shape every format is driven through: the
// scanner walks once and offers each file to each extractor (the
// osv-scalibr plugin model).
type manifestExtractor struct {
	name     string
	lockfile bool
	scalibr  filesystem.Extractor // nil for aigis's own extractors
	own      func(rel string) bool
	extract  func(ctx context.Context, in *filesystem.ScanInput, text []byte) ([]Package, []indexes.Signal, error)
}

func init() {
	// osv-scalibr logs through a package-global logger to stderr; aigis
	// reports extraction problems as findings instead.
	scalibrlog.SetLogger(quietLogger{})
}

type quietLogger struct{}

func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Error(...any)          {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Warn(...any)           {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Info(...any)           {}
func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Debug(...any)          {}

// extractors lists every format, osv-scalibr's first. Adding a format is
// one line here.
var extractors = []manifestExtractor{
	scalibrExtractor(requirements.New(nil)),
	scalibrExtractor(pyprojecttoml.New(nil)),
	lock(poetrylock.New(nil)),
	lock(uvlock.New(nil)),
	lock(pipfilelock.New(nil)),
	lock(pdmlock.New(nil)),
	lock(pylock.New(nil)),
	lock(gomod.New(nil)),
	lock(packagelockjson.New(nil)),
	lock(pnpmlock.New(nil)),
	lock(yarnlock.New(nil)),
	lock(cargolock.New(nil)),
	lock(gemfilelock.New(nil)),
	lock(composerlock.New(nil)),
	lock(packageslockjson.New(nil)),
	{name: "conda/environment", own: conda.IsEnvironmentFile, extract: extractConda},
}

func scalibrExtractor(e filesystem.Extractor, err error) manifestExtractor {
	if err != nil {
		panic("deps: " + err.Error())
	}
	return manifestExtractor{name: e.Name(), scalibr: e, extract: func(ctx context.Context, in *filesystem.ScanInput, text []byte) ([]Package, []indexes.Signal, error) {
		return runScalibr(ctx, e, in)
	}}
}

func lock(e filesystem.Extractor, err error) manifestExtractor {
	m := scalibrExtractor(e, err)
	m.lockfile = true
	return m
}

func (m manifestExtractor) match(rel string, info fs.FileInfo) bool {
	if m.own != nil {
		return m.own(rel)
	}
	return m.scalibr.FileRequired(fileAPI{path: rel, info: info})
}

type fileAPI struct {
	path string
	info fs.FileInfo
}

func (f fileAPI) Path() string               { return f.path }
func (f fileAPI) Stat() (fs.FileInfo, error) { return f.info, nil }

// run extracts one file and adds the index signals of its format.
func (m manifestExtractor) run(ctx context.Context, root scalibrfs.FS, rootPath, rel string, info fs.FileInfo, text []byte) ([]Package, []indexes.Signal, error) {
	if isTOML(rel) {
		if err := checkTOMLDepth(text); err != nil {
			return nil, nil, err
		}
	}
	in := &filesystem.ScanInput{FS: root, Path: rel, Root: rootPath, Info: info, Reader: bytes.NewReader(text)}
	pkgs, sigs, err := m.extract(ctx, in, text)
	if err != nil {
		return pkgs, sigs, err
	}
	more, err := indexSignals(rel, string(text))
	return pkgs, append(sigs, more...), err
}

func indexSignals(rel, text string) ([]indexes.Signal, error) {
	base := filepath.Base(rel)
	switch {
	case base == "pyproject.toml":
		return indexes.FromPyproject(text)
	case base == "uv.lock":
		return indexes.FromUVLock(text)
	case base == "poetry.lock":
		return indexes.FromPoetryLock(text)
	case base == "Pipfile.lock":
		return indexes.FromPipfileLock(text)
	case strings.HasSuffix(base, ".txt") && strings.Contains(base, "requirements"):
		return indexes.FromRequirements(text)
	}
	return nil, nil
}

func runScalibr(ctx context.Context, e filesystem.Extractor, in *filesystem.ScanInput) (pkgs []Package, _ []indexes.Signal, err error) {
	// An extractor is third-party code handed hostile input: a panic in it
	// is this file's error, not the scan's end.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s extractor failed: %v", e.Name(), r)
		}
	}()
	inv, err := e.Extract(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range inv.Packages {
		for _, c := range convert(e.Name(), p) {
			if c.Locked() && c.PURL == "" {
				if u := p.PURL(); u != nil {
					c.PURL = u.String()
				}
			}
			pkgs = append(pkgs, c)
		}
	}
	return pkgs, nil, nil
}

// convert turns one scalibr package into aigis packages, deciding whether
// the manifest locks its version: a requirements line locks only with
// "==" or "===" (osv-scalibr reports the lowest bound of ">=" as the
// version, which is not what gets installed); pyproject.toml carries
// requirements in its metadata, not packages.
func convert(extractor string, p *extractor.Package) []Package {
	eco := string(p.Ecosystem().Ecosystem)
	line := 0
	if d := p.Location.Descriptor; d != nil && d.File != nil {
		line = d.File.LineNumber
	}
	switch md := p.Metadata.(type) {
	case *requirements.Metadata:
		out := Package{Ecosystem: eco, Name: p.Name, Line: line, Requirement: md.Requirement}
		if (md.VersionComparator == "==" || md.VersionComparator == "===") && p.Version != "" && !strings.Contains(p.Version, "*") {
			out.Version = p.Version
		}
		if out.Requirement == "" {
			out.Requirement = p.Name
		}
		return []Package{out}
	case *pyprojecttoml.Metadata:
		var out []Package
		reqs := append([]string(nil), md.Dependencies...)
		// Map order is random: walk the groups by name so output is stable.
		for _, name := range slices.Sorted(maps.Keys(md.OptionalDependencies)) {
			reqs = append(reqs, md.OptionalDependencies[name]...)
		}
		for _, r := range reqs {
			req, err := pyreq.Parse(r)
			if err != nil {
				continue
			}
			v, _ := req.Pinned()
			out = append(out, Package{Ecosystem: "PyPI", Name: req.Name, Version: v, Requirement: req.String(), PURL: pypiPURL(req.Name, v)})
		}
		return out
	}
	if extractor == gomod.Name && p.Name == "stdlib" {
		// The go directive is the minimum toolchain, not the one that
		// builds the module: matching it would report Go releases the
		// project may never use.
		return nil
	}
	return []Package{{Ecosystem: eco, Name: p.Name, Version: p.Version, Line: line, Requirement: p.Name}}
}

func extractConda(_ context.Context, in *filesystem.ScanInput, text []byte) ([]Package, []indexes.Signal, error) {
	env, err := conda.Parse(bytes.NewReader(text))
	if err != nil {
		return nil, nil, err
	}
	var pkgs []Package
	for _, c := range env.Packages {
		p := Package{Ecosystem: "PyPI", Name: c.Name, Version: c.Version, Requirement: c.Spec, Line: c.Line, Native: c.Native}
		if c.Native {
			p.PURL = condaPURL(c.Conda, c.Version)
		} else {
			p.PURL = pypiPURL(c.Name, c.Version)
		}
		if c.Conda != "" && c.Conda != c.Name {
			p.Conda = c.Conda
		}
		pkgs = append(pkgs, p)
	}
	var opts []indexes.LineOption
	for _, o := range env.PipOptions {
		opts = append(opts, indexes.LineOption{Option: o.Option, Line: o.Line})
	}
	return pkgs, indexes.FromPipOptions(opts), nil
}

// pypiPURL is the purl of a locked PyPI distribution (PEP 503 name); "" when
// the version is not locked.
func pypiPURL(name, version string) string {
	if version == "" {
		return ""
	}
	return (&purl.PackageURL{Type: purl.TypePyPi, Name: osvdb.NormalizeName("PyPI", name), Version: version}).String()
}

// condaPURL is the purl of a locked conda package that is not a Python
// distribution.
func condaPURL(name, version string) string {
	if version == "" || name == "" {
		return ""
	}
	return (&purl.PackageURL{Type: purl.TypeConda, Name: name, Version: version}).String()
}
