package sign

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// Report renders what was signed in the shared findings model: one
// artifact for the bundle, with an info finding that says what it covers,
// and one per signed file.
func (r *Result) Report() *report.Report {
	m, b := r.Manifest, r.Bundle
	rep := &report.Report{Command: "sign"}
	root := "sha256:" + hex.EncodeToString(m.RootDigest())
	bundle := report.Artifact{Path: r.Signature, Format: "oms-bundle", Size: int64(len(r.Data)), Properties: map[string]string{
		"method":        string(b.Material),
		"root_digest":   root,
		"resources":     strconv.Itoa(len(m.Resources)),
		"hash_type":     string(m.Serialization.HashType),
		"serialization": string(m.Serialization.Method),
	}}
	if b.PublicKey != nil {
		bundle.Properties["signer"] = b.PublicKey.Hint
	}
	if m.Serialization.Method == oms.MethodShards {
		bundle.Properties["shard_size"] = strconv.FormatInt(m.Serialization.ShardSize, 10)
	}
	type file struct {
		digest string
		shards int
	}
	files := map[string]*file{}
	var order []string
	for _, res := range m.Resources {
		name := res.Name
		if m.Serialization.Method == oms.MethodShards {
			name, _, _, _ = oms.ParseShardName(res.Name)
		}
		f := files[name]
		if f == nil {
			f = &file{}
			files[name] = f
			order = append(order, name)
		}
		f.shards++
		f.digest = string(m.Serialization.HashType) + ":" + hex.EncodeToString(res.Digest)
	}
	bundle.Add(rules.New(rules.Signed, "", fmt.Sprintf("signed %d files (%d resources, %s %s) with the %s method; root digest %s", len(order), len(m.Resources), m.Serialization.Method, m.Serialization.HashType, b.Material, root)))
	rep.Artifacts = append(rep.Artifacts, bundle)
	for _, name := range order {
		path := r.Model
		if !r.Single {
			path = filepath.Join(r.Model, filepath.FromSlash(name))
		}
		a := report.Artifact{Path: path, Format: "model-file", Properties: map[string]string{"name": name}}
		if m.Serialization.Method == oms.MethodShards {
			a.Properties["shards"] = strconv.Itoa(files[name].shards)
		} else {
			a.Properties["digest"] = files[name].digest
		}
		rep.Artifacts = append(rep.Artifacts, a)
	}
	return rep
}
