package bom

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/aigis-dev/aigis/internal/bom/dataset"
	"github.com/aigis-dev/aigis/internal/bounded"
	"github.com/aigis-dev/aigis/internal/deps"
	"github.com/aigis-dev/aigis/report"
	"github.com/aigis-dev/aigis/scan"
)

// Options configure Build. The zero value hashes every file on all cores
// and does not scan.
type Options struct {
	// NoHash skips hashing (the fast path: only headers are read).
	NoHash bool
	// Workers bounds parallel hashing and scanning (default: one per CPU).
	Workers int
	// Scan runs the whole scan engine over the targets, as aigis scan
	// does, and attaches each file's verdict and findings to it. The
	// same artifacts name the weight files' formats, so nothing is
	// scanned twice. Without it the engine reads only the weight files,
	// header-only.
	Scan bool
	// Scanned, when not nil, are the artifacts the scan engine already
	// made of exactly these targets (scan.Scanner.Stream over them, paths
	// as the walk gave them). They are used as Scan would use its own,
	// and nothing is scanned again: a caller that needs the whole scan
	// report as well as the BOM (the registry gate) runs the engine once.
	Scanned []report.Artifact
	// AllowSymlinks describes a link to a regular file as that file
	// (hashed and read where it leads, even outside the target: a Hugging
	// Face snapshot's files are links into ../../blobs). Without it links
	// are left out, with a warning.
	AllowSymlinks bool
}

// Bounds of one build.
const (
	maxEntries = 1_000_000
	// maxSmallRead bounds config and card files read whole.
	maxSmallRead = 16 << 20
	// countWithoutHash is the largest jsonl/csv file whose rows are
	// counted when not hashing (hashing counts them in the same pass).
	countWithoutHash = 32 << 20
)

// entry is one regular file found by the walk.
type entry struct {
	rel  string // slash-separated, relative to the target's directory root
	size int64
	info fs.FileInfo
}

// tree is what the walk found.
type tree struct {
	target  string   // the target, or for several the directory they share
	targets []string // as given
	rootDir string   // directory opened as root
	single  string   // for one file target: its base name
	root    *os.Root
	files   []entry
	dirs    map[string][]entry // dir -> files directly in it
	doc     *Document
	byRef   map[string]*Component
	counter map[string]*dataset.RowCounter // rel -> counter for jsonl/csv
	engine  *scan.Scanner
	arts    map[string]*report.Artifact // rel -> what the engine says
	// linked maps a followed link (AllowSymlinks) to the file it leads
	// to, when that lies outside the root.
	linked map[string]string
	opt    Options
}

func (t *tree) warnf(format string, a ...any) {
	t.doc.Warnings = append(t.doc.Warnings, fmt.Sprintf(format, a...))
}

// Build makes the bill of materials of target, a directory or one file.
func Build(ctx context.Context, target string, opt Options) (*Document, error) {
	return BuildAll(ctx, []string{target}, opt)
}

// BuildAll makes one bill of materials of several targets (directories or
// files): they are described as one project rooted at the directory they
// share, with paths relative to it; nothing else under that directory is
// read.
func BuildAll(ctx context.Context, targets []string, opt Options) (*Document, error) {
	if len(targets) == 0 {
		return nil, errors.New("no target")
	}
	t := &tree{targets: targets, dirs: map[string][]entry{}, doc: &Document{Hashed: !opt.NoHash}, byRef: map[string]*Component{}, counter: map[string]*dataset.RowCounter{},
		engine: newEngine(opt.Workers), arts: map[string]*report.Artifact{}, linked: map[string]string{}, opt: opt}
	sts := make([]fs.FileInfo, len(targets))
	for i, tg := range targets {
		st, err := os.Stat(tg)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() && !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file or a directory", tg)
		}
		sts[i] = st
	}
	switch {
	case len(targets) == 1 && sts[0].IsDir():
		t.target, t.rootDir = targets[0], targets[0]
	case len(targets) == 1:
		t.target = targets[0]
		t.rootDir, t.single = filepath.Dir(targets[0]), filepath.Base(targets[0])
	default:
		common, err := commonDir(targets, sts)
		if err != nil {
			return nil, err
		}
		t.target, t.rootDir = common, common
	}
	var err error
	t.root, err = os.OpenRoot(t.rootDir)
	if err != nil {
		return nil, err
	}
	defer t.root.Close()
	for i, tg := range targets {
		if t.single != "" {
			t.add(t.single, sts[i])
			continue
		}
		if err := t.walk(ctx, tg); err != nil {
			return nil, err
		}
	}
	switch {
	case opt.Scanned != nil:
		t.useScans(opt.Scanned)
	case opt.Scan:
		if err := t.scanTarget(ctx); err != nil {
			return nil, err
		}
	}
	t.collect(ctx, opt.Workers)
	if err := t.hash(ctx, opt); err != nil {
		return nil, err
	}
	t.finishDatasets()
	if opt.Scan || opt.Scanned != nil {
		t.attachScans()
	}
	t.finish()
	return t.doc, ctx.Err()
}

// commonDir is the deepest directory that holds every target.
func commonDir(targets []string, sts []fs.FileInfo) (string, error) {
	var common string
	for i, tg := range targets {
		abs, err := filepath.Abs(tg)
		if err != nil {
			return "", err
		}
		if !sts[i].IsDir() {
			abs = filepath.Dir(abs)
		}
		if i == 0 {
			common = abs
			continue
		}
		for !within(abs, common) {
			parent := filepath.Dir(common)
			if parent == common {
				break
			}
			common = parent
		}
	}
	return common, nil
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func (t *tree) add(rel string, info fs.FileInfo) {
	e := entry{rel: rel, size: info.Size(), info: info}
	t.files = append(t.files, e)
	dir := path.Dir(rel)
	t.dirs[dir] = append(t.dirs[dir], e)
}

// walk adds the files of one target, paths relative to the root.
func (t *tree) walk(ctx context.Context, target string) error {
	start := target
	if len(t.targets) > 1 {
		abs, err := filepath.Abs(target)
		if err != nil {
			return err
		}
		if st, err := os.Stat(abs); err == nil && !st.IsDir() {
			rel, _ := filepath.Rel(t.rootDir, abs)
			t.add(filepath.ToSlash(rel), st)
			return nil
		}
		start = abs
	}
	n := len(t.files)
	return filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(t.rootDir, p)
		rel = filepath.ToSlash(rel)
		if err != nil {
			if p == start {
				return err
			}
			t.warnf("%s: cannot be read (%v); left out", rel, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if n++; n > maxEntries {
			return fmt.Errorf("%s: more than %d entries; build the BOM of a smaller tree", target, maxEntries)
		}
		switch {
		case d.IsDir():
			if p != start && (deps.SkipDir(d.Name(), p) || d.Name() == ".cache" || d.Name() == ".github") {
				return fs.SkipDir
			}
		case d.Type()&fs.ModeSymlink != 0:
			t.link(p, rel)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				t.warnf("%s: cannot be read (%v); left out", rel, err)
				return nil
			}
			t.add(rel, info)
		default:
			t.warnf("%s: not a regular file; left out", rel)
		}
		return nil
	})
}

// link describes a link to a regular file as that file with
// AllowSymlinks, and otherwise leaves it out with a warning.
func (t *tree) link(p, rel string) {
	dest, _ := os.Readlink(p)
	if !t.opt.AllowSymlinks {
		t.warnf("%s: symbolic link to %q, not followed (--allow-symlinks describes it as its target); left out", rel, dest)
		return
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.warnf("%s: symbolic link to %q does not resolve; left out", rel, dest)
		return
	}
	info, err := os.Stat(resolved)
	if err != nil || !info.Mode().IsRegular() {
		t.warnf("%s: symbolic link to %q, not a regular file; left out", rel, dest)
		return
	}
	root, err := filepath.EvalSymlinks(t.rootDir)
	if err == nil {
		if abs, err := filepath.Abs(root); err == nil {
			root = abs
		}
	}
	if err != nil || !within(resolved, root) {
		t.linked[rel] = resolved
	}
	t.add(rel, info)
}

// open opens a file of the tree: through the root, or for a link followed
// out of it (AllowSymlinks) where the link leads.
func (t *tree) open(rel string) (*os.File, error) {
	if dest, ok := t.linked[rel]; ok {
		return os.Open(dest)
	}
	return t.root.Open(rel)
}

// readSmall reads a whole file up to maxSmallRead bytes.
func (t *tree) readSmall(rel string) ([]byte, error) {
	f, err := t.open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return bounded.ReadAll(f, maxSmallRead)
}

// readerAt opens a file for header reads; close it when done.
func (t *tree) readerAt(rel string) (*os.File, int64, error) {
	f, err := t.open(rel)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, errors.New("not a regular file when opened")
	}
	return f, st.Size(), nil
}

// weightExts are names that promise a model file; content decides which
// format it is.
var weightExts = map[string]bool{".safetensors": true, ".gguf": true, ".onnx": true, ".bin": true, ".pt": true, ".pth": true,
	".ckpt": true, ".h5": true, ".keras": true, ".tflite": true, ".pb": true, ".msgpack": true, ".pkl": true, ".joblib": true, ".mlmodel": true, ".npz": true}

func isWeightName(rel string) bool {
	base := path.Base(rel)
	ext := strings.ToLower(path.Ext(base))
	if ext == ".bin" {
		// Only checkpoint-looking .bin files: training_args.bin is a
		// pickle of arguments, not weights.
		return strings.Contains(base, "model") || strings.HasPrefix(base, "pytorch")
	}
	return weightExts[ext]
}

// shardPattern matches split checkpoints: model-00001-of-00007.safetensors.
var shardPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(.*)-\d{5}-of-\d{5}(\.[A-Za-z0-9]+)$`) })

// unit is a directory (or file) that is one model or one dataset.
type unit struct {
	kind  Kind
	dir   string   // relative dir ("." for the target)
	files []string // for GGUF-per-file models: the files of this model
}

// units finds the models and datasets of the tree. A directory is a model
// when it holds a model config or weight files; everything under it
// belongs to that model. A directory is a dataset when its card is a
// dataset card, or when it holds data files and is not inside a model.
func (t *tree) units() []unit {
	var dirs []string
	for d := range t.dirs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var out []unit
	claimed := func(d string) bool {
		for _, u := range out {
			if u.files == nil && (u.dir == "." || d == u.dir || strings.HasPrefix(d, u.dir+"/")) {
				return true
			}
		}
		return false
	}
	for _, d := range dirs {
		if claimed(d) {
			continue
		}
		var weightsFiles, dataFiles []string
		hasConfig, datasetCard := false, false
		for _, e := range t.dirs[d] {
			base := path.Base(e.rel)
			switch {
			case base == "config.json" || base == "adapter_config.json" || base == "model_index.json":
				hasConfig = hasConfig || t.isModelConfig(e.rel)
			case strings.EqualFold(base, "README.md"):
				datasetCard = t.isDatasetCard(e.rel)
			case isWeightName(e.rel):
				weightsFiles = append(weightsFiles, e.rel)
			case dataset.FormatOf(base) != "":
				dataFiles = append(dataFiles, e.rel)
			}
		}
		switch {
		case datasetCard:
			out = append(out, unit{kind: KindDataset, dir: d})
		case hasConfig:
			out = append(out, unit{kind: KindModel, dir: d})
		case len(weightsFiles) > 0:
			out = append(out, t.weightUnits(d, weightsFiles)...)
		case len(dataFiles) > 0:
			out = append(out, unit{kind: KindDataset, dir: d})
		}
	}
	return out
}

// weightUnits splits a directory without a model config: shards of one
// checkpoint are one model; otherwise each self-contained file (GGUF,
// ONNX, ...) is its own model, unless there is a single one.
func (t *tree) weightUnits(dir string, files []string) []unit {
	groups := map[string][]string{}
	var keys []string
	for _, f := range files {
		key := path.Base(f)
		if m := shardPattern().FindStringSubmatch(key); m != nil {
			key = m[1] + m[2]
		}
		if _, ok := groups[key]; !ok {
			keys = append(keys, key)
		}
		groups[key] = append(groups[key], f)
	}
	if len(keys) == 1 {
		return []unit{{kind: KindModel, dir: dir}}
	}
	sort.Strings(keys)
	var out []unit
	for _, k := range keys {
		out = append(out, unit{kind: KindModel, dir: dir, files: groups[k]})
	}
	return out
}

func (t *tree) isModelConfig(rel string) bool {
	b, err := t.readSmall(rel)
	if err != nil {
		return false
	}
	s := string(b)
	return strings.Contains(s, `"model_type"`) || strings.Contains(s, `"architectures"`) || strings.Contains(s, `"peft_type"`) ||
		strings.Contains(s, `"base_model_name_or_path"`) || strings.Contains(s, `"_class_name"`)
}

func (t *tree) isDatasetCard(rel string) bool {
	b, err := t.readSmall(rel)
	if err != nil {
		return false
	}
	return parseCard(b).IsDatasetCard()
}

// owner returns the unit a file belongs to (nil: the project).
func owner(units []unit, rel string) *unit {
	var best *unit
	for i := range units {
		u := &units[i]
		if u.files != nil {
			for _, f := range u.files {
				if f == rel {
					return u
				}
			}
			continue
		}
		if u.dir == "." || strings.HasPrefix(rel, u.dir+"/") {
			if best == nil || len(u.dir) > len(best.dir) {
				best = u
			}
		}
	}
	return best
}
