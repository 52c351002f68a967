package torch

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/archive"
	"github.com/aigis-dev/aigis/analyzer/internal/pysrc"
	"github.com/aigis-dev/aigis/analyzer/pickle"
	"github.com/aigis-dev/aigis/internal/decode/zipr"
	"github.com/aigis-dev/aigis/internal/rules"
)

// Code that travels inside model archives, analysed statically with the
// Python source analyser (never imported, never compiled):
//
//   - TorchScript (torch.jit.save): <prefix>/code/**.py is the TorchScript
//     source torch.jit.load compiles; __setstate__ runs while the archive
//     loads, custom operators and classes need native libraries.
//   - torch.package (PackageExporter): the packaged modules are Python
//     source the loader imports (runs) when a pickle refers to them, and
//     the pickles resolve imports against them before the installed
//     modules, so the archive's code can stand in for torch's own.

// codeFile reads a source member, or reports why it cannot be analysed.
func codeFile(m *archive.Members, e *zipr.Entry, out *analyzer.Result) (string, bool) {
	b, err := m.ReadSmall(e, pysrc.MaxSize)
	if err != nil {
		if strings.Contains(err.Error(), "larger than") {
			out.Add(rules.New(rules.PythonTooLarge, out.Member(e.Name), fmt.Sprintf("source member of %d bytes exceeds the %d-byte budget", e.Size, pysrc.MaxSize)))
			return "", false
		}
		m.Recurse(context.Background(), e) // reports why it cannot be read
		return "", false
	}
	return string(b), true
}

// torchScriptCode analyses a TorchScript archive's code/ member.
func torchScriptCode(m *archive.Members, e *zipr.Entry, out *analyzer.Result) {
	src, ok := codeFile(m, e, out)
	if !ok {
		return
	}
	for _, is := range pysrc.AnalyzeOpts(src, pysrc.Options{Loaded: true, TorchScript: true}).Issues {
		out.Add(is.Finding(out.Member(e.Name)))
	}
}

// isCode reports whether a member is TorchScript source.
func isCode(prefix, name string) bool {
	return strings.HasPrefix(name, prefix+"code/") && strings.HasSuffix(name, ".py")
}

// maxExternBytes bounds the extern_modules list (real ones name tens).
const maxExternBytes = 1 << 20

// pkgTree is the module tree of a torch.package archive, as
// PackageImporter builds it: extern modules come from the host, every
// other module from the archive's own source.
type pkgTree struct {
	extern map[string]bool   // dotted names listed in extern_modules
	files  map[string]string // module -> member name of its source
	dirs   map[string]bool   // packages implied by source paths
}

// packaged reports whether importing module takes the archive's code:
// no prefix of it is extern and the archive holds it (or a package
// directory of that name).
func (t *pkgTree) packaged(module string) bool {
	parts := strings.Split(module, ".")
	for i := range parts {
		if t.extern[strings.Join(parts[:i+1], ".")] {
			return false
		}
	}
	_, ok := t.files[module]
	return ok || t.dirs[module]
}

func analyzePackage(ctx context.Context, z *zipr.Reader, m *archive.Members, prefix string, out *analyzer.Result) error {
	t := &pkgTree{extern: map[string]bool{}, files: map[string]string{}, dirs: map[string]bool{}}
	if e := m.Entry(prefix + ".data/extern_modules"); e != nil {
		b, err := m.ReadSmall(e, maxExternBytes)
		if err != nil {
			out.Add(rules.New(rules.Malformed, out.Member(e.Name), "torch.package extern_modules: "+err.Error()))
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				t.extern[l] = true
			}
		}
	}
	var sources, pickles []*zipr.Entry
	for _, e := range z.Entries {
		if e.IsDir() || !strings.HasPrefix(e.Name, prefix) {
			continue
		}
		rel := strings.TrimPrefix(e.Name, prefix)
		if strings.HasPrefix(rel, ".data/") {
			continue
		}
		switch {
		case strings.HasSuffix(rel, ".py"):
			mod := strings.ReplaceAll(strings.TrimSuffix(rel, ".py"), "/", ".")
			mod = strings.TrimSuffix(mod, ".__init__")
			t.files[mod] = e.Name
			for p := path.Dir(rel); p != "." && p != "/"; p = path.Dir(p) {
				t.dirs[strings.ReplaceAll(p, "/", ".")] = true
			}
			sources = append(sources, e)
		case strings.HasSuffix(rel, ".pkl"):
			pickles = append(pickles, e)
		}
	}

	// The pickles first: what they import from the archive's modules runs
	// when they load.
	calledFrom := map[string][]string{} // module -> names a pickle imports from it
	isPickle := map[*zipr.Entry]bool{}
	for _, e := range pickles {
		isPickle[e] = true
		child, err := m.Input(e)
		if err != nil {
			m.Recurse(ctx, e)
			continue
		}
		sum, err := pickle.Scan(ctx, child, out.Child(child), pickle.Options{MaxStreams: 1, ReportTrailing: true, Packaged: t.packaged})
		if err != nil {
			return err
		}
		for _, im := range sum.Imports {
			if t.packaged(im.Module) {
				// a function, a class, or a method (Class.method): each
				// part may be a def that runs on load
				calledFrom[im.Module] = append(calledFrom[im.Module], strings.Split(im.Name, ".")...)
			}
		}
	}
	if len(pickles) > 0 {
		out.Model().LoadsPickle = true
	}

	// Every packaged module is code the archive runs when it is imported.
	mods := make([]string, 0, len(t.files))
	for mod := range t.files {
		mods = append(mods, mod)
	}
	sort.Strings(mods)
	protected := rules.Format("engine").List("torch_package_protected")
	for _, mod := range mods {
		name := t.files[mod]
		if top := strings.SplitN(mod, ".", 2)[0]; protected.Has(top) && t.packaged(mod) {
			out.Add(rules.New(rules.TorchPackageShadow, out.Member(name), fmt.Sprintf("the archive ships %s as its own source (%s), where a loader expects the installed module", mod, strings.TrimPrefix(name, prefix))))
		}
	}
	isSource := map[*zipr.Entry]bool{}
	for _, e := range sources {
		isSource[e] = true
		rel := strings.TrimSuffix(strings.TrimPrefix(e.Name, prefix), ".py")
		mod := strings.TrimSuffix(strings.ReplaceAll(rel, "/", "."), ".__init__")
		src, ok := codeFile(m, e, out)
		if !ok {
			continue
		}
		res := pysrc.AnalyzeOpts(src, pysrc.Options{Loaded: true, LoadTime: calledFrom[mod]})
		for _, is := range res.Issues {
			out.Add(is.Finding(out.Member(e.Name)))
		}
	}
	out.SetProperty("torch.package.modules", fmt.Sprint(len(t.files)))

	// Other members: storages are raw numbers; resources are content of
	// their own.
	for _, e := range z.Entries {
		if e.IsDir() || isPickle[e] || isSource[e] {
			continue
		}
		rel := strings.TrimPrefix(e.Name, prefix)
		if strings.HasPrefix(rel, ".data/") && (strings.HasSuffix(rel, ".storage") || packageMeta[strings.TrimPrefix(rel, ".data/")]) {
			continue
		}
		if err := m.Recurse(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// packageMeta are the metadata members of .data/.
var packageMeta = map[string]bool{"extern_modules": true, "version": true, "python_version": true, "serialization_id": true}
