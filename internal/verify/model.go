// Package verify checks a model against an OpenSSF Model Signing (OMS)
// bundle: that the bundle was signed by the expected key, certificate
// authority or Sigstore identity, and that the files on disk are exactly
// those the signed manifest describes, byte for byte.
//
// It accepts bundles from every model_signing release (including v0.2.0's
// legacy predicate and PAE), from the OMS spec vectors and from aigis. It
// fails closed: anything it cannot verify is a failure that names the
// file, key or field at fault. It never loads or executes model content
// and never contacts a network: Sigstore bundles are checked offline
// against a trusted root the caller provides.
package verify

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/internal/hashing"
	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/rules"
)

// Options configure Model.
type Options struct {
	// Signature is the bundle's path on disk; inside the model it is
	// not a model file.
	Signature string
	// IgnorePaths are model-relative paths to leave out, on top of the
	// bundle's own ignore_paths and the default git paths.
	IgnorePaths []string
	// IncludeGitPaths verifies .git, .gitattributes, .github and
	// .gitignore at the model root like any other path; IgnoreGitPaths
	// leaves them out (what model_signing's verifier does by default).
	// With neither, the bundle decides: when it records ignore_paths
	// (aigis, model_signing v1.1.0 on) exactly those are left out, so a
	// git path the signer hashed is verified and one added after signing
	// is an extra file; when it records none (older releases) the git
	// paths are left out, as those signers left them out.
	IncludeGitPaths bool
	IgnoreGitPaths  bool
	// AllowSymlinks follows links even when the signer did not record
	// allow_symlinks (model_signing's --allow-symlinks).
	AllowSymlinks bool
	// IgnoreUnsignedFiles tolerates files the manifest does not list;
	// every listed file must still match. Tolerated files are still
	// reported, with StatusUnsigned.
	IgnoreUnsignedFiles bool
	Workers             int
	Progress            func(n int64)
	// OnTotal, when set, is told how many bytes will be hashed, before
	// hashing starts (for progress displays).
	OnTotal func(n int64)
}

// Status is the outcome for one file.
type Status string

const (
	StatusOK         Status = "ok"
	StatusModified   Status = "modified"
	StatusMissing    Status = "missing"
	StatusExtra      Status = "extra"
	StatusUnreadable Status = "unreadable"
	StatusRefused    Status = "refused" // a link, special file or bad name the policy refuses
	// StatusUnsigned is a file the manifest does not list, tolerated by
	// IgnoreUnsignedFiles: reported, never verified, not a failure.
	StatusUnsigned Status = "unsigned"
)

// File is the verification outcome for one model file.
type File struct {
	Name   string // as in the manifest ("." for a single-file model)
	Path   string // on disk
	Status Status
	Rule   rules.ID // for failures
	Msg    string
	Size   int64
	Digest []byte // the signed digest (files method)
}

// Result is the outcome of verifying one model.
type Result struct {
	Model     string
	Signature string
	// Failure is set when the bundle itself did not verify; Files is
	// then empty: an unverified manifest is not compared with anything.
	Failure  *Failure
	Signer   *Signer
	Manifest *oms.Manifest
	Files    []File
}

// OK reports whether the model verified: a trusted signature and every
// file as signed.
func (r *Result) OK() bool {
	if r.Failure != nil {
		return false
	}
	for _, f := range r.Files {
		if f.Status != StatusOK && f.Status != StatusUnsigned {
			return false
		}
	}
	return true
}

// Model verifies the model at root against the bundle bytes with v. An
// error means the check could not run (the model path does not exist,
// the context was cancelled); a model or bundle that does not verify is a
// Result with failures.
func Model(ctx context.Context, root string, bundle []byte, v Verifier, opts Options) (*Result, error) {
	res := &Result{Model: root, Signature: opts.Signature}
	b, err := oms.ParseBundle(bundle)
	if err != nil {
		res.Failure = asFailure(err)
		return res, nil
	}
	payload, signer, err := v.Verify(b)
	if err != nil {
		res.Failure = asFailure(err)
		return res, nil
	}
	res.Signer = signer
	m, err := oms.ParseStatement(payload)
	if err != nil {
		res.Failure = failf(rules.BundleMalformed, "the signed payload is not an OMS statement: %v", err)
		return res, nil
	}
	if m.Legacy {
		signer.Notes = append(signer.Notes, "model_signing v0.2.0 statement ("+oms.LegacyPredicateType+"): one subject per file, no root digest")
	}
	res.Manifest = m
	files, err := compare(ctx, root, m, &opts)
	var f *Failure
	if errors.As(err, &f) {
		res.Failure = f
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	res.Files = files
	return res, nil
}

func asFailure(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	var fe *oms.FormatError
	if errors.As(err, &fe) {
		return failf(rules.BundleMalformed, "%s", fe.Msg)
	}
	return failf(rules.BundleMalformed, "%v", err)
}

// expected is what the manifest says about one file.
type expected struct {
	digest []byte           // files method
	shards map[[2]int64]int // shards method: range -> resource index
	size   int64            // shards method: the signed size
}

// compare walks the model with the signer's serialization and checks it
// against the manifest.
func compare(ctx context.Context, root string, m *oms.Manifest, opts *Options) ([]File, error) {
	ser := m.Serialization
	ignore, err := ignoreSet(root, ser.IgnorePaths, opts)
	if err != nil {
		return nil, err
	}
	model, err := oms.Walk(root, oms.WalkOptions{AllowSymlinks: ser.AllowSymlinks || opts.AllowSymlinks, Ignore: ignore})
	if err != nil {
		return nil, err
	}
	want, err := expectations(m, model, root)
	if err != nil {
		return nil, failf(rules.BundleMalformed, "%v", err)
	}
	var out []File
	seen := map[string]bool{}
	for _, p := range model.Problems {
		seen[p.Name] = true
		file := File{Name: p.Name, Path: displayPath(root, model.Single, p.Name), Status: StatusRefused, Rule: rules.ID(p.Kind), Msg: p.Err.Error()}
		if p.Kind == oms.ProblemUnreadable {
			file.Status = StatusUnreadable
		}
		if _, listed := want[p.Name]; !listed && opts.IgnoreUnsignedFiles {
			file.Status, file.Rule, file.Msg = StatusUnsigned, rules.FileUnsigned, unsignedMsg+" ("+p.Err.Error()+")"
		}
		out = append(out, file)
	}
	// Jobs for the files the manifest lists; verdicts for the rest.
	var jobs []hashing.Job
	type slot struct {
		file  int
		start int64
		end   int64
	}
	var slots []slot
	var total int64
	for _, f := range model.Files {
		seen[f.Name] = true
		e, listed := want[f.Name]
		file := File{Name: f.Name, Path: displayPath(root, model.Single, f.Name), Size: f.Size, Status: StatusOK}
		switch {
		case !listed && ser.Method == oms.MethodShards && f.Size == 0:
			// Shard manifests leave out empty files (spec §6.3.2): there
			// is nothing to compare, so neither their presence nor their
			// absence can be verified.
			file.Msg = "empty file: shard manifests do not list empty files"
		case !listed && opts.IgnoreUnsignedFiles:
			file.Status, file.Rule, file.Msg = StatusUnsigned, rules.FileUnsigned, unsignedMsg
		case !listed:
			file.Status, file.Rule = StatusExtra, rules.FileExtra
			file.Msg = "file is not in the signed manifest (added after signing?)"
		case ser.Method == oms.MethodShards && e.size != f.Size:
			file.Status, file.Rule = StatusModified, rules.FileModified
			file.Msg = fmt.Sprintf("file is %d bytes, but %d bytes were signed", f.Size, e.size)
		case ser.Method == oms.MethodShards:
			for _, s := range oms.Shards(f.Size, ser.ShardSize) {
				jobs = append(jobs, hashing.Job{Path: f.Path, Offset: s[0], Length: s[1] - s[0]})
				slots = append(slots, slot{file: len(out), start: s[0], end: s[1]})
				total += s[1] - s[0]
			}
		default:
			file.Digest = e.digest
			jobs = append(jobs, hashing.Job{Path: f.Path, Length: f.Size, Whole: true})
			slots = append(slots, slot{file: len(out)})
			total += f.Size
		}
		out = append(out, file)
	}
	for name := range want {
		if seen[name] {
			continue
		}
		msg := "signed file is missing"
		if name == "." && !model.Single {
			msg = "the bundle signs a single-file model, but this model is a directory"
		}
		if p := ignoredBy(name, ignore); p != "" {
			msg = fmt.Sprintf("signed file is excluded by the ignore path %q", p)
			if slices.Contains(oms.GitPaths, p) && !slices.Contains(ser.IgnorePaths, p) {
				msg += " (a git path: verify with --ignore-git-paths=false)"
			}
		}
		out = append(out, File{Name: name, Path: displayPath(root, model.Single, name), Status: StatusMissing, Rule: rules.FileMissing, Msg: msg})
	}
	if opts.OnTotal != nil {
		opts.OnTotal(total)
	}
	results, err := hashing.Hash(ctx, jobs, hashing.Options{
		Algorithm:       ser.HashType,
		Workers:         opts.Workers,
		Open:            oms.Opener(ser.AllowSymlinks || opts.AllowSymlinks),
		Progress:        opts.Progress,
		ContinueOnError: true,
	})
	if err != nil {
		return nil, err
	}
	bad := map[int][]string{}
	for i, r := range results {
		s := slots[i]
		f := &out[s.file]
		if r.Err != nil {
			var je *hashing.JobError
			if errors.As(r.Err, &je) {
				r.Err = je.Err
			}
			f.Status, f.Rule, f.Msg = StatusUnreadable, rules.FileUnreadable, fmt.Sprintf("cannot read the file: %v", r.Err)
			continue
		}
		if ser.Method != oms.MethodShards {
			if !equalDigest(r.Digest, f.Digest) {
				f.Status, f.Rule = StatusModified, rules.FileModified
				f.Msg = fmt.Sprintf("content differs from the signed digest: %s %s signed, %s now", ser.HashType, hex.EncodeToString(f.Digest), hex.EncodeToString(r.Digest))
			}
			continue
		}
		idx := want[f.Name].shards[[2]int64{s.start, s.end}]
		if !equalDigest(r.Digest, m.Resources[idx].Digest) {
			bad[s.file] = append(bad[s.file], fmt.Sprintf("%d-%d", s.start, s.end))
		}
	}
	for i, ranges := range bad {
		f := &out[i]
		if f.Status != StatusOK {
			continue // unreadable beats modified
		}
		f.Status, f.Rule = StatusModified, rules.FileModified
		f.Msg = fmt.Sprintf("content differs from the signed digests in %d of its shards (bytes %s)", len(ranges), strings.Join(ranges, ", "))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

const unsignedMsg = "file is not in the signed manifest: tolerated by --ignore-unsigned-files, not verified"

func equalDigest(a, b []byte) bool { return len(a) > 0 && string(a) == string(b) }

// expectations indexes the manifest by file, checking that shard
// resources tile each file exactly as serialization.shard_size says.
func expectations(m *oms.Manifest, model *oms.Model, root string) (map[string]*expected, error) {
	want := map[string]*expected{}
	base := filepath.Base(root)
	for i, r := range m.Resources {
		name := r.Name
		var start, end int64
		if m.Serialization.Method == oms.MethodShards {
			name, start, end, _ = oms.ParseShardName(r.Name) // validated by ParseStatement
		}
		// A single file may be named "." (model_signing) or by its
		// basename (the OMS text).
		if model.Single && name == base {
			name = "."
		}
		e := want[name]
		if e == nil {
			e = &expected{}
			want[name] = e
		}
		if m.Serialization.Method != oms.MethodShards {
			if e.digest != nil {
				return nil, fmt.Errorf("the manifest lists %q twice", name)
			}
			e.digest = r.Digest
			continue
		}
		if e.shards == nil {
			e.shards = map[[2]int64]int{}
		}
		if _, dup := e.shards[[2]int64{start, end}]; dup {
			return nil, fmt.Errorf("the manifest lists shard %s twice", r.Name)
		}
		e.shards[[2]int64{start, end}] = i
		e.size = max(e.size, end)
	}
	if size := m.Serialization.ShardSize; m.Serialization.Method == oms.MethodShards {
		// Checked by arithmetic: a hostile manifest may claim a file of
		// 2^62 bytes, whose layout must not be materialised.
		for name, e := range want {
			if int64(len(e.shards)) != (e.size+size-1)/size {
				return nil, fmt.Errorf("the manifest's shards of %q do not cut the file into pieces of shard_size %d", name, size)
			}
			for r := range e.shards {
				if r[0]%size != 0 || r[1] != min(r[0]+size, e.size) {
					return nil, fmt.Errorf("the manifest's shards of %q do not cut the file into pieces of shard_size %d", name, size)
				}
			}
		}
	}
	return want, nil
}

// ignoreSet is everything the verifier leaves out: the signer's recorded
// ignore_paths, the default git paths, the caller's paths and the bundle
// itself when it sits inside the model.
func ignoreSet(root string, recorded []string, opts *Options) ([]string, error) {
	var out []string
	for _, p := range recorded {
		// Entries that cannot name a path inside the model (absolute,
		// "..", ".") are meaningless here and are skipped, not trusted.
		if c, err := oms.CleanIgnorePath(p); err == nil {
			out = append(out, c)
		}
	}
	for _, p := range opts.IgnorePaths {
		c, err := oms.CleanIgnorePath(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if opts.IgnoreGitPaths || (!opts.IncludeGitPaths && len(recorded) == 0) {
		out = append(out, oms.GitPaths...)
	}
	if opts.Signature != "" {
		if rel, ok := oms.Within(root, opts.Signature); ok {
			out = append(out, rel)
		}
	}
	return out, nil
}

func ignoredBy(name string, ignore []string) string {
	for _, p := range ignore {
		if name == p || strings.HasPrefix(name, p+"/") {
			return p
		}
	}
	return ""
}

func displayPath(root string, single bool, name string) string {
	if single || name == "." {
		return root
	}
	return filepath.Join(root, filepath.FromSlash(name))
}
