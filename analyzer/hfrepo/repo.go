// Package hfrepo analyses model and dataset repositories in the Hugging
// Face layout as a whole (remote code named by auto_map and the Python
// files it imports, sharded-checkpoint indexes, raw chat templates), and
// configuration files on their own (chat templates in JSON, Hydra
// `_target_` in JSON or YAML).
//
// It reads files only through the engine's Neighbours (confined to the
// scan root, never following links out of it), never imports or runs the
// Python it reads and never renders templates.
package hfrepo

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/internal/jinja"
	"github.com/aigis-dev/aigis/analyzer/internal/pysrc"
	"github.com/aigis-dev/aigis/internal/rules"
)

// Repo is the directory analyser.
type Repo struct{}

func (Repo) Name() string { return "hf-repo" }

// MatchDir accepts a directory with a Hugging Face marker file, or a
// README beside weight or data files.
func (Repo) MatchDir(d *analyzer.Dir) bool {
	rs := rules.Format("hfrepo")
	readme, data := false, false
	for _, e := range d.Entries {
		n := e.Name()
		if rs.List("repo_markers").Has(n) {
			return true
		}
		if n == "README.md" {
			readme = true
		}
		for _, s := range rs.List("repo_marker_suffixes").Values {
			if strings.HasSuffix(n, s) {
				data = true
			}
		}
	}
	return readme && data
}

// Bounds on what a repository analysis reads.
const (
	maxConfig  = 4 << 20
	maxPyFiles = 256
)

func (Repo) AnalyzeDir(ctx context.Context, d *analyzer.Dir, out *analyzer.Result) error {
	rs := rules.Format("hfrepo")
	r := &repo{ctx: ctx, d: d, out: out, rs: rs, loaded: map[string]bool{}, analysed: map[string]bool{}}
	for _, e := range d.Entries {
		if e.IsDir() {
			continue
		}
		n := e.Name()
		switch {
		case rs.List("config_files").Has(n):
			r.config(n)
		case strings.HasSuffix(n, ".index.json"):
			r.index(n)
		case strings.HasSuffix(n, ".jinja"):
			r.template(n)
		case rs.List("always_loaded_code").Has(n):
			r.loaded[n] = true
		}
	}
	if len(r.remote) > 0 {
		sort.Strings(r.remote)
		out.Add(rules.New(rules.HfRemoteCode, out.Here(), fmt.Sprintf("transformers imports this repository's code on load: %s", strings.Join(r.remote, ", "))))
	}
	r.python()
	return nil
}

type repo struct {
	ctx      context.Context
	d        *analyzer.Dir
	out      *analyzer.Result
	rs       *rules.Set
	remote   []string        // auto_map entries
	loaded   map[string]bool // .py files imported on load
	analysed map[string]bool
}

func (r *repo) read(name string) ([]byte, bool) {
	b, err := r.d.FS.ReadFile(name, maxConfig)
	if err != nil {
		r.out.Child(analyzer.NewFileInput(name, nil, 0, nil)).Problem(r.ctx, -1, "reading "+name, err)
		return nil, false
	}
	return b, true
}

// config reads auto_map and custom_pipelines from a JSON config.
func (r *repo) config(name string) {
	b, ok := r.read(name)
	if !ok {
		return
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return // the file analyser reports malformed JSON where it matters
	}
	var refs []string
	if am, ok := m["auto_map"].(map[string]any); ok {
		for k, v := range am {
			switch x := v.(type) {
			case string:
				refs = append(refs, k+"="+x)
			case []any:
				for _, e := range x {
					if s, ok := e.(string); ok {
						refs = append(refs, k+"="+s)
					}
				}
			}
		}
	}
	if cp, ok := m["custom_pipelines"].(map[string]any); ok {
		for k, v := range cp {
			if p, ok := v.(map[string]any); ok {
				if s, ok := p["impl"].(string); ok {
					refs = append(refs, "pipeline "+k+"="+s)
				}
			}
		}
	}
	sort.Strings(refs)
	for _, ref := range refs {
		_, target, _ := strings.Cut(ref, "=")
		r.remote = append(r.remote, fmt.Sprintf("%s (%s)", ref, name))
		r.reference(target, name)
	}
}

// reference resolves "module.Class" or "owner/repo--module.Class".
func (r *repo) reference(target, from string) {
	loc := r.out.Member(from)
	if repo, rest, ok := strings.Cut(target, "--"); ok {
		r.out.Add(rules.New(rules.HfRemoteCodeElsewhere, loc, fmt.Sprintf("%s loads %s from the repository %s", from, rest, repo)))
		return
	}
	i := strings.LastIndexByte(target, '.')
	if i <= 0 {
		return
	}
	mod := target[:i]
	file := strings.ReplaceAll(mod, ".", "/") + ".py"
	if strings.HasPrefix(mod, "/") || strings.Contains(mod, "..") || strings.ContainsAny(mod, "\\\x00") {
		r.out.Add(rules.New(rules.HfReferenceEscape, loc, fmt.Sprintf("%s names module %q outside the repository", from, mod)))
		return
	}
	if _, err := r.d.FS.Lstat(file); err != nil {
		r.out.Add(rules.New(rules.HfRemoteCodeMissing, loc, fmt.Sprintf("%s names %s, but %s is not in the repository", from, target, file)))
		return
	}
	r.loaded[file] = true
}

// index checks a sharded checkpoint's weight_map.
func (r *repo) index(name string) {
	b, ok := r.read(name)
	if !ok {
		return
	}
	var m struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if json.Unmarshal(b, &m) != nil {
		return
	}
	shards := map[string]bool{}
	for _, f := range m.WeightMap {
		shards[f] = true
	}
	var names []string
	for f := range shards {
		names = append(names, f)
	}
	sort.Strings(names)
	loc := r.out.Member(name)
	for _, f := range names {
		c := path.Clean(strings.ReplaceAll(f, "\\", "/"))
		if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") || strings.ContainsRune(f, 0) || len(f) > 1 && f[1] == ':' {
			r.out.Add(rules.New(rules.HfReferenceEscape, loc, fmt.Sprintf("weight_map points at %q, outside the repository", f)))
			continue
		}
		if _, err := r.d.FS.Lstat(c); err != nil {
			r.out.Add(rules.New(rules.HfShardMissing, loc, fmt.Sprintf("weight_map names %q, which is not in the repository", f)))
		}
	}
	r.out.SetProperty("hf.shards", fmt.Sprint(len(names)))
}

// template analyses a raw chat template file (chat_template.jinja).
func (r *repo) template(name string) {
	b, ok := r.read(name)
	if !ok {
		return
	}
	for _, is := range jinja.Analyze(string(b)) {
		r.out.Add(is.Finding(r.out.Member(name)))
	}
}

// python analyses the repository's Python files: those imported on load
// (auto_map targets, handlers, and everything they import relatively)
// strictly, the others as scripts that only run when someone runs them.
func (r *repo) python() {
	queue := make([]string, 0, len(r.loaded))
	for f := range r.loaded {
		queue = append(queue, f)
	}
	sort.Strings(queue)
	for len(queue) > 0 && len(r.analysed) < maxPyFiles {
		f := queue[0]
		queue = queue[1:]
		if r.analysed[f] {
			continue
		}
		r.analysed[f] = true
		res := r.pyFile(f, true)
		if res == nil {
			continue
		}
		for _, ri := range res.RelImports {
			if dep, ok := resolveRelative(f, ri); ok {
				if _, err := r.d.FS.Lstat(dep); err == nil && !r.analysed[dep] {
					r.loaded[dep] = true
					queue = append(queue, dep)
				}
			}
		}
	}
	// Other Python files at the top of the repository.
	for _, e := range r.d.Entries {
		n := e.Name()
		if strings.HasSuffix(n, ".py") && !e.IsDir() && !r.analysed[n] && len(r.analysed) < maxPyFiles {
			r.analysed[n] = true
			r.pyFile(n, false)
		}
	}
}

func (r *repo) pyFile(name string, loaded bool) *pysrc.Result {
	b, err := r.d.FS.ReadFile(name, pysrc.MaxSize)
	if err != nil {
		r.out.Child(analyzer.NewFileInput(name, nil, 0, nil)).Problem(r.ctx, -1, "reading "+name, err)
		return nil
	}
	res := pysrc.Analyze(string(b), loaded)
	for _, is := range res.Issues {
		r.out.Add(is.Finding(r.out.Member(name)))
	}
	return res
}

// resolveRelative maps a relative import in file f (".x.y", "..z") to a
// file path inside the repository.
func resolveRelative(f, imp string) (string, bool) {
	dots := len(imp) - len(strings.TrimLeft(imp, "."))
	dir := path.Dir(f)
	for i := 1; i < dots; i++ {
		if dir == "." {
			return "", false
		}
		dir = path.Dir(dir)
	}
	mod := strings.TrimLeft(imp, ".")
	if mod == "" {
		return "", false
	}
	p := path.Join(dir, strings.ReplaceAll(mod, ".", "/")+".py")
	if strings.HasPrefix(p, "../") {
		return "", false
	}
	return p, true
}
