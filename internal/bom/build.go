package bom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/analyzer/tensorflow"
	"github.com/aigis-dev/aigis/analyzer/torch"
	"github.com/aigis-dev/aigis/internal/bom/dataset"
	"github.com/aigis-dev/aigis/internal/bom/internal/weights"
	"github.com/aigis-dev/aigis/internal/bounded"
	"github.com/aigis-dev/aigis/internal/deps"
	"github.com/aigis-dev/aigis/report"
)

// Options configure Build. The zero value hashes every file on all cores
// and does not scan.
type Options struct {
	// NoHash skips hashing (the fast path: only headers are read).
	NoHash bool
	// Workers bounds parallel hashing (default: one per CPU).
	Workers int
	// Scan, when set, is called with the target and returns scan
	// artifacts (paths as the scan verb reports them: the target joined
	// with the relative path); their findings are attached to the files.
	Scan func(ctx context.Context, target string) (*report.Report, error)
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
	target  string // as given
	rootDir string // directory opened as root
	single  string // for a file target: its base name
	root    *os.Root
	files   []entry
	dirs    map[string][]entry // dir -> files directly in it
	doc     *Document
	byRef   map[string]*Component
	counter map[string]*dataset.RowCounter // rel -> counter for jsonl/csv
}

func (t *tree) warnf(format string, a ...any) {
	t.doc.Warnings = append(t.doc.Warnings, fmt.Sprintf(format, a...))
}

// Build makes the bill of materials of target, a directory or one file.
func Build(ctx context.Context, target string, opt Options) (*Document, error) {
	st, err := os.Stat(target)
	if err != nil {
		return nil, err
	}
	t := &tree{target: target, dirs: map[string][]entry{}, doc: &Document{Hashed: !opt.NoHash}, byRef: map[string]*Component{}, counter: map[string]*dataset.RowCounter{}}
	t.rootDir = target
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file or a directory", target)
		}
		t.rootDir, t.single = filepath.Dir(target), filepath.Base(target)
	}
	t.root, err = os.OpenRoot(t.rootDir)
	if err != nil {
		return nil, err
	}
	defer t.root.Close()
	if t.single != "" {
		t.add(t.single, st)
	} else if err := t.walk(ctx); err != nil {
		return nil, err
	}
	t.collect(ctx)
	if err := t.hash(ctx, opt); err != nil {
		return nil, err
	}
	t.finishDatasets()
	if opt.Scan != nil {
		if err := t.scan(ctx, opt.Scan); err != nil {
			return nil, err
		}
	}
	t.finish()
	return t.doc, ctx.Err()
}

func (t *tree) add(rel string, info fs.FileInfo) {
	e := entry{rel: rel, size: info.Size(), info: info}
	t.files = append(t.files, e)
	dir := path.Dir(rel)
	t.dirs[dir] = append(t.dirs[dir], e)
}

func (t *tree) walk(ctx context.Context) error {
	n := 0
	return filepath.WalkDir(t.rootDir, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(t.rootDir, p)
		rel = filepath.ToSlash(rel)
		if err != nil {
			if p == t.rootDir {
				return err
			}
			t.warnf("%s: cannot be read (%v); left out", rel, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if n++; n > maxEntries {
			return fmt.Errorf("%s: more than %d entries; build the BOM of a smaller tree", t.target, maxEntries)
		}
		switch {
		case d.IsDir():
			if p != t.rootDir && (deps.SkipDir(d.Name(), p) || d.Name() == ".cache" || d.Name() == ".github") {
				return fs.SkipDir
			}
		case d.Type()&fs.ModeSymlink != 0:
			t.warnf("%s: symbolic link, not followed; left out", rel)
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

// readSmall reads a whole file up to maxSmallRead bytes.
func (t *tree) readSmall(rel string) ([]byte, error) {
	f, err := t.root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return bounded.ReadAll(f, maxSmallRead)
}

// readerAt opens a file for header reads; close it when done.
func (t *tree) readerAt(rel string) (*os.File, int64, error) {
	f, err := t.root.Open(rel)
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

// sniffFormat names a weight file's format from its content: the weight
// formats and legacy torch and TFLite by the analysers' Match; zip, HDF5
// and pickle by their leading bytes, narrower than the analysers' Match
// (which also take empty or spanned zips, HDF5 user blocks and protocol-0
// pickles found by a trial parse).
func (t *tree) sniffFormat(rel string) string {
	f, size, err := t.readerAt(rel)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, min(size, 4096))
	if _, err := io.ReadFull(f, head); err != nil {
		return ""
	}
	if w := weights.Sniff(head, size); w != "" {
		return w
	}
	s := &analyzer.Sniff{Head: head, Size: size}
	switch {
	case strings.HasPrefix(string(head), "PK\x03\x04"):
		switch strings.ToLower(path.Ext(rel)) {
		case ".keras":
			return "keras"
		case ".npz":
			return "npz"
		}
		return "pytorch"
	case strings.HasPrefix(string(head), "\x89HDF\r\n\x1a\n"):
		return "hdf5"
	case (torch.Legacy{}).Match(s):
		return "pytorch-legacy"
	case len(head) > 2 && head[0] == 0x80 && head[1] <= 5:
		return "pickle"
	case (tensorflow.TFLite{}).Match(s):
		return "tflite"
	}
	return "unknown"
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
