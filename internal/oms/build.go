package oms

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/internal/hashing"
)

// Options say how to turn a model into a manifest. The zero value is
// model_signing's default: files, SHA-256, no symlinks, git paths ignored,
// Python naming.
type Options struct {
	Method        Method            // default MethodFiles
	HashType      hashing.Algorithm // default SHA-256
	ShardSize     int64             // default DefaultShardSize (shards only)
	AllowSymlinks bool
	// IgnorePaths are model-relative paths to leave out (see
	// CleanIgnorePath). They are recorded in the manifest.
	IgnorePaths []string
	// IncludeGitPaths signs .git, .gitattributes, .github and .gitignore
	// too; by default they are ignored and recorded as ignored.
	IncludeGitPaths bool
	Naming          Naming
	// Workers and Progress are passed to the hashing engine.
	Workers  int
	Progress func(n int64)
	// OnTotal, when set, is told how many bytes will be hashed once the
	// model has been walked (for progress displays).
	OnTotal func(n int64)
}

func (o *Options) normalize() error {
	if o.Method == "" {
		o.Method = MethodFiles
	}
	if o.HashType == "" {
		o.HashType = hashing.SHA256
	}
	if !o.HashType.Valid() {
		return fmt.Errorf("unknown hash algorithm %q", o.HashType)
	}
	switch o.Method {
	case MethodFiles:
		o.ShardSize = 0
	case MethodShards:
		if o.ShardSize == 0 {
			o.ShardSize = DefaultShardSize
		}
		if o.ShardSize < 0 {
			return fmt.Errorf("shard size must be positive, got %d", o.ShardSize)
		}
	default:
		return fmt.Errorf("unknown serialization method %q (want files or shards)", o.Method)
	}
	return nil
}

// ignoreList is the recorded, sorted, de-duplicated set of ignored paths.
func (o *Options) ignoreList() ([]string, error) {
	set := map[string]bool{}
	for _, p := range o.IgnorePaths {
		c, err := CleanIgnorePath(p)
		if err != nil {
			return nil, err
		}
		set[c] = true
	}
	if !o.IncludeGitPaths {
		for _, p := range GitPaths {
			set[p] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// ErrEmptyModel is returned by callers that refuse to sign a model with no
// files (spec §6.1: an empty model MUST be rejected).
var ErrEmptyModel = errors.New("the model has no files to sign (after ignored paths)")

// Build walks the model at root and hashes it into a manifest. Any Problem
// found while walking is an error: a manifest must describe every file. An
// empty model gives an empty manifest; signers reject it, `digest` prints
// its root digest like model_signing does.
func Build(ctx context.Context, root string, opts Options) (*Manifest, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	ignore, err := opts.ignoreList()
	if err != nil {
		return nil, err
	}
	model, err := Walk(root, WalkOptions{AllowSymlinks: opts.AllowSymlinks, Ignore: ignore})
	if err != nil {
		return nil, err
	}
	if err := model.Err(); err != nil {
		return nil, err
	}
	m := &Manifest{
		ModelName: ModelName(root),
		Serialization: Serialization{
			Method:        opts.Method,
			HashType:      opts.HashType,
			ShardSize:     opts.ShardSize,
			AllowSymlinks: opts.AllowSymlinks,
			IgnorePaths:   ignore,
		},
	}
	if opts.Method == MethodShards {
		var n int64
		for _, f := range model.Files {
			n += (f.Size + opts.ShardSize - 1) / opts.ShardSize
		}
		if n > MaxResources {
			return nil, fmt.Errorf("shard size %d cuts this model into %d shards, more than the %d a manifest may list: use a larger --shard-size", opts.ShardSize, n, MaxResources)
		}
	}
	jobs, names := Jobs(model, opts.Method, opts.ShardSize)
	if opts.OnTotal != nil {
		var total int64
		for _, j := range jobs {
			total += j.Length
		}
		opts.OnTotal(total)
	}
	results, err := hashing.Hash(ctx, jobs, hashing.Options{
		Algorithm: opts.HashType,
		Workers:   opts.Workers,
		Open:      Opener(opts.AllowSymlinks),
		Progress:  opts.Progress,
	})
	if err != nil {
		return nil, err
	}
	label := string(opts.HashType)
	if opts.Method == MethodShards && opts.Naming == NamingPython {
		label = ShardAlgorithm(opts.HashType, opts.ShardSize)
	}
	single := ""
	if model.Single && opts.Naming == NamingSpec {
		single = filepath.Base(root)
	}
	m.Resources = make([]Resource, len(jobs))
	for i, name := range names {
		if single != "" {
			name = single + strings.TrimPrefix(name, ".")
		}
		m.Resources[i] = Resource{Name: name, Algorithm: label, Digest: results[i].Digest}
	}
	sortResources(m.Resources, opts.Method, opts.Naming)
	return m, nil
}

// Err joins the model's problems into one error, or returns nil.
func (m *Model) Err() error {
	if len(m.Problems) == 0 {
		return nil
	}
	errs := make([]error, len(m.Problems))
	for i, p := range m.Problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// Jobs lists the hashing jobs for a model and the resource name of each:
// one whole-file job per file, or one job per shard (empty files have no
// shards and so no resource, as in model_signing).
func Jobs(m *Model, method Method, shardSize int64) ([]hashing.Job, []string) {
	var jobs []hashing.Job
	var names []string
	for _, f := range m.Files {
		if method != MethodShards {
			jobs = append(jobs, hashing.Job{Path: f.Path, Length: f.Size, Whole: true})
			names = append(names, f.Name)
			continue
		}
		for _, s := range Shards(f.Size, shardSize) {
			jobs = append(jobs, hashing.Job{Path: f.Path, Offset: s[0], Length: s[1] - s[0]})
			names = append(names, ShardName(f.Name, s[0], s[1]))
		}
	}
	return jobs, names
}

// Opener opens model files for hashing and re-checks, on the open file,
// that it is a regular file: a path swapped for a link, FIFO or device
// after the walk is refused. Without allowSymlinks the final path element
// is opened with O_NOFOLLOW.
func Opener(allowSymlinks bool) func(string) (*os.File, error) {
	return func(p string) (*os.File, error) {
		f, err := openFile(p, !allowSymlinks)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if !st.Mode().IsRegular() {
			f.Close()
			return nil, fmt.Errorf("%s: not a regular file", p)
		}
		return f, nil
	}
}
