// Package gate decides whether a model pushed to the aigis registry may be
// served. It runs the same engine as the CLI over every layer of an OCI
// model artifact (scan verdicts, OMS signature, AI-BOM, dependencies,
// licences) and hands the results, as one documented JSON document, to a
// policy. It reads blobs only through the BlobSource it is given and never
// executes what it reads.
//
// The registry server calls Run from its gate workers; Run must be
// idempotent (a job may be delivered twice) and never fail open: a gate it
// cannot complete is a failed gate.
//
// How: the layers are unpacked, within Limits, into a private temporary
// directory the gate owns and removes (a tar layer's members where the
// tar puts them, a raw layer at its org.cncf.model.filepath or
// org.opencontainers.image.title), exactly as `aigis registry pull`,
// modctl, kit or oras would write them. The unchanged verbs then run over
// that directory: the scan engine (directory analysers and neighbours
// included, so a file is judged as `aigis scan` judges it after a pull),
// verify (the OMS bundle against every file), bom (CycloneDX 1.6, with the
// scan's artifacts) and deps. Nothing in the directory is executed.
package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"time"
)

// Version identifies the gates and policy that produced a Result; it is
// recorded with every version so results can be re-run when it changes.
const Version = "gate/1"

// BlobSource reads the blobs of the artifact being gated, verified against
// their digests by the caller: the layers and config of the manifest, the
// layers of its referrers (an attached OMS bundle), and, for an index, the
// manifests it lists. The gate never closes what Open returns: the caller
// releases it once Run has returned.
type BlobSource interface {
	Open(ctx context.Context, digest string) (io.ReaderAt, int64, error)
}

// Artifact is one pushed manifest and what refers to it.
type Artifact struct {
	Repository string // namespace/name
	Digest     string // manifest digest
	MediaType  string
	Manifest   []byte // the manifest as pushed
	// Referrers are the manifests whose subject is this one (signatures,
	// BOMs, approvals), as pushed.
	Referrers [][]byte
	Blobs     BlobSource
	// PushedAt is when the manifest was pushed. It dates the AI-BOM, so
	// that a gate run twice produces the same BOM bytes; zero dates it
	// now.
	PushedAt time.Time
	// ChildReferrers are, for an index, the referrers of each manifest
	// it lists, by digest (an index's own Referrers do not sign its
	// manifests).
	ChildReferrers map[string][][]byte
}

// Config is what an operator configures for a namespace. The zero value is
// the shipped default: the default policy, no trusted signer (so nothing
// verifies and the default policy rejects every version), the default
// licence allowlist, no vulnerability database, the default limits.
type Config struct {
	// Policy is the policy source (CEL, see docs/registry.md); empty
	// means the shipped default, DefaultPolicy.
	Policy string `json:"policy,omitempty"`
	// AutoApprove approves any version whose gates pass the policy,
	// without a person (testing, conformance runs). It never lets a
	// failing gate pass.
	AutoApprove bool `json:"auto_approve,omitempty"`
	// Trust is who may sign models in the namespace.
	Trust Trust `json:"trust"`
	// Licenses is the licence allowlist: SPDX ids or Hugging Face Hub
	// licence slugs, matched case-insensitively; nil means
	// DefaultLicenses. An empty, non-nil list allows none.
	Licenses []string `json:"licenses,omitempty"`
	// OSVDB is the path of the offline OSV database (aigis db import);
	// empty runs the deps checks that need none (names, indexes, pins,
	// model correlations) and says so in the result.
	OSVDB string `json:"osv_db,omitempty"`
	// WorkDir is where the gate unpacks an artifact, in a private
	// directory it removes afterwards; empty means os.TempDir().
	WorkDir string `json:"work_dir,omitempty"`
	// Workers bounds the scan and hashing parallelism (0: every CPU).
	Workers int    `json:"workers,omitempty"`
	Limits  Limits `json:"limits"`
}

// Trust is the signers a namespace accepts. A bundle verifies when one
// entry of the method it was signed with accepts it.
type Trust struct {
	// PublicKeys are PEM public keys (the OMS key method).
	PublicKeys []string `json:"public_keys,omitempty"`
	// Certificates are PEM certificates trusted as anchors of signing
	// certificate chains (the certificate method).
	Certificates []string `json:"certificates,omitempty"`
	// Sigstore are keyless signers, verified offline.
	Sigstore []SigstoreSigner `json:"sigstore,omitempty"`
}

// SigstoreSigner is one Sigstore keyless identity.
type SigstoreSigner struct {
	Identity string `json:"identity"` // the certificate's subject alternative name
	Issuer   string `json:"issuer"`   // the OIDC issuer
	// TrustedRoot is the trusted_root.json of the Sigstore instance (or
	// a client trust configuration that embeds one).
	TrustedRoot string `json:"trusted_root"`
}

// Limits bound one gate run; a zero field takes its default.
type Limits struct {
	ManifestBytes int64 `json:"manifest_bytes,omitempty"` // one manifest (4 MiB)
	ConfigBytes   int64 `json:"config_bytes,omitempty"`   // the config blob (4 MiB)
	BlobBytes     int64 `json:"blob_bytes,omitempty"`     // one blob, and all layers together (256 GiB)
	Layers        int   `json:"layers,omitempty"`         // layers of one manifest (10,000)
	Files         int   `json:"files,omitempty"`          // files and directories unpacked (100,000)
	// UnpackedBytes bounds what the layers unpack to, in total (256 GiB).
	UnpackedBytes  int64 `json:"unpacked_bytes,omitempty"`
	Referrers      int   `json:"referrers,omitempty"`       // referrers read (256)
	Bundles        int   `json:"bundles,omitempty"`         // OMS bundles verified (8)
	IndexManifests int   `json:"index_manifests,omitempty"` // manifests of an index (16)
	// Findings bounds the findings listed per file in the result (the
	// verdict always counts them all) (20).
	Findings int `json:"findings,omitempty"`
	// PolicyCost bounds one policy evaluation, in CEL cost units
	// (1,000,000).
	PolicyCost uint64 `json:"policy_cost,omitempty"`
}

// DefaultLimits are the bounds a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{
		ManifestBytes:  4 << 20,
		ConfigBytes:    4 << 20,
		BlobBytes:      256 << 30,
		Layers:         10_000,
		Files:          100_000,
		UnpackedBytes:  256 << 30,
		Referrers:      256,
		Bundles:        8,
		IndexManifests: 16,
		Findings:       20,
		PolicyCost:     1_000_000,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	pick := func(v, def int64) int64 {
		if v > 0 {
			return v
		}
		return def
	}
	pickI := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	l.ManifestBytes = pick(l.ManifestBytes, d.ManifestBytes)
	l.ConfigBytes = pick(l.ConfigBytes, d.ConfigBytes)
	l.BlobBytes = pick(l.BlobBytes, d.BlobBytes)
	l.UnpackedBytes = pick(l.UnpackedBytes, d.UnpackedBytes)
	l.Layers = pickI(l.Layers, d.Layers)
	l.Files = pickI(l.Files, d.Files)
	l.Referrers = pickI(l.Referrers, d.Referrers)
	l.Bundles = pickI(l.Bundles, d.Bundles)
	l.IndexManifests = pickI(l.IndexManifests, d.IndexManifests)
	l.Findings = pickI(l.Findings, d.Findings)
	if l.PolicyCost == 0 {
		l.PolicyCost = d.PolicyCost
	}
	return l
}

// Fixed bounds of what the result lists.
const (
	maxAnnotations     = 1024
	maxAnnotationBytes = 1 << 20
	maxPathBytes       = 4096
	maxMetaBytes       = 1024
	maxMetaList        = 64
	maxMessageBytes    = 2048
	maxListed          = 100 // names listed per signature problem kind
)

// Result is what the gates found and what the policy decided. Its JSON is
// the policy's input (Input, flattened) plus the decision; docs/registry.md
// documents every field. The same Artifact and Config give the same
// Result, byte for byte once encoded.
type Result struct {
	// Version is the gate version (Version) that produced the result.
	Version string `json:"version"`
	Input
	// Allowed is the decision: the policy allowed the version and no gate
	// failed to run (Errors is empty).
	Allowed bool `json:"allowed"`
	// Reasons say why a version is not allowed: every error, then every
	// reason the policy gave. Empty when allowed.
	Reasons []string `json:"reasons,omitempty"`
	// AutoApproved is true when the version is allowed and the namespace
	// auto-approves; an allowed version that is not auto-approved waits
	// for a person.
	AutoApproved bool `json:"auto_approved"`
	// Policy names the policy that decided.
	Policy PolicyInfo `json:"policy"`
	// Manifests are, for an index, the results of the manifests it
	// lists; the index is allowed when every one of them is.
	Manifests []*Result `json:"manifests,omitempty"`
	// BOM is the CycloneDX 1.6 JSON AI-BOM of the artifact, for the
	// server to push as a referrer (Input.BOM describes it). It is not
	// part of the result's JSON.
	BOM []byte `json:"-"`
}

// PolicyInfo names the policy that decided.
type PolicyInfo struct {
	// Source is "default" (DefaultPolicy) or "namespace".
	Source string `json:"source"`
	// SHA256 is the hex SHA-256 of the policy text.
	SHA256 string `json:"sha256"`
}

// errCanceled marks a run stopped by its context: Run returns it as an
// error (the job is retried), never as a failed gate.
var errCanceled = errors.New("gate run canceled")

// Run gates one artifact. It returns an error only when ctx ends before
// the gate is done (the server retries the job); every other problem is a
// failed gate, with its reason in the Result.
func Run(ctx context.Context, a Artifact, cfg Config) (*Result, error) {
	cfg.Limits = cfg.Limits.withDefaults()
	res := runGates(ctx, a, cfg, 0)
	if err := ctx.Err(); err != nil {
		return nil, errors.Join(errCanceled, err)
	}
	return res, nil
}

func policyInfo(cfg Config) PolicyInfo {
	src, text := "default", DefaultPolicy
	if cfg.Policy != "" {
		src, text = "namespace", cfg.Policy
	}
	sum := sha256.Sum256([]byte(text))
	return PolicyInfo{Source: src, SHA256: hex.EncodeToString(sum[:])}
}
