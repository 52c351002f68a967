package oms

import (
	"crypto/sha256"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/internal/hashing"
)

// Method is an OMS serialization method.
type Method string

const (
	// MethodFiles hashes every file whole: one resource per file.
	MethodFiles Method = "files"
	// MethodShards cuts every file into ShardSize pieces hashed in
	// parallel: one resource per piece, named "path:start:end".
	MethodShards Method = "shards"
)

// DefaultShardSize is the shard size of model_signing and the spec (1 GB).
const DefaultShardSize = 1_000_000_000

// Naming chooses how a producer labels resources where the Python reference
// and the OMS v1.0 text disagree. Verification accepts both.
type Naming int

const (
	// NamingPython writes what model_signing 1.x writes and verifies: a
	// single-file model's resource is named ".", shard digests are labelled
	// "<hash>-sharded-<size>", and resources are sorted by path components
	// ("tokenizer/vocab.json" before "tokenizer.json").
	NamingPython Naming = iota
	// NamingSpec follows the OMS v1.0 text and its JSON schema: a
	// single-file model's resource is its basename, every resource is
	// labelled with the plain hash identifier, and names are sorted by
	// code point.
	NamingSpec
)

// ParseNaming accepts "python" and "spec".
func ParseNaming(s string) (Naming, error) {
	switch s {
	case "python":
		return NamingPython, nil
	case "spec":
		return NamingSpec, nil
	}
	return 0, fmt.Errorf("unknown naming %q (want python or spec)", s)
}

func (n Naming) String() string {
	if n == NamingSpec {
		return "spec"
	}
	return "python"
}

// Serialization records how a manifest was produced, so that a verifier can
// reproduce it (predicate.serialization).
type Serialization struct {
	Method        Method
	HashType      hashing.Algorithm
	ShardSize     int64 // shards only
	AllowSymlinks bool
	// IgnorePaths are model-relative paths left out of the manifest, as
	// recorded by the signer (absent before model_signing v1.1.0).
	IgnorePaths []string
}

// Resource is one manifest entry: a file, or a byte range of one.
type Resource struct {
	Name      string // "path" or, for shards, "path:start:end"
	Algorithm string // as written: "sha256", or "sha256-sharded-1000000000"
	Digest    []byte
}

// Manifest is the signed description of a model.
type Manifest struct {
	// ModelName is informational (the subject name); verification never
	// depends on it.
	ModelName     string
	Serialization Serialization
	Resources     []Resource
	// Legacy is set for a manifest read from the v0.2.0 predicate
	// (https://model_signing/Digests/v0.1), which has no serialization
	// block and no root digest.
	Legacy bool
}

// RootDigest is SHA-256 over the concatenated raw resource digests, in
// list order: the subject digest of the statement.
func (m *Manifest) RootDigest() []byte {
	h := sha256.New()
	for _, r := range m.Resources {
		h.Write(r.Digest)
	}
	return h.Sum(nil)
}

// ShardAlgorithm is model_signing's label for shard digests.
func ShardAlgorithm(hash hashing.Algorithm, shardSize int64) string {
	return fmt.Sprintf("%s-sharded-%d", hash, shardSize)
}

// ShardName names the byte range [start, end) of the file called name.
func ShardName(name string, start, end int64) string {
	return name + ":" + strconv.FormatInt(start, 10) + ":" + strconv.FormatInt(end, 10)
}

// ParseShardName splits "path:start:end" on its last two colons (a path
// may itself contain colons).
func ParseShardName(s string) (name string, start, end int64, err error) {
	j := strings.LastIndexByte(s, ':')
	if j < 0 {
		return "", 0, 0, formatErr("shard resource %q is not path:start:end", s)
	}
	i := strings.LastIndexByte(s[:j], ':')
	if i < 0 {
		return "", 0, 0, formatErr("shard resource %q is not path:start:end", s)
	}
	name = s[:i]
	start, err1 := parseOffset(s[i+1 : j])
	end, err2 := parseOffset(s[j+1:])
	if err1 != nil || err2 != nil || end <= start {
		return "", 0, 0, formatErr("shard resource %q does not end in :start:end with start < end", s)
	}
	return name, start, end, nil
}

func parseOffset(s string) (int64, error) {
	if s == "" || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("not a decimal offset")
	}
	return strconv.ParseInt(s, 10, 64)
}

// Shards is the layout of a file of the given size: consecutive ranges of
// shardSize bytes, the last one shorter. An empty file has no shards.
func Shards(size, shardSize int64) [][2]int64 {
	var out [][2]int64
	for start := int64(0); start < size; start += shardSize {
		out = append(out, [2]int64{start, min(start+shardSize, size)})
	}
	return out
}

// ValidName reports whether a resource path (without a shard suffix) is a
// canonical model-relative path: "/"-separated, no empty, "." or ".."
// components, or the single-file name ".".
func ValidName(name string) bool {
	if name == "." {
		return true
	}
	if name == "" || len(name) > MaxNameLength || strings.ContainsRune(name, 0) {
		return false
	}
	if path.IsAbs(name) || path.Clean(name) != name || name == ".." || strings.HasPrefix(name, "../") {
		return false
	}
	return true
}

// sortResources orders resources as the naming convention says. The root
// digest depends on this order, so a producer must not reorder afterwards.
func sortResources(rs []Resource, method Method, naming Naming) {
	if naming == NamingSpec {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
		return
	}
	type key struct {
		parts      []string
		start, end int64
	}
	keys := make([]key, len(rs))
	for i, r := range rs {
		name := r.Name
		var k key
		if method == MethodShards {
			name, k.start, k.end, _ = ParseShardName(r.Name)
		}
		k.parts = strings.Split(name, "/")
		keys[i] = k
	}
	idx := make([]int, len(rs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := keys[idx[a]], keys[idx[b]]
		if c := comparePaths(ka.parts, kb.parts); c != 0 {
			return c < 0
		}
		if ka.start != kb.start {
			return ka.start < kb.start
		}
		return ka.end < kb.end
	})
	sorted := make([]Resource, len(rs))
	for i, j := range idx {
		sorted[i] = rs[j]
	}
	copy(rs, sorted)
}

// comparePaths orders paths component by component, as Python's
// pathlib.PurePosixPath does: "a/b" < "a.json" because "a" < "a.json".
func comparePaths(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}
