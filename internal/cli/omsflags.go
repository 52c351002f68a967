package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/hashing"
	"github.com/aigis-dev/aigis/internal/oms"
)

// modelFlags are the model-selection flags sign, verify and digest share,
// named as model_signing names them.
type modelFlags struct {
	ignorePaths    []string
	ignoreGitPaths bool
	allowSymlinks  bool
	workers        int
	noProgress     bool
}

func addModelFlags(cmd *cobra.Command, f *modelFlags) {
	cmd.Flags().StringSliceVar(&f.ignorePaths, "ignore-paths", nil, "paths to leave out (repeatable or comma-separated); relative to the current directory when that is inside the model, else to the model root")
	cmd.Flags().BoolVar(&f.ignoreGitPaths, "ignore-git-paths", true, "leave out .git, .gitattributes, .github and .gitignore at the model root")
	cmd.Flags().BoolVar(&f.allowSymlinks, "allow-symlinks", false, "hash the targets of symbolic links to files (links are refused otherwise)")
	cmd.Flags().IntVar(&f.workers, "workers", runtime.NumCPU(), "files or shards hashed in parallel")
	cmd.Flags().BoolVar(&f.noProgress, "no-progress", false, "never show progress on stderr")
}

// resolveIgnores turns --ignore-paths into model-relative paths.
func (f *modelFlags) resolveIgnores(model string) ([]string, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range f.ignorePaths {
		rel, err := oms.ResolveIgnorePath(model, p, cwd)
		if err != nil {
			return nil, withCode(ExitError, fmt.Errorf("--ignore-paths: %w", err))
		}
		out = append(out, rel)
	}
	return out, nil
}

// serializationFlags choose how sign and digest hash a model.
type serializationFlags struct {
	hash      string
	method    string
	shardSize int64
	naming    string
}

func addSerializationFlags(cmd *cobra.Command, f *serializationFlags) {
	cmd.Flags().StringVar(&f.hash, "hash-algorithm", "sha256", "file hash: sha256|blake2b|blake3")
	cmd.Flags().StringVar(&f.method, "method", "files", "serialization: files (one digest per file) or shards (files cut in --shard-size pieces, hashed on every core)")
	cmd.Flags().Int64Var(&f.shardSize, "shard-size", oms.DefaultShardSize, "shard size in bytes for --method shards")
	cmd.Flags().StringVar(&f.naming, "naming", "python", `resource naming: python (what model_signing 1.x writes and verifies: "." for a single file, "<hash>-sharded-<size>" shard labels, path-component order) or spec (the OMS v1.0 text and schema)`)
}

func (f *serializationFlags) options(m *modelFlags, model string) (oms.Options, error) {
	alg, err := hashing.ParseAlgorithm(f.hash)
	if err != nil {
		return oms.Options{}, withCode(ExitError, fmt.Errorf("--hash-algorithm: %w", err))
	}
	method := oms.Method(f.method)
	if method != oms.MethodFiles && method != oms.MethodShards {
		return oms.Options{}, withCode(ExitError, fmt.Errorf("--method: unknown serialization %q (want files or shards)", f.method))
	}
	if f.shardSize <= 0 {
		return oms.Options{}, withCode(ExitError, fmt.Errorf("--shard-size must be positive"))
	}
	naming, err := oms.ParseNaming(f.naming)
	if err != nil {
		return oms.Options{}, withCode(ExitError, fmt.Errorf("--naming: %w", err))
	}
	ignores, err := m.resolveIgnores(model)
	if err != nil {
		return oms.Options{}, err
	}
	return oms.Options{
		Method:          method,
		HashType:        alg,
		ShardSize:       f.shardSize,
		AllowSymlinks:   m.allowSymlinks,
		IgnorePaths:     ignores,
		IncludeGitPaths: !m.ignoreGitPaths,
		Naming:          naming,
		Workers:         m.workers,
	}, nil
}

// defaultSignature is model.sig inside a model directory, or <file>.sig
// beside a single-file model (so that two models in one directory keep
// their own bundles).
func defaultSignature(model string) string {
	if st, err := os.Stat(model); err == nil && st.IsDir() {
		return filepath.Join(model, "model.sig")
	}
	return model + ".sig"
}

// hashProgress shows bytes hashed on stderr, only when stderr is a
// terminal, with the scan progress display.
type hashProgress struct {
	*progress
	done  atomic.Int64
	total atomic.Int64
}

func newHashProgress(w io.Writer, verb string, want bool) *hashProgress {
	h := &hashProgress{progress: newProgress(w, want)}
	h.status = func(elapsed time.Duration) string {
		done, total := h.done.Load(), h.total.Load()
		line := fmt.Sprintf("%s: hashed %s", verb, humanBytes(done))
		if total > 0 {
			line += fmt.Sprintf(" of %s (%d%%)", humanBytes(total), done*100/total)
		}
		return fmt.Sprintf("%s, %s/s", line, humanBytes(int64(float64(done)/max(elapsed.Seconds(), 1e-3))))
	}
	return h
}

func (p *hashProgress) add(n int64)      { p.done.Add(n) }
func (p *hashProgress) setTotal(n int64) { p.total.Store(n) }

// modelArg checks the output flags (when the verb has them) and the MODEL
// argument before any work starts.
func modelArg(rf *reportFlags, args []string) (string, error) {
	if rf != nil {
		if err := rf.validate(); err != nil {
			return "", err
		}
	}
	if err := checkTargets(args[0]); err != nil {
		return "", err
	}
	return args[0], nil
}
