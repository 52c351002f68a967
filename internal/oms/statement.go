package oms

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/internal/hashing"
	"github.com/aigis-dev/aigis/internal/jsonerr"
)

// The in-toto and OMS identifiers.
const (
	PayloadType         = "application/vnd.in-toto+json"
	StatementType       = "https://in-toto.io/Statement/v1"
	PredicateType       = "https://model_signing/signature/v1.0"
	LegacyPredicateType = "https://model_signing/Digests/v0.1" // model_signing v0.2.0
)

// The field order below is model_signing's, so a files-method statement is
// byte-for-byte what it would write for the same model.
type statementJSON struct {
	Type          string        `json:"_type"`
	Subject       []subjectJSON `json:"subject"`
	PredicateType string        `json:"predicateType"`
	Predicate     predicateJSON `json:"predicate"`
}

type subjectJSON struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

type predicateJSON struct {
	Serialization serializationJSON `json:"serialization"`
	Resources     []resourceJSON    `json:"resources"`
}

type serializationJSON struct {
	Method        Method   `json:"method"`
	HashType      string   `json:"hash_type"`
	AllowSymlinks bool     `json:"allow_symlinks"`
	ShardSize     *int64   `json:"shard_size,omitempty"`
	IgnorePaths   []string `json:"ignore_paths,omitempty"`
}

type resourceJSON struct {
	Algorithm string `json:"algorithm"`
	Digest    string `json:"digest"`
	Name      string `json:"name"`
}

// Statement renders the manifest as the in-toto statement that OMS signs,
// indented like model_signing's. shard_size is written as an integer, as
// the spec's schema requires; model_signing reads it back either way.
func (m *Manifest) Statement() ([]byte, error) {
	s := statementJSON{
		Type:          StatementType,
		Subject:       []subjectJSON{{Name: m.ModelName, Digest: map[string]string{"sha256": hex.EncodeToString(m.RootDigest())}}},
		PredicateType: PredicateType,
		Predicate: predicateJSON{
			Serialization: serializationJSON{
				Method:        m.Serialization.Method,
				HashType:      string(m.Serialization.HashType),
				AllowSymlinks: m.Serialization.AllowSymlinks,
				IgnorePaths:   m.Serialization.IgnorePaths,
			},
			Resources: make([]resourceJSON, len(m.Resources)),
		},
	}
	if m.Serialization.Method == MethodShards {
		size := m.Serialization.ShardSize
		s.Predicate.Serialization.ShardSize = &size
	}
	for i, r := range m.Resources {
		s.Predicate.Resources[i] = resourceJSON{Algorithm: r.Algorithm, Digest: hex.EncodeToString(r.Digest), Name: r.Name}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Parsing uses pointers and RawMessage so that a missing field is told
// apart from a zero one: "no predicate" and "no resources" are errors.
type rawStatement struct {
	Type          *string         `json:"_type"`
	Subject       []rawSubject    `json:"subject"`
	PredicateType *string         `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type rawSubject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

type rawPredicate struct {
	Serialization *rawSerialization `json:"serialization"`
	Resources     *[]rawResource    `json:"resources"`
}

type rawSerialization struct {
	Method        *string         `json:"method"`
	HashType      *string         `json:"hash_type"`
	ShardSize     json.RawMessage `json:"shard_size"`
	AllowSymlinks *bool           `json:"allow_symlinks"`
	IgnorePaths   []string        `json:"ignore_paths"`
}

type rawResource struct {
	Name      *string `json:"name"`
	Algorithm *string `json:"algorithm"`
	Digest    *string `json:"digest"`
}

// ParseStatement reads a DSSE payload as an OMS statement: the v1.0
// predicate, or the legacy v0.2.0 one. It checks everything the format
// promises without touching the model: types, exactly one subject, a
// serialization block, at least one resource, well-formed names, digests
// of the right length for their algorithm, and a subject digest equal to
// the root digest recomputed over the resources in payload order.
func ParseStatement(payload []byte) (*Manifest, error) {
	if len(payload) > MaxBundleSize {
		return nil, formatErr("payload is %d bytes, more than the %d-byte limit", len(payload), MaxBundleSize)
	}
	var raw rawStatement
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, formatErr("payload is not a JSON in-toto statement: %v", jsonerr.Clean(err))
	}
	if raw.Type == nil {
		return nil, formatErr("statement has no _type")
	}
	if *raw.Type != StatementType {
		return nil, formatErr("statement _type is %q, want %q", *raw.Type, StatementType)
	}
	if raw.PredicateType == nil {
		return nil, formatErr("statement has no predicateType")
	}
	switch *raw.PredicateType {
	case PredicateType:
	case LegacyPredicateType:
		return parseLegacy(&raw)
	default:
		return nil, formatErr("predicateType is %q, want %q", *raw.PredicateType, PredicateType)
	}
	if len(raw.Subject) != 1 {
		return nil, formatErr("statement has %d subjects, want exactly one (the model)", len(raw.Subject))
	}
	root, ok := raw.Subject[0].Digest["sha256"]
	if !ok {
		return nil, formatErr("subject has no sha256 digest")
	}
	rootDigest, err := hex.DecodeString(root)
	if err != nil || len(rootDigest) != 32 {
		return nil, formatErr("subject sha256 digest %q is not 64 hex digits", truncate(root))
	}
	if len(raw.Predicate) == 0 || string(raw.Predicate) == "null" {
		return nil, formatErr("statement has no predicate")
	}
	var pred rawPredicate
	if err := json.Unmarshal(raw.Predicate, &pred); err != nil {
		return nil, formatErr("predicate is malformed: %v", jsonerr.Clean(err))
	}
	ser, err := parseSerialization(pred.Serialization)
	if err != nil {
		return nil, err
	}
	if pred.Resources == nil {
		return nil, formatErr("predicate has no resources")
	}
	rs := *pred.Resources
	if len(rs) == 0 {
		return nil, formatErr("predicate lists no resources: a signature must cover at least one file")
	}
	if len(rs) > MaxResources {
		return nil, formatErr("predicate lists %d resources, more than the limit of %d", len(rs), MaxResources)
	}
	m := &Manifest{ModelName: raw.Subject[0].Name, Serialization: ser, Resources: make([]Resource, len(rs))}
	seen := make(map[string]bool, len(rs))
	for i, r := range rs {
		res, err := parseResource(i, r, &ser)
		if err != nil {
			return nil, err
		}
		if seen[res.Name] {
			return nil, formatErr("resource %q is listed twice", res.Name)
		}
		seen[res.Name] = true
		m.Resources[i] = res
	}
	if got := m.RootDigest(); !bytes.Equal(got, rootDigest) {
		return nil, formatErr("manifest is inconsistent: the subject digest is %s but the resources hash to %x", root, got)
	}
	return m, nil
}

func parseSerialization(s *rawSerialization) (Serialization, error) {
	var out Serialization
	if s == nil {
		return out, formatErr("predicate has no serialization block")
	}
	if s.Method == nil || s.HashType == nil || s.AllowSymlinks == nil {
		return out, formatErr("serialization needs method, hash_type and allow_symlinks")
	}
	out.Method = Method(*s.Method)
	alg, err := hashing.ParseAlgorithm(*s.HashType)
	if err != nil || alg != hashing.Algorithm(*s.HashType) {
		return out, formatErr("serialization hash_type %q is not sha256, blake2b or blake3", truncate(*s.HashType))
	}
	out.HashType = alg
	out.AllowSymlinks = *s.AllowSymlinks
	switch out.Method {
	case MethodFiles:
		if s.ShardSize != nil {
			return out, formatErr("serialization method files has a shard_size")
		}
	case MethodShards:
		if s.ShardSize == nil {
			return out, formatErr("serialization method shards has no shard_size")
		}
		size, err := parseShardSize(string(s.ShardSize))
		if err != nil {
			return out, err
		}
		out.ShardSize = size
	default:
		return out, formatErr("serialization method %q is not files or shards", truncate(*s.Method))
	}
	if len(s.IgnorePaths) > MaxResources {
		return out, formatErr("serialization lists %d ignore paths, more than the limit of %d", len(s.IgnorePaths), MaxResources)
	}
	out.IgnorePaths = s.IgnorePaths
	return out, nil
}

// parseShardSize accepts a JSON integer, or an integral float such as
// model_signing's 1000000000.0; not a string.
func parseShardSize(s string) (int64, error) {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, formatErr("shard_size %s is not a number", truncate(s))
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 {
			return 0, formatErr("shard_size %d is not positive", n)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f <= 0 || f > 1<<53 {
		return 0, formatErr("shard_size %s is not a positive whole number of bytes", truncate(s))
	}
	return int64(f), nil
}

func parseResource(i int, r rawResource, ser *Serialization) (Resource, error) {
	if r.Name == nil || r.Algorithm == nil || r.Digest == nil {
		return Resource{}, formatErr("resource %d needs name, algorithm and digest", i)
	}
	name := *r.Name
	if len(name) > MaxNameLength+48 {
		return Resource{}, formatErr("resource %d name is %d bytes long, more than the limit", i, len(name))
	}
	file := name
	if ser.Method == MethodShards {
		f, _, _, err := ParseShardName(name)
		if err != nil {
			return Resource{}, err
		}
		file = f
	}
	if !ValidName(file) {
		return Resource{}, formatErr("resource name %q is not a clean path inside the model", truncate(name))
	}
	alg := *r.Algorithm
	if alg != string(ser.HashType) && !(ser.Method == MethodShards && alg == ShardAlgorithm(ser.HashType, ser.ShardSize)) {
		return Resource{}, formatErr("resource %q has algorithm %q, but the serialization says %s", truncate(name), truncate(alg), ser.HashType)
	}
	d, err := hex.DecodeString(*r.Digest)
	if err != nil || len(d) != ser.HashType.Size() {
		return Resource{}, formatErr("resource %q digest is not %d hex digits of %s", truncate(name), 2*ser.HashType.Size(), ser.HashType)
	}
	return Resource{Name: name, Algorithm: alg, Digest: d}, nil
}

// parseLegacy reads model_signing v0.2.0's statement: one subject per file,
// SHA-256 digests, no serialization block and no root digest.
func parseLegacy(raw *rawStatement) (*Manifest, error) {
	if len(raw.Subject) == 0 {
		return nil, formatErr("legacy statement has no subjects")
	}
	if len(raw.Subject) > MaxResources {
		return nil, formatErr("legacy statement has %d subjects, more than the limit of %d", len(raw.Subject), MaxResources)
	}
	m := &Manifest{
		ModelName:     "",
		Legacy:        true,
		Serialization: Serialization{Method: MethodFiles, HashType: hashing.SHA256},
		Resources:     make([]Resource, len(raw.Subject)),
	}
	seen := map[string]bool{}
	for i, s := range raw.Subject {
		if !ValidName(s.Name) {
			return nil, formatErr("legacy subject name %q is not a clean path inside the model", truncate(s.Name))
		}
		if seen[s.Name] {
			return nil, formatErr("legacy subject %q is listed twice", s.Name)
		}
		seen[s.Name] = true
		d, err := hex.DecodeString(s.Digest["sha256"])
		if err != nil || len(d) != 32 {
			return nil, formatErr("legacy subject %q has no 64-hex-digit sha256 digest", truncate(s.Name))
		}
		m.Resources[i] = Resource{Name: s.Name, Algorithm: "sha256", Digest: d}
	}
	return m, nil
}

// truncate keeps hostile strings short in error messages.
func truncate(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
